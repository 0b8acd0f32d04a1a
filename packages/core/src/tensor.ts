// Tensor and dtype types shared by all backends. Tensors are opaque handles owned by a backend.

/**
 * Element types. `f32` everywhere; `f16` where a backend offers it; `bf16` for 16-bit weights kept as stored
 * in the checkpoint (only where `capabilities.weightDtypes` lists it); `i32` for ids, positions and indices.
 */
export type DType = 'f32' | 'f16' | 'bf16' | 'i32';

/** Storage dtypes of weights in model files. */
export type WeightDType = 'F32' | 'F16' | 'BF16';

export type Shape = readonly number[];

/**
 * A tensor living in a backend's memory (host arrays for CPU, GPU buffers for WebGPU/CUDA).
 * Row-major, contiguous. Other code must treat it as opaque and use the owning backend to read it.
 */
export interface Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  /** Name of the owning backend; mixing tensors of different backends is an error. */
  readonly backend: string;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
