// gatherChunks: src [nKvHeads, nChunks*chunkSize, headDim], idx i32 [nKvHeads, nSel] → [nKvHeads, nSel*chunkSize, headDim].
// src and out are bound in ranges of token rows, so neither has to fit one binding.
import { assertShape, ShapeError, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { gatherChunksKernel } from './gather-chunks.wgsl.js';

export function gatherChunks(ctx: GpuContext, srcIn: Tensor, idxIn: Tensor, chunkSize: number): GpuTensor {
  // validate
  const src = ctx.own('gatherChunks', 'src', srcIn, 'f32');
  assertShape('gatherChunks', 'src', src, [-1, -1, -1], 'f32');
  const [nKv, rows, d] = src.shape;
  const idx = ctx.bindable('gatherChunks', 'idx', ctx.own('gatherChunks', 'idx', idxIn, 'i32'));
  assertShape('gatherChunks', 'idx', idx, [nKv, -1], 'i32');
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ShapeError('gatherChunks', `chunkSize ${chunkSize} must be a positive integer`);
  const nSel = idx.shape[1];
  if (idx.host) {
    for (const c of idx.host) {
      if (c < 0 || (c + 1) * chunkSize > rows) throw new ShapeError('gatherChunks', `chunk id ${c} is outside [0, ${Math.floor(rows / chunkSize)})`);
    }
  }
  const out = ctx.alloc('gatherChunks', [nKv, nSel * chunkSize, d], 'f32');
  if (d === 0) return out;
  // cache key + render (in ctx.dispatch) → dispatch per (out part, src part) of token rows
  const srcParts = splitRows('gatherChunks', nKv * rows, [d * 4], ctx.limits);
  for (const op of splitRows('gatherChunks', nKv * nSel * chunkSize, [d * 4], ctx.limits)) {
    const [wo] = op.windows;
    const total = op.rows * d;
    for (const sp of srcParts) {
      const [ws] = sp.windows;
      ctx.dispatch(
        gatherChunksKernel,
        {},
        [total, rows, d, nSel, chunkSize, op.row0, wo.shift, sp.row0, sp.rows, ws.shift],
        [{ buffer: src.buffer, ...ws }, idx, { buffer: out.buffer, ...wo }],
        ctx.linearGrid('gatherChunks', Math.ceil(total / LINEAR_WORKGROUP)),
      );
    }
  }
  return out;
}
