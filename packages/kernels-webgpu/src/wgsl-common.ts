// WGSL snippets shared by several kernels.
import { LINEAR_WORKGROUP } from './gpu-constants.js';

/** Linear invocation index over a 2-D dispatch grid (x wraps at num_workgroups.x). */
export const LINEAR_INDEX = `fn linearIndex(gid: vec3<u32>, nwg: vec3<u32>, wgSize: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wgSize;
}`;

/** Linear workgroup index over a 2-D dispatch grid. */
export const LINEAR_WORKGROUP_INDEX = `fn linearWorkgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}`;

/**
 * The entry point of a kernel with one invocation per element: WGSL statements `body` run with `index`
 * (default `i`) the linear invocation index, for index < `count` (a WGSL expression, default `p.total`).
 * The grid is 2-D with LINEAR_WORKGROUP-wide workgroups, as GpuContext.linearGrid sizes it.
 */
export function linearMain(body: string, opts: { index?: string; count?: string } = {}): string {
  const i = opts.index ?? 'i';
  return `${LINEAR_INDEX}
@compute @workgroup_size(${LINEAR_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let ${i} = linearIndex(gid, nwg, ${LINEAR_WORKGROUP}u);
  if (${i} >= ${opts.count ?? 'p.total'}) { return; }${body}}`;
}

/**
 * The entry point of a kernel with one workgroup of `size` invocations per row: WGSL statements `body` run
 * with `row` (the variable's name, default `row`) the linear workgroup index, for row < p.rows, and `lid`
 * the local invocation index. The early return is uniform (one row per workgroup), so the body may use barriers.
 */
export function workgroupPerRowMain(size: number, body: string, opts: { row?: string } = {}): string {
  const row = opts.row ?? 'row';
  return `${LINEAR_WORKGROUP_INDEX}
@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let ${row} = linearWorkgroup(wid, nwg);
  if (${row} >= p.rows) { return; }${body}}`;
}

/**
 * The chunk index math of the sparse ops (gatherChunks, scatterChunks, rebuildKeys), which lay the selected
 * chunks of each KV head out packed, [nKv, nSel*chunkSize, ...]: `selectedChunk(packedRow)` says that packed
 * token row g*nSel*chunkSize + s*chunkSize + j holds row j of chunk c = idx[g, s] of KV head g. Needs the
 * module's uniform block `p` with nSel and chunkSize and its chunk ids `idx: array<i32>` [nKv, nSel]; the
 * caller checks c, which is out of range only for ids computed on the GPU (uploaded ids are checked on the host).
 */
export const SELECTED_CHUNK = `struct SelectedChunk { g: u32, c: i32, j: u32 }
fn selectedChunk(packedRow: u32) -> SelectedChunk {
  let s = (packedRow / p.chunkSize) % p.nSel;
  let g = packedRow / (p.chunkSize * p.nSel);
  return SelectedChunk(g, idx[g * p.nSel + s], packedRow % p.chunkSize);
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
