// scatterChunks (in place, the inverse of gatherChunks): chunk s of src [nKvHeads, nSel*chunkSize, headDim] goes to
// chunk idx[h, s] of dst [nKvHeads, nChunks*chunkSize, headDim]. dst and src are bound per range of KV heads: a decode
// value buffer of 8 heads x 128K tokens x 128 dims is 512 MiB.
import { validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import { scatterChunksKernel } from './scatter-chunks.wgsl.js';

export function scatterChunks(ctx: GpuContext, dstIn: Tensor, srcIn: Tensor, idxIn: Tensor, chunkSize: number): void {
  // validate
  const dst = ctx.own('scatterChunks', 'dst', dstIn);
  const src = ctx.own('scatterChunks', 'src', srcIn);
  const idx = ctx.own('scatterChunks', 'idx', idxIn);
  const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.scatterChunks(dst, src, idx, chunkSize);
  if (idx.host) validateOpArgs.chunkIds('scatterChunks', idx.host, nSel, chunkSize, rows, 'dst');
  ctx.bindable('scatterChunks', 'idx', idx);
  if (nSel === 0 || d === 0) return;
  // cache key + render (in ctx.dispatch) → dispatch per (src part, dst part) of token rows
  const dstParts = splitRows('scatterChunks', nKv * rows, [d * 4], ctx.limits);
  for (const sp of splitRows('scatterChunks', nKv * nSel * chunkSize, [d * 4], ctx.limits)) {
    const [ws] = sp.windows;
    const total = sp.rows * d;
    for (const dp of dstParts) {
      const [wd] = dp.windows;
      ctx.dispatch(
        scatterChunksKernel,
        {},
        [total, rows, d, nSel, chunkSize, sp.row0, ws.shift, dp.row0, dp.rows, wd.shift],
        [{ buffer: src.buffer, ...ws }, idx, { buffer: dst.buffer, ...wd }],
        ctx.linearGrid('scatterChunks', Math.ceil(total / LINEAR_WORKGROUP)),
      );
    }
  }
}
