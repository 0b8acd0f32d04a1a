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
  /** Fused epilogue: 'add' adds a residual [m, n]; 'swiglu' multiplies in a second weight: silu(x·wᵀ)·(x·w2ᵀ). */
  readonly epilogue?: 'none' | 'add' | 'swiglu';
};

export const GEMV_THREADS = 256;

/** WGSL functions turning one u32 word of two 16-bit weights into two f32 (low half first). */
export function unpackWords(w: WeightType): string {
  if (w === 'f16') return 'fn unpack2(word: u32) -> vec2<f32> { return unpack2x16float(word); }';
  if (w === 'bf16') return 'fn unpack2(word: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u)); }';
  return '';
}

/**
 * A WGSL function `wAt(e)` (or `wAt_<array>` when `array` is given): weight element e (in elements of the
 * weight dtype) of the storage array `array` (default `w`) as f32.
 */
export function weightAt(w: WeightType, array?: string): string {
  const name = array ? `wAt_${array}` : 'wAt';
  const a = array ?? 'w';
  if (w === 'f32') return `fn ${name}(e: u32) -> f32 { return ${a}[e]; }`;
  return `${array && array !== 'w' ? '' : `${unpackWords(w)}\n`}fn ${name}(e: u32) -> f32 { let pair = unpack2(${a}[e >> 1u]); return select(pair.x, pair.y, (e & 1u) == 1u); }`;
}

