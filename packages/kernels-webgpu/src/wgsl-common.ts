// WGSL snippets shared by several kernels.

/** Linear invocation index over a 2-D dispatch grid (x wraps at num_workgroups.x). */
export const LINEAR_INDEX = `fn linearIndex(gid: vec3<u32>, nwg: vec3<u32>, wgSize: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wgSize;
}`;

/** Linear workgroup index over a 2-D dispatch grid. */
export const LINEAR_WORKGROUP_INDEX = `fn linearWorkgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}`;

/** A finite stand-in for -infinity: WGSL has no infinity literal and exp(-1e30 - x) is exactly 0. */
export const NEG_BIG = '-1.0e30';

/** Writes the f32 nearest to `v` as an exact WGSL constant expression (a bit pattern, no decimal rounding). */
export function f32Literal(v: number): string {
  const bits = new Uint32Array(new Float32Array([v]).buffer)[0];
  return `bitcast<f32>(0x${bits.toString(16).padStart(8, '0')}u)`;
}

/**
 * WGSL statements that reduce `arr[0..size)` (size a square: 64 or 256) and declare `var result` with the
 * answer in every invocation. Two barriers instead of log2(size): lavapipe compiles each barrier as a
 * coroutine suspend point, and fewer of them cut shader compile time several-fold.
 * The caller must have written every slot and passed a barrier, every invocation must reach this code,
 * and the caller needs a barrier before writing `arr` again.
 */
export function workgroupReduce(arr: string, lid: string, size: number, result: string, combine: (a: string, b: string) => string): string {
  const g = Math.round(Math.sqrt(size));
  if (g * g !== size) throw new RangeError(`workgroupReduce needs a square size, got ${size}`);
  return `if (${lid} < ${g}u) {
    var part = ${arr}[${lid} * ${g}u];
    for (var i = 1u; i < ${g}u; i = i + 1u) { part = ${combine('part', `${arr}[${lid} * ${g}u + i]`)}; }
    ${arr}[${lid} * ${g}u] = part;
  }
  workgroupBarrier();
  var ${result} = ${arr}[0];
  for (var i = 1u; i < ${g}u; i = i + 1u) { ${result} = ${combine(result, `${arr}[i * ${g}u]`)}; }`;
}
