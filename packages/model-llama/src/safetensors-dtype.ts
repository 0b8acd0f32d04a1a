// Safetensors dtype sizes, and the float conversions between F32 and the 16-bit storage formats (from core).
// Typed-array views assume a little-endian host (as safetensors files are little-endian).

/** Bytes per element of every fixed-width safetensors dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** Dtypes readF32 widens to float32. */
export const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

// The conversions themselves live in @shadowkv/core (backends that keep 16-bit weights use them too).
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32ToF16Bits } from '@shadowkv/core';
