// Host-memory tensor of the CPU backend: a shape plus a typed array view, row-major.
import type { DType, Shape, Tensor } from '@shadowkv/core';

export class CpuTensor implements Tensor {
  readonly backend = 'cpu';
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly data: Float32Array | Int32Array,
  ) {}
}

export function f32(t: Tensor): Float32Array {
  const d = (t as CpuTensor).data;
  if (!(d instanceof Float32Array)) throw new TypeError(`expected an f32 cpu tensor, got ${t.dtype} on ${t.backend}`);
  return d;
}

export function i32(t: Tensor): Int32Array {
  const d = (t as CpuTensor).data;
  if (!(d instanceof Int32Array)) throw new TypeError(`expected an i32 cpu tensor, got ${t.dtype} on ${t.backend}`);
  return d;
}
