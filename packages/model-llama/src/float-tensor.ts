// Widening one stored tensor's bytes to float32, shared by every WeightSource (files and HTTP).
import { UnsupportedModelError } from '@shadowkv/core';
import { FLOAT_DTYPES, bf16ToF32, f16ToF32 } from './safetensors-dtype.js';
import type { TensorInfo } from './weight-source.js';

/** Throws UnsupportedModelError unless the tensor is F32, F16 or BF16 (checked before any bytes are read). */
export function assertFloatTensor(t: TensorInfo): void {
  if (!FLOAT_DTYPES.includes(t.dtype)) {
    throw new UnsupportedModelError(
      t.file,
      t.name,
      `dtype ${t.dtype} cannot be read as float weights; supported: ${FLOAT_DTYPES.join(', ')} (convert the checkpoint, e.g. save it in bfloat16)`,
    );
  }
}

/** The tensor's stored bytes (`t.byteLength` of them) as float32 values. F32 bytes are viewed, not copied. */
export function floatTensorToF32(t: TensorInfo, bytes: Uint8Array): Float32Array {
  assertFloatTensor(t);
  // Typed-array views need an element-aligned start; a fresh buffer per tensor (the usual case) always is.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (t.dtype === 'F32') return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  return t.dtype === 'BF16' ? bf16ToF32(halves) : f16ToF32(halves);
}
