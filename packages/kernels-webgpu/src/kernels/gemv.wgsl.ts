// WGSL of the matrix-vector path (decode, m <= GEMV_MAX_ROWS): one workgroup of 256 invocations computes
// `rows` outputs of one x row; the invocations split k, each reading x once for all its rows (16-byte loads
// when k allows: vec4<f32> of f32 weights, vec4<u32> = 8 halves of f16/bf16 weights), then each row's 256
// partial sums are reduced with subgroupAdd when the device has subgroups, else in workgroup memory.
// 16-bit weights are unpacked to f32 (unpack2x16float for f16, a shift for bf16: both core WGSL, so no
// shader-f16 is needed) and everything accumulates in f32.
import { defineKernel } from '../kernel-def.js';

export type WeightType = 'f32' | 'f16' | 'bf16';

export type GemvSpec = {
  readonly w: WeightType;
  /** 16-byte loads: k and the shifts are multiples of the vector width (4 f32 or 8 halves). */
  readonly vec: boolean;
  /** Output rows per workgroup (1, 2, 4 or 8). */
  readonly rows: number;
  readonly subgroups: boolean;
};

export const GEMV_THREADS = 256;

/** WGSL functions turning one u32 word of two 16-bit weights into two f32 (low half first). */
export function unpackWords(w: WeightType): string {
  if (w === 'f16') return 'fn unpack2(word: u32) -> vec2<f32> { return unpack2x16float(word); }';
  if (w === 'bf16') return 'fn unpack2(word: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u)); }';
  return '';
}

/** A WGSL function `wAt(e)`: weight element e (in elements of the weight dtype) of the array `w` as f32. */
export function weightAt(w: WeightType): string {
  if (w === 'f32') return 'fn wAt(e: u32) -> f32 { return w[e]; }';
  return `${unpackWords(w)}
fn wAt(e: u32) -> f32 { let pair = unpack2(w[e >> 1u]); return select(pair.x, pair.y, (e & 1u) == 1u); }`;
}

export function renderGemv(spec: GemvSpec): string {
  const R = spec.rows;
  const half = spec.w !== 'f32';
  const xType = spec.vec ? 'vec4<f32>' : 'f32';
  const wType = spec.vec ? (half ? 'vec4<u32>' : 'vec4<f32>') : half ? 'u32' : 'f32';
  // Accumulate: for each k step, load x once, then each row's weights.
  let loop: string;
  if (spec.vec && !half) {
    loop = `let steps = p.k / 4u;
  let xo = (p.xShift + row * p.k) / 4u;
  for (var c = lid; c < steps; c = c + ${GEMV_THREADS}u) {
    let xv = x[xo + c];
    for (var r = 0u; r < ${R}u; r = r + 1u) { acc[r] = acc[r] + dot(xv, w[(p.wShift + jr[r] * p.k) / 4u + c]); }
  }`;
  } else if (spec.vec) {
    loop = `let steps = p.k / 8u;
  let xo = (p.xShift + row * p.k) / 4u;
  for (var c = lid; c < steps; c = c + ${GEMV_THREADS}u) {
    let xa = x[xo + 2u * c];
    let xb = x[xo + 2u * c + 1u];
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let q = w[(p.wShift + jr[r] * p.k) / 8u + c];
      let wa = vec4<f32>(unpack2(q.x), unpack2(q.y));
      let wb = vec4<f32>(unpack2(q.z), unpack2(q.w));
      acc[r] = acc[r] + dot(xa, wa) + dot(xb, wb);
    }
  }`;
  } else {
    loop = `let xo = p.xShift + row * p.k;
  for (var c = lid; c < p.k; c = c + ${GEMV_THREADS}u) {
    let xv = x[xo + c];
    for (var r = 0u; r < ${R}u; r = r + 1u) { acc[r] = acc[r] + xv * wAt(p.wShift + jr[r] * p.k + c); }
  }`;
  }
  const reduce = spec.subgroups
    ? `// Subgroup sums, then one slot per subgroup (subgroups are consecutive invocations of size >= 4).
  for (var r = 0u; r < ${R}u; r = r + 1u) {
    let s = subgroupAdd(acc[r]);
    if (sgid == 0u) { red[r * 64u + lid / sgsize] = s; }
  }
  workgroupBarrier();
  if (lid < ${R}u) {
    var s = 0.0;
    for (var i = 0u; i < ${GEMV_THREADS}u / sgsize; i = i + 1u) { s = s + red[lid * 64u + i]; }
    if (j0 + lid < p.nPart) { out[p.outShift + row * p.n + p.nOffset + j0 + lid] = s; }
  }`
    : `for (var r = 0u; r < ${R}u; r = r + 1u) { red[r * ${GEMV_THREADS}u + lid] = acc[r]; }
  workgroupBarrier();
  // 16 sums of 16 per row, then the row's 16 (two barriers instead of log2(256); see workgroupReduce).
  if (lid < ${R * 16}u) {
    let base = (lid / 16u) * ${GEMV_THREADS}u + (lid % 16u) * 16u;
    var s = 0.0;
    for (var i = 0u; i < 16u; i = i + 1u) { s = s + red[base + i]; }
    red[base] = s;
  }
  workgroupBarrier();
  if (lid < ${R}u) {
    var s = 0.0;
    for (var i = 0u; i < 16u; i = i + 1u) { s = s + red[lid * ${GEMV_THREADS}u + i * 16u]; }
    if (j0 + lid < p.nPart) { out[p.outShift + row * p.n + p.nOffset + j0 + lid] = s; }
  }`;
  return /* wgsl */ `${spec.subgroups ? 'enable subgroups;\n' : ''}
// wShift and xShift are in elements of their arrays' scalar type (halves for 16-bit weights).
struct Params { m: u32, n: u32, k: u32, nPart: u32, nOffset: u32, xShift: u32, wShift: u32, outShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${xType}>;     // [m, k]
@group(0) @binding(2) var<storage, read> w: array<${wType}>;     // [nPart, k]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [m, n]
var<workgroup> red: array<f32, ${spec.subgroups ? R * 64 : R * GEMV_THREADS}>;
${spec.vec ? (half ? unpackWords(spec.w) : '') : weightAt(spec.w)}
@compute @workgroup_size(${GEMV_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${spec.subgroups ? ',\n        @builtin(subgroup_invocation_id) sgid: u32, @builtin(subgroup_size) sgsize: u32' : ''}) {
  let row = wid.y;
  let j0 = wid.x * ${R}u;
  // Rows past the part repeat its last row (their sums are not stored), so every invocation stays in the loop.
  var jr: array<u32, ${R}>;
  for (var r = 0u; r < ${R}u; r = r + 1u) { jr[r] = min(j0 + r, p.nPart - 1u); }
  var acc: array<f32, ${R}>;
  ${loop}
  ${reduce}
}
`;
}

export const gemvKernel = defineKernel<GemvSpec>('gemv', renderGemv);
