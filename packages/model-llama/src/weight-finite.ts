// Refuses checkpoints with NaN/Inf weights at load: one would turn every logit into NaN (greedy decoding then
// emits token 0 forever). The scan is a single pass over data already in memory (about 1 ns per element,
// small next to reading and widening it).
import { ModelFormatError } from '@shadowkv/core';
import type { TensorInfo } from './weight-source.js';

/** Throws ModelFormatError naming the tensor when `data` holds a NaN or an infinity. */
export function checkFiniteWeights(data: Float32Array | Uint16Array | Int32Array, dtype: string, info: TensorInfo): void {
  let bad = -1;
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (x - x !== 0) {
        bad = i;
        break;
      }
    }
  } else if (data instanceof Uint16Array) {
    // Raw 16-bit patterns: exponent bits all ones is Inf or NaN (f16: 0x7c00, bf16: 0x7f80).
    const mask = dtype === 'bf16' ? 0x7f80 : 0x7c00;
    for (let i = 0; i < data.length; i++) {
      if ((data[i] & mask) === mask) {
        bad = i;
        break;
      }
    }
  }
  if (bad >= 0) {
    throw new ModelFormatError(
      info.file,
      info.name,
      `holds a non-finite value (NaN or Inf) at element ${bad}; every output of the model would be NaN. The checkpoint is corrupt: re-download or re-convert it`,
    );
  }
}
