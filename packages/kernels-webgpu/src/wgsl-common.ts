// WGSL snippets shared by several kernels.

/** Linear invocation index over a 2-D dispatch grid (x wraps at num_workgroups.x). */
export const LINEAR_INDEX = `fn linearIndex(gid: vec3<u32>, nwg: vec3<u32>, wgSize: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wgSize;
}`;

/** Linear workgroup index over a 2-D dispatch grid. */
export const LINEAR_WORKGROUP_INDEX = `fn linearWorkgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}`;

/**
 * The chunk index math of gatherChunks and scatterChunks, which move chunks between a packed tensor
 * [nKv, nSel*chunkSize, d] and a chunked one [nKv, rows, d] (rows per KV head). `chunkRow(packedRow, ...)`
 * maps token row g*nSel*chunkSize + s*chunkSize + j of the packed side to row g*rows + idx[g, s]*chunkSize + j
 * of the chunked side, or to NO_ROW when idx[g, s] is not a whole chunk of `rows` (possible only for ids
 * computed on the GPU, which the host cannot check). The module must declare `idx: array<i32>` [nKv, nSel].
 */
export const CHUNK_ROW = `const NO_ROW = 0xffffffffu;
fn chunkRow(packedRow: u32, nSel: u32, chunkSize: u32, rows: u32) -> u32 {
  let j = packedRow % chunkSize;
  let s = (packedRow / chunkSize) % nSel;
  let g = packedRow / (chunkSize * nSel);
  let c = idx[g * nSel + s];
  if (c < 0 || (u32(c) + 1u) * chunkSize > rows) { return NO_ROW; }
  return g * rows + u32(c) * chunkSize + j;
}`;

/** A finite stand-in for -infinity: WGSL has no infinity literal and exp(-1e30 - x) is exactly 0. */
export const NEG_BIG = '-1.0e30';

/** Writes the f32 nearest to `v` as an exact WGSL constant expression (a bit pattern, no decimal rounding). */
export function f32Literal(v: number): string {
  const bits = new Uint32Array(new Float32Array([v]).buffer)[0];
  return `bitcast<f32>(0x${bits.toString(16).padStart(8, '0')}u)`;
}

// UNROLL_NOTE: why some kernels carry loop bounds in their uniform block that are really compile-time
// constants. LLVM (lavapipe's compiler) fully unrolls short constant-bound loops, and unrolled loops of
// per-invocation gathers compile 5-20x slower (measured: 26 s vs 2 s for decode attention, 2.5 s vs
// 0.5 s for topK). A bound read from a uniform keeps the loop rolled; on real GPUs the cost is negligible.

/**
 * WGSL statements that reduce `arr[0..size)` (size a square: 64 or 256) and declare `var result` with the
 * answer in every invocation. Two barriers instead of log2(size), since lavapipe compiles each barrier as
 * a coroutine suspend point. `groups` is a WGSL expression equal to sqrt(size) read from the uniform
 * block (see UNROLL_NOTE). The caller must have written every slot and passed a barrier, every
 * invocation must reach this code, and the caller needs a barrier before writing `arr` again.
 */
export function workgroupReduce(arr: string, lid: string, size: number, groups: string, result: string, combine: (a: string, b: string) => string): string {
  const g = Math.round(Math.sqrt(size));
  if (g * g !== size) throw new RangeError(`workgroupReduce needs a square size, got ${size}`);
  return `if (${lid} < ${g}u) {
    var part = ${arr}[${lid} * ${g}u];
    for (var i = 1u; i < ${groups}; i = i + 1u) { part = ${combine('part', `${arr}[${lid} * ${g}u + i]`)}; }
    ${arr}[${lid} * ${g}u] = part;
  }
  workgroupBarrier();
  var ${result} = ${arr}[0];
  for (var i = 1u; i < ${groups}; i = i + 1u) { ${result} = ${combine(result, `${arr}[i * ${g}u]`)}; }`;
}

/**
 * WGSL declarations for kernels that read head rows as vec4 when headDim % 4 == 0 (one 16-byte load
 * instead of four; lavapipe turns per-lane loads into gathers, so this roughly halves their count) and as
 * f32 otherwise: `V` is the element type, `DV` the number of V per head row, `vdot` their dot product and
 * `vsum` the sum of a V's lanes.
 */
export function headVectorDecls(headDim: number, vec4: boolean): string {
  return vec4
    ? `alias V = vec4<f32>;
const DV = ${headDim / 4}u;
fn vdot(a: V, b: V) -> f32 { return dot(a, b); }`
    : `alias V = f32;
const DV = ${headDim}u;
fn vdot(a: V, b: V) -> f32 { return a * b; }`;
}

/**
 * WGSL statements storing V `value` into f32 array `target` from f32 index `base` on, lane by lane with
 * constant lane indices: a loop with a dynamic lane index makes lavapipe's compile 10-30x slower.
 */
export function storeV(target: string, base: string, value: string, vec4: boolean): string {
  if (!vec4) return `${target}[${base}] = ${value};`;
  return ['x', 'y', 'z', 'w'].map((lane, i) => `${target}[${base} + ${i}u] = (${value}).${lane};`).join(' ');
}

/** Lanes per V in headVectorDecls. */
export function vectorWidth(vec4: boolean): number {
  return vec4 ? 4 : 1;
}
