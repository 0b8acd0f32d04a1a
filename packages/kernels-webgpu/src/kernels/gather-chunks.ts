// gatherChunks: src [nKvHeads, nChunks*chunkSize, headDim], idx i32 [nKvHeads, nSel] → [nKvHeads, nSel*chunkSize, headDim].
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
  const out = ctx.bindable('gatherChunks', 'out', ctx.alloc('gatherChunks', [nKv, nSel * chunkSize, d], 'f32'));
  // cache key + render (in ctx.dispatch) → dispatch per bindable range of KV heads of src
  for (const part of splitRows('gatherChunks', nKv, [rows * d * 4], ctx.limits)) {
    const [ws] = part.windows;
    const total = part.rows * nSel * chunkSize * d;
    ctx.dispatch(
      gatherChunksKernel,
      {},
      [total, rows, d, nSel, chunkSize, part.row0, ws.shift],
      [{ buffer: src.buffer, ...ws }, idx, out],
      ctx.linearGrid('gatherChunks', Math.ceil(total / LINEAR_WORKGROUP)),
    );
  }
  return out;
}
