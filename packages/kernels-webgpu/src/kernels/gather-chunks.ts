// gatherChunks: src [nKvHeads, nChunks*chunkSize, headDim], idx i32 [nKvHeads, nSel] → [nKvHeads, nSel*chunkSize, headDim].
// src and out are bound in ranges of token rows, so neither has to fit one binding.
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { gatherChunksKernel } from './gather-chunks.wgsl.js';

export function gatherChunks(ctx: GpuContext, srcIn: Tensor, idxIn: Tensor, chunkSize: number): GpuTensor {
  // validate
  const src = ctx.own('gatherChunks', 'src', srcIn);
  const idx = ctx.own('gatherChunks', 'idx', idxIn);
  const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.gatherChunks(src, idx, chunkSize);
  if (idx.host) validateOpArgs.chunkIds('gatherChunks', idx.host, nSel, chunkSize, rows, 'src');
  ctx.bindable('gatherChunks', 'idx', idx);
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
