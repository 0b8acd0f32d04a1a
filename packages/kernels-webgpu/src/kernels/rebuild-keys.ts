// rebuildKeys: low-rank keys of the selected chunks, k = a[t] · b[g], with RoPE at t + positionOffset.
// a [seqLen, rank] is bound in row ranges (128K tokens x rank 160 is 80 MiB).
import { ShapeError, validateOpArgs, type RopeSpec, type Tensor } from '@shadowkv/core';
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
  /** rebuildKeysInto: write into rows 0..nSel*chunkSize of each head of this [nKv, rows, headDim] buffer instead. */
  dstIn?: Tensor,
): GpuTensor {
  // validate
  const table = tableOf('rebuildKeys', spec);
  const a = ctx.own('rebuildKeys', 'a', aIn);
  const b = ctx.own('rebuildKeys', 'b', bIn);
  const idx = ctx.own('rebuildKeys', 'idx', idxIn);
  const { seqLen, rank, nKvHeads: nKv, headDim: d, nSel } = validateOpArgs.rebuildKeys(a, b, idx, chunkSize, positionOffset, spec);
  if (Math.abs(positionOffset) + seqLen > MAX_ROPE_POSITION) {
    throw new ShapeError('rebuildKeys', `positionOffset ${positionOffset} is too far out: |offset| + seqLen (${seqLen}) must be <= ${MAX_ROPE_POSITION}, the range this backend's RoPE supports`);
  }
  if (idx.host) validateOpArgs.chunkIds('rebuildKeys', idx.host, nSel, chunkSize, seqLen, 'a');
  ctx.bindable('rebuildKeys', 'b', b);
  ctx.bindable('rebuildKeys', 'idx', idx);
  const dst = dstIn ? ctx.own('rebuildKeysInto', 'dst', dstIn) : undefined;
  const outRows = dst ? validateOpArgs.rebuildKeysInto(dst, a, b, idx, chunkSize, positionOffset, spec).rows : nSel * chunkSize;
  const out = dst ? ctx.bindable('rebuildKeysInto', 'dst', dst) : ctx.bindable('rebuildKeys', 'out', ctx.alloc('rebuildKeys', [nKv, nSel * chunkSize, d], 'f32'));
  const total = (nKv * nSel * chunkSize * d) / 2;
  // cache key + render (in ctx.dispatch, specialised on headDim) → dispatch per bindable row range of a
  for (const part of splitRows('rebuildKeys', seqLen, [rank * 4], ctx.limits)) {
    const [wa] = part.windows;
    ctx.dispatch(
      rebuildKeysKernel,
      dst ? { headDim: d, into: true } : { headDim: d },
      [total, seqLen, rank, nSel, chunkSize, i32(positionOffset), f32(spec.attentionScaling), part.row0, part.rows, wa.shift, outRows],
      [{ buffer: a.buffer, ...wa }, b, idx, table, out],
      ctx.linearGrid('rebuildKeys', Math.ceil(total / LINEAR_WORKGROUP)),
      // What the rebuild reads: its A rows, B, the ids and the RoPE table (the destination is only written).
      dst ? Math.min(wa.size, nKv * nSel * chunkSize * rank * 4) + b.byteLength + idx.byteLength + table.byteLength : undefined,
    );
  }
  return out;
}
