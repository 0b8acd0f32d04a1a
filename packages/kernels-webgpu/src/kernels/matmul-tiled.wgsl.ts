// WGSL of the tiled matmul (m > GEMV rows): 64x64 output tiles, 16-deep k slices staged in workgroup
// memory, 4x4 outputs per invocation. out[m, n] = x[m, k] · w[n, k]ᵀ for one (m-part, n-part).
// The staged tiles have a row stride of 17 (not 16): invocations reading one k column of 16 consecutive
// rows then hit 16 different memory banks instead of one. 16-bit weights are widened as they are staged.
import { defineKernel } from '../kernel-def.js';
import { weightAt, type WeightType } from './gemv.wgsl.js';

export type MatmulTiledSpec = { readonly w: WeightType };

/** Output rows and columns per workgroup tile. */
export const MATMUL_TILE = 64;

export function renderMatmulTiled(spec: MatmulTiledSpec): string {
  return /* wgsl */ `
// m: rows of this part; n: row stride of out; nPart/nOffset: w rows bound here and their first column in out.
struct Params { m: u32, n: u32, k: u32, nPart: u32, nOffset: u32, xShift: u32, wShift: u32, outShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // [m, k]
@group(0) @binding(2) var<storage, read> w: array<${spec.w === 'f32' ? 'f32' : 'u32'}>;          // [nPart, k] (wShift in its elements)
${weightAt(spec.w)}
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [m, n]
const TK = 16u;
const TS = 17u; // padded row stride of the staged tiles
var<workgroup> xs: array<f32, ${MATMUL_TILE * 17}>;  // [64 rows][TS]
var<workgroup> ws: array<f32, ${MATMUL_TILE * 17}>;  // [64 cols][TS]
fn store(r: u32, c0: u32, acc: vec4<f32>) {
  if (r >= p.m) { return; }
  let o = p.outShift + r * p.n + p.nOffset;
  if (c0 < p.nPart) { out[o + c0] = acc.x; }
  if (c0 + 16u < p.nPart) { out[o + c0 + 16u] = acc.y; }
  if (c0 + 32u < p.nPart) { out[o + c0 + 32u] = acc.z; }
  if (c0 + 48u < p.nPart) { out[o + c0 + 48u] = acc.w; }
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * ${MATMUL_TILE}u;
  let col0 = wid.x * ${MATMUL_TILE}u;
  // Rows lid.y + 16i, columns lid.x + 16j; acc_i holds the four columns of row i.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
    for (var e = 0u; e < 4u; e = e + 1u) {
      let idx = li + e * 256u;
      let r = idx / TK;
      let kk = k0 + idx % TK;
      var xv = 0.0;
      if (row0 + r < p.m && kk < p.k) { xv = x[p.xShift + (row0 + r) * p.k + kk]; }
      xs[r * TS + idx % TK] = xv;
      var wv = 0.0;
      if (col0 + r < p.nPart && kk < p.k) { wv = wAt(p.wShift + (col0 + r) * p.k + kk); }
      ws[r * TS + idx % TK] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk = kk + 1u) {
      let wr = vec4<f32>(ws[lid.x * TS + kk], ws[(lid.x + 16u) * TS + kk], ws[(lid.x + 32u) * TS + kk], ws[(lid.x + 48u) * TS + kk]);
      acc0 = acc0 + xs[lid.y * TS + kk] * wr;
      acc1 = acc1 + xs[(lid.y + 16u) * TS + kk] * wr;
      acc2 = acc2 + xs[(lid.y + 32u) * TS + kk] * wr;
      acc3 = acc3 + xs[(lid.y + 48u) * TS + kk] * wr;
    }
    workgroupBarrier();
  }
  store(row0 + lid.y, col0 + lid.x, acc0);
  store(row0 + lid.y + 16u, col0 + lid.x, acc1);
  store(row0 + lid.y + 32u, col0 + lid.x, acc2);
  store(row0 + lid.y + 48u, col0 + lid.x, acc3);
}
`;
}

export const matmulTiledKernel = defineKernel<MatmulTiledSpec>('matmulTiled', renderMatmulTiled);
