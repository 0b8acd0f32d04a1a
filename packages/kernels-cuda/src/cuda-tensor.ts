// A tensor of the cuda backend: device memory (or mapped pinned host memory) at a raw address, plus the side
// stream's event when a side-stream op produced or wrote it and the main stream has not waited for it yet.
import type { DType, Shape, Tensor } from '@shadowkv/core';

/** Where a tensor's bytes live: GPU memory, or page-locked host memory the GPU reads over the bus. */
export type CudaLocation = 'device' | 'pinned';

/** An event recorded on the side stream at the end of a `sideStream()` block. */
export interface SideEvent {
  id: number;
  waited: boolean;
}

export class CudaTensor implements Tensor {
  readonly backend = 'cuda';
  /** 0 once disposed. */
  ptr: number;
  pending: SideEvent | undefined;
  constructor(
    readonly owner: object,
    readonly shape: Shape,
    readonly dtype: DType,
    ptr: number,
    readonly location: CudaLocation,
    readonly bytes: number,
  ) {
    this.ptr = ptr;
  }
}
