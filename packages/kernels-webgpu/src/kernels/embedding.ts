// embedding: out[m, hidden] = table[ids[i], :]; the table is bound in row ranges, one dispatch each.
import { bytesPerElement, validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { embeddingKernel } from './embedding.wgsl.js';
import type { WeightType } from './gemv.wgsl.js';

export function embedding(ctx: GpuContext, tableIn: Tensor, idsIn: Tensor): GpuTensor {
  // validate
  const table = ctx.own('embedding', 'table', tableIn);
  const ids = ctx.own('embedding', 'ids', idsIn);
  const { vocab, hidden, m } = validateOpArgs.embedding(table, ids, ctx.weightDtypes);
  const tb = bytesPerElement(table.dtype);
  if (ids.host) validateOpArgs.tokenIds(ids.host, vocab);
  ctx.bindable('embedding', 'ids', ids);
  const out = ctx.bindable('embedding', 'out', ctx.alloc('embedding', [m, hidden], 'f32'));
  const total = m * hidden;
  // cache key + render (in ctx.dispatch) → dispatch per bindable row range of the table
  for (const part of splitRows('embedding', vocab, [hidden * tb], ctx.limits)) {
    const [wt] = part.windows;
    ctx.dispatch(
      embeddingKernel,
      { w: table.dtype as WeightType },
      [total, hidden, part.row0, part.rows, wt.byteShift / tb, vocab],
      [{ buffer: table.buffer, ...wt }, ids, out],
      ctx.linearGrid('embedding', Math.ceil(total / LINEAR_WORKGROUP)),
    );
  }
  return out;
}
