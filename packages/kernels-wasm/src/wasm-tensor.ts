// A tensor of the wasm backend: a block of the backend's WebAssembly memory (address and byte length), row-major
// except 16-bit weight matrices, which may be stored in the rows4 layout (see rows4).
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
    /**
     * A 16-bit weight matrix stored in the rows4 layout (assembly/weight-layout.ts: four rows interleaved in blocks
     * of eight columns) rather than row-major; the kernels that take weights read both, read() returns row-major.
     */
    readonly rows4 = false,
  ) {
    this.ptr = ptr;
  }
}
