// rebuildKeys: low-rank keys of the selected chunks, k = a[t] · b[g], with RoPE at t + positionOffset.
// a [seqLen, rank] is bound in row ranges (128K tokens x rank 160 is 80 MiB).
import { assertShape, ShapeError, type RopeSpec, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { MAX_ROPE_POSITION } from '../rope-table.js';
import { f32, i32 } from '../uniform-values.js';
import { rebuildKeysKernel } from './rebuild-keys.wgsl.js';
import type { RopeTableOf } from './rope.js';

export function rebuildKeys(
  ctx: GpuContext,
  tableOf: RopeTableOf,
  aIn: Tensor,
  bIn: Tensor,
  idxIn: Tensor,
  chunkSize: number,
  positionOffset: number,
  spec: RopeSpec,
): GpuTensor {
  // validate
  const table = tableOf('rebuildKeys', spec);
  const d = spec.headDim;
  const a = ctx.own('rebuildKeys', 'a', aIn, 'f32');
  assertShape('rebuildKeys', 'a', a, [-1, -1], 'f32');
  const [seqLen, rank] = a.shape;
  const b = ctx.bindable('rebuildKeys', 'b', ctx.own('rebuildKeys', 'b', bIn, 'f32'));
  assertShape('rebuildKeys', 'b', b, [-1, rank, d], 'f32');
  const nKv = b.shape[0];
  const idx = ctx.bindable('rebuildKeys', 'idx', ctx.own('rebuildKeys', 'idx', idxIn, 'i32'));
  assertShape('rebuildKeys', 'idx', idx, [nKv, -1], 'i32');
  const nSel = idx.shape[1];
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ShapeError('rebuildKeys', `chunkSize ${chunkSize} must be a positive integer`);
  if (!Number.isInteger(positionOffset) || Math.abs(positionOffset) + seqLen > MAX_ROPE_POSITION) {
    throw new ShapeError('rebuildKeys', `positionOffset ${positionOffset} must be an integer with |offset| + seqLen <= ${MAX_ROPE_POSITION}`);
  }
  if (idx.host) {
    for (const c of idx.host) {
      for (let j = 0; j < chunkSize; j++) {
        const t = c * chunkSize + j;
        if (t < 0 || t >= seqLen) throw new ShapeError('rebuildKeys', `token ${t} (chunk ${c}) is outside [0, ${seqLen})`);
      }
    }
  }
  const out = ctx.bindable('rebuildKeys', 'out', ctx.alloc('rebuildKeys', [nKv, nSel * chunkSize, d], 'f32'));
  const total = (nKv * nSel * chunkSize * d) / 2;
  // cache key + render (in ctx.dispatch, specialised on headDim) → dispatch per bindable row range of a
  for (const part of splitRows('rebuildKeys', seqLen, [rank * 4], ctx.limits)) {
    const [wa] = part.windows;
    ctx.dispatch(
      rebuildKeysKernel,
      { headDim: d },
      [total, seqLen, rank, nSel, chunkSize, i32(positionOffset), f32(spec.attentionScaling), part.row0, part.rows, wa.shift],
      [{ buffer: a.buffer, ...wa }, b, idx, table, out],
      ctx.linearGrid('rebuildKeys', Math.ceil(total / LINEAR_WORKGROUP)),
    );
  }
  return out;
}
