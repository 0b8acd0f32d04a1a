// A tensor of the wasm backend: a block of the backend's WebAssembly memory (address and byte length), row-major.
import type { DType, Shape, Tensor } from '@shadowkv/core';

export class WasmTensor implements Tensor {
  readonly backend = 'wasm';
  /** Byte address in the backend's memory; -1 once disposed. */
  ptr: number;
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    ptr: number,
    /** Bytes of data (elements times bytesPerElement). */
    readonly bytes: number,
    /** The backend instance that owns the memory (tensors of another wasm backend are rejected). */
    readonly owner: object,
  ) {
    this.ptr = ptr;
  }
}
