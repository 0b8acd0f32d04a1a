// A tensor of the gpu.js backend: a flat gpu.js output (a GL texture, or a Float32Array in the cpu and
// webasm modes) holding numel(shape) floats in row-major order. i32 tensors store their integers as floats.
import type { DType, Shape, Tensor } from '@shadowkv/core';

/** A gpu.js pipeline result: a Texture in the GL modes, a plain Float32Array in the cpu/webasm modes. */
export type GpujsData = { toArray(): Float32Array | number[]; delete(): void } | Float32Array;

export class GpujsTensor implements Tensor {
  readonly backend = 'gpujs';

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /** Replaced by in-place ops (writeKv); the owner deletes the old texture. */
    public data: GpujsData,
    /** The backend instance that made it: textures cannot cross GL contexts. */
    readonly owner: object,
  ) {}
}
