// Device-memory tensor of the WebGPU backend: a GPU buffer plus shape and dtype, row-major.
import type { DType, Shape, Tensor } from '@shadowkv/core';

export class GpuTensor implements Tensor {
  readonly backend = 'webgpu';
  disposed = false;
  /** @internal Tensors come from the backend's ops and upload(). */
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /**
     * The device buffer (a GPUBuffer; cast to use it with WebGPU's own API). Internal in the published
     * declarations, which do not depend on the WebGPU types (see public-gpu-types.ts).
     * @internal
     */
    readonly buffer: GPUBuffer,
    /** Bytes of data (numel * 4); the buffer may be larger (at least 4 bytes, a multiple of 4). */
    readonly byteLength: number,
    /** Owner token: tensors of another device must not be mixed in. */
    readonly owner: object,
    /**
     * Host copy of small i32 tensors that were uploaded (token ids, positions, chunk indices), so ops
     * can reject out-of-range indices with a ShapeError as the CPU reference does. Absent for tensors
     * computed on the GPU (e.g. topK output): kernels then write zeros for out-of-range indices.
     */
    readonly host?: Int32Array,
  ) {}
}
