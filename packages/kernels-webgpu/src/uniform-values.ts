// Per-call sizes and scalars of a dispatch, written into a kernel's uniform block in declaration order.

/** A uniform field: a plain number is a u32; f32 and i32 fields are tagged. */
export type UniformValue = number | { readonly f32: number } | { readonly i32: number };

export function f32(v: number): UniformValue {
  return { f32: v };
}

export function i32(v: number): UniformValue {
  return { i32: v };
}

/** Bytes reserved per uniform block: 16 four-byte fields, enough for every kernel here. */
export const UNIFORM_BLOCK_BYTES = 64;

/** Writes `values` at `offset` of `view` (little-endian, 4 bytes each). */
export function writeUniforms(view: DataView, offset: number, values: readonly UniformValue[]): void {
  if (values.length * 4 > UNIFORM_BLOCK_BYTES) throw new RangeError(`uniform block of ${values.length} fields exceeds ${UNIFORM_BLOCK_BYTES / 4}`);
  values.forEach((v, i) => {
    const at = offset + i * 4;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uniform field ${i} = ${v} is not a u32`);
      view.setUint32(at, v, true);
    } else if ('f32' in v) {
      view.setFloat32(at, v.f32, true);
    } else {
      if (!Number.isInteger(v.i32) || v.i32 < -0x80000000 || v.i32 > 0x7fffffff) throw new RangeError(`uniform field ${i} = ${v.i32} is not an i32`);
      view.setInt32(at, v.i32, true);
    }
  });
}
