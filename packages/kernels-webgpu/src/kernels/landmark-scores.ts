// landmarkScores: per query head softmax(q · landmarksᵀ · scale) over chunks, then the max over the
// query heads of each KV head → [nKvHeads, nChunks]. Three passes: dots, row softmax, group max.
import { ShapeError, validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { f32 } from '../uniform-values.js';
import { landmarkDotsKernel, landmarkGroupMaxKernel } from './landmark-scores.wgsl.js';
import { softmaxRows } from './softmax.js';

export function landmarkScores(ctx: GpuContext, qIn: Tensor, landmarksIn: Tensor, nHeads: number, scale: number): GpuTensor {
  // validate
  const q = ctx.own('landmarkScores', 'q', qIn);
  const landmarks = ctx.own('landmarkScores', 'landmarks', landmarksIn);
  const { nKvHeads: nKv, nChunks, headDim: d, group } = validateOpArgs.landmarkScores(q, landmarks, nHeads);
  ctx.bindable('landmarkScores', 'q', q);
  const out = ctx.alloc('landmarkScores', [nKv, nChunks], 'f32');
  if (nChunks === 0 || nHeads === 0) return out;
  if (nHeads * nChunks * 4 > ctx.limits.maxBindingBytes) {
    throw new ShapeError('landmarkScores', `the [${nHeads}, ${nChunks}] score matrix is more than this adapter binds at once (maxStorageBufferBindingSize ${ctx.limits.maxBindingBytes}); score fewer chunks per call`);
  }
  const scores = ctx.scratch('landmarkScores', nHeads * nChunks * 4);
  // cache key + render (in ctx.dispatch) → three dispatches
  const total = nHeads * nChunks;
  // Landmarks are bound in row ranges (one dispatch each): [nKvHeads, nChunks, headDim] can exceed a binding.
  for (const part of splitRows('landmarkScores', nKv * nChunks, [d * 4], ctx.limits)) {
    const [wl] = part.windows;
    ctx.dispatch(
      landmarkDotsKernel,
      {},
      [total, nChunks, d, group, f32(scale), part.row0, part.rows, wl.shift],
      [q, { buffer: landmarks.buffer, ...wl }, scores],
      ctx.linearGrid('landmarkScores', Math.ceil(total / LINEAR_WORKGROUP)),
    );
  }
  // A binding cannot be read-only and writable in one dispatch, so the softmax writes a second buffer.
  const probs = ctx.scratch('landmarkScores', nHeads * nChunks * 4);
  softmaxRows(ctx, scores, probs, nHeads, nChunks);
  const outTotal = nKv * nChunks;
  ctx.dispatch(landmarkGroupMaxKernel, {}, [outTotal, nChunks, group], [probs, out], ctx.linearGrid('landmarkScores', Math.ceil(outTotal / LINEAR_WORKGROUP)));
  ctx.release(scores.buffer);
  ctx.release(probs.buffer);
  return out;
}
