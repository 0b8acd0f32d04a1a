// WGSL of the matrix-vector path (decode, m <= GEMV_MAX_ROWS): 8 output columns per workgroup, 32
// invocations reducing each dot product along k, optionally with vec4 loads when k is a multiple of 4.
import { defineKernel } from '../kernel-def.js';

export type GemvSpec = { readonly vec4: boolean };

/** Output columns per workgroup. */
export const GEMV_COLUMNS = 8;

export function renderGemv(spec: GemvSpec): string {
  const t = spec.vec4 ? 'vec4<f32>' : 'f32';
  const body = spec.vec4
    ? `var s4 = vec4<f32>(0.0);
    let xo = (p.xShift + row * p.k) / 4u;
    let wo = (p.wShift + j * p.k) / 4u;
    for (var c = lid.x; c < p.k / 4u; c = c + 32u) { s4 = s4 + x[xo + c] * w[wo + c]; }
    s = (s4.x + s4.y) + (s4.z + s4.w);`
    : `let xo = p.xShift + row * p.k;
    let wo = p.wShift + j * p.k;
    for (var c = lid.x; c < p.k; c = c + 32u) { s = s + x[xo + c] * w[wo + c]; }`;
  return /* wgsl */ `
struct Params { m: u32, n: u32, k: u32, nPart: u32, nOffset: u32, xShift: u32, wShift: u32, outShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${t}>;         // [m, k]
@group(0) @binding(2) var<storage, read> w: array<${t}>;         // [nPart, k]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [m, n]
var<workgroup> partial: array<f32, 256>;
@compute @workgroup_size(32, ${GEMV_COLUMNS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x * ${GEMV_COLUMNS}u + lid.y;
  let row = wid.y;
  var s = 0.0;
  if (j < p.nPart) {
    ${body}
  }
  let li = lid.y * 32u + lid.x;
  partial[li] = s;
  workgroupBarrier();
  // Reduce the 32 lanes of each column (slots li..li+31 of row lid.y).
  for (var off = 16u; off > 0u; off = off >> 1u) {
    if (lid.x < off) { partial[li] = partial[li] + partial[li + off]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && j < p.nPart) { out[p.outShift + row * p.n + p.nOffset + j] = partial[li]; }
}
`;
}

export const gemvKernel = defineKernel<GemvSpec>('gemv', renderGemv);
