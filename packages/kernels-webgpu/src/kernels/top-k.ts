// topK: indices of the k largest values of each row of x [rows, n], in ascending index order → i32 [rows, k].
// Ties are broken towards the lower index, so every backend selects the same set.
import { assertShape, ShapeError, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { topKKernel } from './top-k.wgsl.js';

export function topK(ctx: GpuContext, xIn: Tensor, k: number): GpuTensor {
  // validate
  const x = ctx.bindable('topK', 'x', ctx.own('topK', 'x', xIn, 'f32'));
  assertShape('topK', 'x', x, [-1, -1], 'f32');
  const [rows, n] = x.shape;
  if (!Number.isInteger(k) || k < 0 || k > n) throw new ShapeError('topK', `k = ${k} must be an integer in [0, ${n}]`);
  const out = ctx.alloc('topK', [rows, k], 'i32');
  if (k === 0 || rows === 0) return out;
  // cache key + render (in ctx.dispatch) → dispatch: one workgroup per row
  ctx.dispatch(topKKernel, {}, [rows, n, k, 16], [x, out], ctx.linearGrid('topK', rows));
  return out;
}