export function renderGemv(spec: GemvSpec): string {
  const R = spec.rows;
  const half = spec.w !== 'f32';
  const epi = spec.epilogue ?? 'none';
  const xType = spec.vec ? 'vec4<f32>' : 'f32';
  const wType = spec.vec ? (half ? 'vec4<u32>' : 'vec4<f32>') : half ? 'u32' : 'f32';
  // SwiGLU reads two weights (gate, up) for the same x; the other epilogues one.
  const ws = epi === 'swiglu' ? ['w', 'w2'] : ['w'];
  const accs = epi === 'swiglu' ? ['acc', 'acc2'] : ['acc'];
  const both = (f: (w: string, acc: string) => string) => ws.map((w, i) => f(w, accs[i])).join('\n      ');
  // Accumulate: for each k step, load x once, then each row's weights.
  let loop: string;
  if (spec.vec && !half) {
    loop = `let steps = p.k / 4u;
  let xo = (p.xShift + row * p.k) / 4u;
  for (var c = lid; c < steps; c = c + ${GEMV_THREADS}u) {
    let xv = x[xo + c];
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let wo = (p.wShift + jr[r] * p.k) / 4u + c;
      ${both((w, acc) => `${acc}[r] = ${acc}[r] + dot(xv, ${w}[wo]);`)}
    }
  }`;
  } else if (spec.vec) {
    loop = `let steps = p.k / 8u;
  let xo = (p.xShift + row * p.k) / 4u;
  for (var c = lid; c < steps; c = c + ${GEMV_THREADS}u) {
    let xa = x[xo + 2u * c];
    let xb = x[xo + 2u * c + 1u];
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let wo = (p.wShift + jr[r] * p.k) / 8u + c;
      ${both((w, acc) => `{ let q = ${w}[wo]; ${acc}[r] = ${acc}[r] + dot(xa, vec4<f32>(unpack2(q.x), unpack2(q.y))) + dot(xb, vec4<f32>(unpack2(q.z), unpack2(q.w))); }`)}
    }
  }`;
  } else {
    loop = `let xo = p.xShift + row * p.k;
  for (var c = lid; c < p.k; c = c + ${GEMV_THREADS}u) {
    let xv = x[xo + c];
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let e = p.wShift + jr[r] * p.k + c;
      ${both((w, acc) => `${acc}[r] = ${acc}[r] + xv * wAt_${w}(e);`)}
    }
  }`;
  }
  const A = accs.length;
  // Row r of accumulator a is reduced into red[(a * R + r) * slots ...].
  const slots = spec.subgroups ? 64 : GEMV_THREADS;
  const sumOf = (a: number) => `sum${a}`;
  const reduce = spec.subgroups
    ? `// Subgroup sums, then one slot per subgroup (subgroups are consecutive invocations of size >= 4).
  for (var r = 0u; r < ${R}u; r = r + 1u) {
    ${accs.map((acc, a) => `let s${a} = subgroupAdd(${acc}[r]);\n    if (sgid == 0u) { red[(${a}u * ${R}u + r) * 64u + lid / sgsize] = s${a}; }`).join('\n    ')}
  }
  workgroupBarrier();
  if (lid < ${R}u) {
    ${accs.map((_, a) => `var ${sumOf(a)} = 0.0;\n    for (var i = 0u; i < ${GEMV_THREADS}u / sgsize; i = i + 1u) { ${sumOf(a)} = ${sumOf(a)} + red[(${a}u * ${R}u + lid) * 64u + i]; }`).join('\n    ')}
    STORE
  }`
    : `for (var r = 0u; r < ${R}u; r = r + 1u) {
    ${accs.map((acc, a) => `red[(${a}u * ${R}u + r) * ${GEMV_THREADS}u + lid] = ${acc}[r];`).join('\n    ')}
  }
  workgroupBarrier();
  // 16 sums of 16 per row, then the row's 16 (two barriers instead of log2(256); see workgroupReduce).
  if (lid < ${A * R * 16}u) {
    let base = (lid / 16u) * ${GEMV_THREADS}u + (lid % 16u) * 16u;
    var s = 0.0;
    for (var i = 0u; i < 16u; i = i + 1u) { s = s + red[base + i]; }
    red[base] = s;
  }
  workgroupBarrier();
  if (lid < ${R}u) {
    ${accs.map((_, a) => `var ${sumOf(a)} = 0.0;\n    for (var i = 0u; i < 16u; i = i + 1u) { ${sumOf(a)} = ${sumOf(a)} + red[(${a}u * ${R}u + lid) * ${GEMV_THREADS}u + i * 16u]; }`).join('\n    ')}
    STORE
  }`;
  const o = 'p.outShift + row * p.n + p.nOffset + j0 + lid';
  const value = epi === 'add' ? `sum0 + res[${o}]` : epi === 'swiglu' ? 'sum0 / (1.0 + exp(-sum0)) * sum1' : 'sum0';
  const store = `if (j0 + lid < p.nPart) { out[${o}] = ${value}; }`;
  const bindings =
    epi === 'add'
      ? `@group(0) @binding(1) var<storage, read> x: array<${xType}>;     // [m, k]
@group(0) @binding(2) var<storage, read> w: array<${wType}>;     // [nPart, k]
@group(0) @binding(3) var<storage, read> res: array<f32>;        // [m, n], bound like out
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // [m, n]`
      : epi === 'swiglu'
        ? `@group(0) @binding(1) var<storage, read> x: array<${xType}>;     // [m, k]
@group(0) @binding(2) var<storage, read> w: array<${wType}>;     // gate [nPart, k]
@group(0) @binding(3) var<storage, read> w2: array<${wType}>;    // up [nPart, k]
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // [m, n]`
        : `@group(0) @binding(1) var<storage, read> x: array<${xType}>;     // [m, k]
@group(0) @binding(2) var<storage, read> w: array<${wType}>;     // [nPart, k]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [m, n]`;
  const helpers = spec.vec ? (half ? unpackWords(spec.w) : '') : ws.map((w) => weightAt(spec.w, w)).join('\n');
  return /* wgsl */ `${spec.subgroups ? 'enable subgroups;\n' : ''}
// wShift and xShift are in elements of their arrays' scalar type (halves for 16-bit weights).
struct Params { m: u32, n: u32, k: u32, nPart: u32, nOffset: u32, xShift: u32, wShift: u32, outShift: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
var<workgroup> red: array<f32, ${A * R * slots}>;
${helpers}
@compute @workgroup_size(${GEMV_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${spec.subgroups ? ',\n        @builtin(subgroup_invocation_id) sgid: u32, @builtin(subgroup_size) sgsize: u32' : ''}) {
  let row = wid.y;
  let j0 = wid.x * ${R}u;
  // Rows past the part repeat its last row (their sums are not stored), so every invocation stays in the loop.
  var jr: array<u32, ${R}>;
  for (var r = 0u; r < ${R}u; r = r + 1u) { jr[r] = min(j0 + r, p.nPart - 1u); }
  ${accs.map((acc) => `var ${acc}: array<f32, ${R}>;`).join('\n  ')}
  ${loop}
  ${reduce.replace('STORE', store)}
}
`;
}

export const gemvKernel = defineKernel<GemvSpec>('gemv', renderGemv);
