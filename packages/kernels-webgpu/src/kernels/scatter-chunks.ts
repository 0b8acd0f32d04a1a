// scatterChunks (in place, the inverse of gatherChunks): chunk s of src [nKvHeads, nSel*chunkSize, headDim] goes to
// chunk idx[h, s] of dst [nKvHeads, nChunks*chunkSize, headDim]. dst and src are bound per range of KV heads: a decode
// value buffer of 8 heads x 128K tokens x 128 dims is 512 MiB.
import { assertShape, ShapeError, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import { scatterChunksKernel } from './scatter-chunks.wgsl.js';

export function scatterChunks(ctx: GpuContext, dstIn: Tensor, srcIn: Tensor, idxIn: Tensor, chunkSize: number): void {
  // validate
  const dst = ctx.own('scatterChunks', 'dst', dstIn, 'f32');
  assertShape('scatterChunks', 'dst', dst, [-1, -1, -1], 'f32');
  const [nKv, rows, d] = dst.shape;
  const idx = ctx.bindable('scatterChunks', 'idx', ctx.own('scatterChunks', 'idx', idxIn, 'i32'));
  assertShape('scatterChunks', 'idx', idx, [nKv, -1], 'i32');
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ShapeError('scatterChunks', `chunkSize ${chunkSize} must be a positive integer`);
  const nSel = idx.shape[1];
  const src = ctx.own('scatterChunks', 'src', srcIn, 'f32');
  assertShape('scatterChunks', 'src', src, [nKv, nSel * chunkSize, d], 'f32');
  if (idx.host) {
    for (const c of idx.host) {
      if (c < 0 || (c + 1) * chunkSize > rows) throw new ShapeError('scatterChunks', `chunk id ${c} is outside [0, ${Math.floor(rows / chunkSize)})`);
    }
  }
  if (nSel === 0 || d === 0) return;
  if (d === 0) return;
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
