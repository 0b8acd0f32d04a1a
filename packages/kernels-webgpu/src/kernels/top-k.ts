// topK: indices of the k largest values of each row of x [rows, n], in ascending index order → i32 [rows, k].
// Ties are broken towards the lower index, so every backend selects the same set.
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { topKKernel } from './top-k.wgsl.js';

export function topK(ctx: GpuContext, xIn: Tensor, k: number): GpuTensor {
  // validate
  const x = ctx.own('topK', 'x', xIn);
  const { rows, n } = validateOpArgs.topK(x, k);
  ctx.bindable('topK', 'x', x);
  const out = ctx.alloc('topK', [rows, k], 'i32');
  if (k === 0 || rows === 0) return out;
  // cache key + render (in ctx.dispatch) → dispatch: one workgroup per row
  ctx.dispatch(topKKernel, {}, [rows, n, k, 16], [x, out], ctx.linearGrid('topK', rows));
  return out;
}
