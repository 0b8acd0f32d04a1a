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
  /**
   * Fused input RMSNorm: x is multiplied by the norm weight g [k] as it is loaded, its sum of squares is reduced
   * beside the dot products, and the sums are scaled by 1/sqrt(mean(x²) + eps) as they are stored, so the norm
   * costs no launch and no pass over memory of its own.
   */
  readonly norm?: boolean;
  /**
   * 2 or 3: that many weights w0.. of n0, n1, n2 rows (same k and dtype), each with its own output out0..; the
   * workgroups cover their rows one after the other (q, k and v in one launch). No epilogue; x in one binding.
   */
  readonly outputs?: number;
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
  const norm = spec.norm ?? false;
  const outputs = spec.outputs ?? 1;
  const multi = outputs > 1;
  const xType = spec.vec ? 'vec4<f32>' : 'f32';
  const wType = spec.vec ? (half ? 'vec4<u32>' : 'vec4<f32>') : half ? 'u32' : 'f32';
  // SwiGLU reads two weights (gate, up) for the same x; several outputs one weight per branch; else one.
  const allWs = multi ? Array.from({ length: outputs }, (_, i) => `w${i}`) : epi === 'swiglu' ? ['w', 'w2'] : ['w'];
  const accs = epi === 'swiglu' ? ['acc', 'acc2'] : ['acc'];
  // x loads: with the fused norm, scaled by g as loaded and their squares summed into ss.
  const loadX = (name: string, at: string, gAt: string, sq: (v: string) => string) =>
    norm ? `let ${name}r = x[${at}];\n    let ${name} = ${name}r * g[${gAt}];\n    ss = ss + ${sq(`${name}r`)};` : `let ${name} = x[${at}];`;
  // Accumulate: for each k step, load x once, then each row's weights.
  const loopOf = (ws: string[]): string => {
    const both = (f: (w: string, acc: string) => string) => ws.map((w, i) => f(w, accs[i])).join('\n      ');
    if (spec.vec && !half) {
      return `let steps = p.k / 4u;
  let xo = (p.xShift + row * p.k) / 4u;
  for (var c = lid; c < steps; c = c + ${GEMV_THREADS}u) {
    ${loadX('xv', 'xo + c', 'c', (v) => `dot(${v}, ${v})`)}
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let wo = (p.wShift + jr[r] * p.k) / 4u + c;
      ${both((w, acc) => `${acc}[r] = ${acc}[r] + dot(xv, ${w}[wo]);`)}
    }
  }`;
    }
    if (spec.vec) {
      return `let steps = p.k / 8u;
  let xo = (p.xShift + row * p.k) / 4u;
  for (var c = lid; c < steps; c = c + ${GEMV_THREADS}u) {
    ${loadX('xa', 'xo + 2u * c', '2u * c', (v) => `dot(${v}, ${v})`)}
    ${loadX('xb', 'xo + 2u * c + 1u', '2u * c + 1u', (v) => `dot(${v}, ${v})`)}
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let wo = (p.wShift + jr[r] * p.k) / 8u + c;
      ${both((w, acc) => `{ let q = ${w}[wo]; ${acc}[r] = ${acc}[r] + dot(xa, vec4<f32>(unpack2(q.x), unpack2(q.y))) + dot(xb, vec4<f32>(unpack2(q.z), unpack2(q.w))); }`)}
    }
  }`;
    }
    return `let xo = p.xShift + row * p.k;
  for (var c = lid; c < p.k; c = c + ${GEMV_THREADS}u) {
    ${loadX('xv', 'xo + c', 'c', (v) => `${v} * ${v}`)}
    for (var r = 0u; r < ${R}u; r = r + 1u) {
      let e = p.wShift + jr[r] * p.k + c;
      ${both((w, acc) => `${acc}[r] = ${acc}[r] + xv * wAt_${w}(e);`)}
    }
  }`;
  };
  // One branch per weight when there are several outputs (the branch is uniform: it depends on the workgroup).
  const loop = multi ? allWs.map((w, i) => `${i === 0 ? '' : ' else '}if (part == ${i}u) {\n  ${loopOf([w])}\n  }`).join('') : loopOf(allWs);
  const A = accs.length;
  // Row r of accumulator a is reduced into red[(a * R + r) * slots ...]; the norm's sum of squares into redS.
  const slots = spec.subgroups ? 64 : GEMV_THREADS;
  const sumOf = (a: number) => `sum${a}`;
  const ssSave = !norm ? '' : spec.subgroups ? `let sss = subgroupAdd(ss);\n  if (sgid == 0u) { redS[lid / sgsize] = sss; }` : 'redS[lid] = ss;';
  const ssSum = !norm
    ? ''
    : `var ssum = 0.0;
    for (var i = 0u; i < ${spec.subgroups ? `${GEMV_THREADS}u / sgsize` : `${GEMV_THREADS}u`}; i = i + 1u) { ssum = ssum + redS[i]; }
    let inv = inverseSqrt(ssum / f32(p.k) + p.eps);`;
  const reduce = spec.subgroups
    ? `// Subgroup sums, then one slot per subgroup (subgroups are consecutive invocations of size >= 4).
  for (var r = 0u; r < ${R}u; r = r + 1u) {
    ${accs.map((acc, a) => `let s${a} = subgroupAdd(${acc}[r]);\n    if (sgid == 0u) { red[(${a}u * ${R}u + r) * 64u + lid / sgsize] = s${a}; }`).join('\n    ')}
  }
  ${ssSave}
  workgroupBarrier();
  if (lid < ${R}u) {
    ${accs.map((_, a) => `var ${sumOf(a)} = 0.0;\n    for (var i = 0u; i < ${GEMV_THREADS}u / sgsize; i = i + 1u) { ${sumOf(a)} = ${sumOf(a)} + red[(${a}u * ${R}u + lid) * 64u + i]; }`).join('\n    ')}
    ${ssSum}
    STORE
  }`
    : `for (var r = 0u; r < ${R}u; r = r + 1u) {
    ${accs.map((acc, a) => `red[(${a}u * ${R}u + r) * ${GEMV_THREADS}u + lid] = ${acc}[r];`).join('\n    ')}
  }
  ${ssSave}
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
    ${ssSum}
    STORE
  }`;
  const scaled = (a: number) => (norm ? `(sum${a} * inv)` : `sum${a}`);
  let store: string;
  if (multi) {
    const ns = ['p.nPart', 'p.n1', 'p.n2'];
    store = `if (j0 + lid < nP) {
      ${allWs.map((_, i) => `${i === 0 ? '' : ' else '}if (part == ${i}u) { out${i}[row * ${ns[i]} + j0 + lid] = ${scaled(0)}; }`).join('')}
    }`;
  } else {
    const o = 'p.outShift + row * p.n + p.nOffset + j0 + lid';
    const value = epi === 'add' ? `${scaled(0)} + res[${o}]` : epi === 'swiglu' ? `${scaled(0)} / (1.0 + exp(-${scaled(0)})) * ${scaled(1)}` : scaled(0);
    store = `if (j0 + lid < p.nPart) { out[${o}] = ${value}; }`;
  }
  let b = 1;
  const bind = (decl: string, comment: string) => `@group(0) @binding(${b++}) ${decl}; // ${comment}`;
  const bindings = [
    bind(`var<storage, read> x: array<${xType}>`, '[m, k]'),
    ...(norm ? [bind(`var<storage, read> g: array<${xType}>`, 'the norm weight [k]')] : []),
    ...allWs.map((w, i) => bind(`var<storage, read> ${w}: array<${wType}>`, multi ? `[n${i}, k]` : epi === 'swiglu' ? (i ? 'up [nPart, k]' : 'gate [nPart, k]') : '[nPart, k]')),
    ...(epi === 'add' ? [bind('var<storage, read> res: array<f32>', '[m, n], bound like out')] : []),
    ...(multi ? allWs.map((_, i) => bind(`var<storage, read_write> out${i}: array<f32>`, `[m, n${i}]`)) : [bind('var<storage, read_write> out: array<f32>', '[m, n]')]),
  ].join('\n');
  const helpers = spec.vec ? (half ? unpackWords(spec.w) : '') : half ? `${unpackWords(spec.w)}\n${allWs.map((w) => weightAt(spec.w, w).replace(unpackWords(spec.w), '')).join('\n')}` : allWs.map((w) => weightAt(spec.w, w)).join('\n');
  // Which weight a workgroup works on (several outputs): the first ceil(n0/R) workgroups w0, then w1, w2.
  const partOf = multi
    ? `let g0 = (p.nPart + ${R - 1}u) / ${R}u;
  let g1 = (p.n1 + ${R - 1}u) / ${R}u;
  var part = 0u;
  var first = 0u;
  var nP = p.nPart;
  if (wid.x >= g0) { part = 1u; first = g0; nP = p.n1; }
  if (${outputs > 2 ? 'wid.x >= g0 + g1' : 'false'}) { part = 2u; first = g0 + g1; nP = p.n2; }
  let j0 = (wid.x - first) * ${R}u;`
    : `let nP = p.nPart;
  let j0 = wid.x * ${R}u;`;
  return /* wgsl */ `${spec.subgroups ? 'enable subgroups;\n' : ''}
// wShift and xShift are in elements of their arrays' scalar type (halves for 16-bit weights).
struct Params { m: u32, n: u32, k: u32, nPart: u32, nOffset: u32, xShift: u32, wShift: u32, outShift: u32${norm ? ', eps: f32' : ''}${multi ? ', n1: u32, n2: u32' : ''} }
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
var<workgroup> red: array<f32, ${A * R * slots}>;
${norm ? `var<workgroup> redS: array<f32, ${slots}>;` : ''}
${helpers}
@compute @workgroup_size(${GEMV_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${spec.subgroups ? ',\n        @builtin(subgroup_invocation_id) sgid: u32, @builtin(subgroup_size) sgsize: u32' : ''}) {
  let row = wid.y;
  ${partOf}
  // Rows past the part repeat its last row (their sums are not stored), so every invocation stays in the loop.
  var jr: array<u32, ${R}>;
  for (var r = 0u; r < ${R}u; r = r + 1u) { jr[r] = min(j0 + r, nP - 1u); }
  ${accs.map((acc) => `var ${acc}: array<f32, ${R}>;`).join('\n  ')}
  ${norm ? 'var ss = 0.0;' : ''}
  ${loop}
  ${reduce.replace('STORE', store)}
}
`;
}

export const gemvKernel = defineKernel<GemvSpec>('gemv', renderGemv);
