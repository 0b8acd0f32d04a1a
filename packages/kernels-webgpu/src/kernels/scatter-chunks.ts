// scatterChunks (in place, the inverse of gatherChunks): chunk s of src [nKvHeads, nSel*chunkSize, headDim] goes to
// chunk idx[h, s] of dst [nKvHeads, nChunks*chunkSize, headDim]. Both are bound in ranges of token rows (see chunk-copy.ts).
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import { copyChunks } from './chunk-copy.js';

export function scatterChunks(ctx: GpuContext, dstIn: Tensor, srcIn: Tensor, idxIn: Tensor, chunkSize: number): void {
  // validate
  const dst = ctx.own('scatterChunks', 'dst', dstIn);
  const src = ctx.own('scatterChunks', 'src', srcIn);
  const idx = ctx.own('scatterChunks', 'idx', idxIn);
  const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.scatterChunks(dst, src, idx, chunkSize);
  if (idx.host) validateOpArgs.chunkIds('scatterChunks', idx.host, nSel, chunkSize, rows, 'dst');
  ctx.bindable('scatterChunks', 'idx', idx);
  if (nSel === 0 || d === 0) return;
  copyChunks(ctx, 'scatterChunks', src, dst, idx, { nKv, rows, headDim: d, nSel, chunkSize });
}
