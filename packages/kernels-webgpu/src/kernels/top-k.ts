// topK: indices of the k largest values of each row of x [rows, n], in ascending index order → i32 [rows, k].
// Ties are broken towards the lower index, so every backend selects the same set. Long rows are split over
// several workgroups per row (see top-k.wgsl.ts).
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
  const nSeg = Math.floor(n / TOPK_SEGMENT);
  if (nSeg < 4 || k > TOPK_SEGMENT / 4) {
    // cache key + render (in ctx.dispatch) → dispatch: one workgroup per row
    ctx.dispatch(topKKernel, {}, [rows, n, k, 16, 1, n], [x, out], ctx.linearGrid('topK', rows));
    return out;
  }
  // Long rows: nSeg workgroups per row pick their segment's top k, then one per row merges the candidates.
  const cand = ctx.alloc('topK', [rows * nSeg, k], 'i32');
  ctx.dispatch(topKKernel, { mode: 'segment' }, [rows * nSeg, n, k, 16, nSeg, TOPK_SEGMENT], [x, cand], ctx.linearGrid('topK', rows * nSeg));
  ctx.dispatch(topKKernel, { mode: 'merge' }, [rows, n, k, 16, nSeg, TOPK_SEGMENT], [x, cand, out], ctx.linearGrid('topK', rows));
  cand.disposed = true;
  ctx.release(cand.buffer);
  return out;
}

/**
 * Entries per workgroup of the split top-k. Rows of at least 4 segments (8192 entries: landmark scores of
 * 64K tokens in chunks of 8) take it when k is at most a quarter segment; shorter rows keep one workgroup
 * per row (one launch; a single workgroup reads 8K floats in a few microseconds).
 */
export const TOPK_SEGMENT = 2048;
