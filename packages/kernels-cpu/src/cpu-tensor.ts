// Host-memory tensor of the CPU backend: a shape plus a typed array view, row-major.
// f32 and i32 tensors hold Float32Array / Int32Array; 16-bit weights (f16, bf16) hold their raw bits in a Uint16Array.
import type { DType, Shape, Tensor } from '@shadowkv/core';

export class CpuTensor implements Tensor {
  readonly backend = 'cpu';
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly data: Float32Array | Int32Array | Uint16Array,
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

/** The raw bits of a 16-bit weight tensor (f16 or bf16), or null for any other tensor. */
export function halfBits(t: Tensor): { dtype: 'f16' | 'bf16'; bits: Uint16Array } | null {
  const d = (t as CpuTensor).data;
  if (!(d instanceof Uint16Array)) return null;
  return { dtype: t.dtype as 'f16' | 'bf16', bits: d };
}
