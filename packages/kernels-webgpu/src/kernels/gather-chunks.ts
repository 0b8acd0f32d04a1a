// gatherChunks: src [nKvHeads, nChunks*chunkSize, headDim], idx i32 [nKvHeads, nSel] → [nKvHeads, nSel*chunkSize, headDim].
// src and out are bound in ranges of token rows, so neither has to fit one binding (see chunk-copy.ts).
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { copyChunks } from './chunk-copy.js';

export function gatherChunks(ctx: GpuContext, srcIn: Tensor, idxIn: Tensor, chunkSize: number): GpuTensor {
  // validate
  const src = ctx.own('gatherChunks', 'src', srcIn);
  const idx = ctx.own('gatherChunks', 'idx', idxIn);
  const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.gatherChunks(src, idx, chunkSize);
  if (idx.host) validateOpArgs.chunkIds('gatherChunks', idx.host, nSel, chunkSize, rows, 'src');
  ctx.bindable('gatherChunks', 'idx', idx);
  const out = ctx.alloc('gatherChunks', [nKv, nSel * chunkSize, d], 'f32');
  if (d === 0) return out;
  copyChunks(ctx, 'gatherChunks', out, src, idx, { nKv, rows, headDim: d, nSel, chunkSize });
  return out;
}
