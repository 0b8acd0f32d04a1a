// softmax over the last dimension of x [..., n].
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import type { GpuContext, StorageBinding } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { softmaxKernel } from './softmax.wgsl.js';

export function softmax(ctx: GpuContext, xIn: Tensor): GpuTensor {
  // validate
  const x = ctx.own('softmax', 'x', xIn);
  const { rows, n } = validateOpArgs.softmax(x);
  ctx.bindable('softmax', 'x', x);
  const out = ctx.alloc('softmax', x.shape, 'f32');
  if (n === 0) return out;
  softmaxRows(ctx, x, out, rows, n);
  return out;
}

/** Dispatches the row softmax of `rows` rows of `n` values from `x` into `out` (also used by landmarkScores). */
export function softmaxRows(ctx: GpuContext, x: StorageBinding, out: StorageBinding, rows: number, n: number): void {
  // cache key + render (in ctx.dispatch) → dispatch: one workgroup per row
  ctx.dispatch(softmaxKernel, {}, [rows, n, 16], [x, out], ctx.linearGrid('softmax', rows));
}
