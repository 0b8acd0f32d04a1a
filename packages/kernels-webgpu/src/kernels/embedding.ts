// embedding: out[m, hidden] = table[ids[i], :]; the table is bound in row ranges, one dispatch each.
import { assertShape, ShapeError, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import type { GpuTensor } from '../gpu-tensor.js';
import { embeddingKernel } from './embedding.wgsl.js';

export function embedding(ctx: GpuContext, tableIn: Tensor, idsIn: Tensor): GpuTensor {
  // validate
  const table = ctx.own('embedding', 'table', tableIn, 'f32');
  const ids = ctx.bindable('embedding', 'ids', ctx.own('embedding', 'ids', idsIn, 'i32'));
  assertShape('embedding', 'table', table, [-1, -1], 'f32');
  assertShape('embedding', 'ids', ids, [-1], 'i32');
  const [vocab, hidden] = table.shape;
  const m = ids.shape[0];
  if (ids.host) {
    ids.host.forEach((id, i) => {
      if (id < 0 || id >= vocab) throw new ShapeError('embedding', `token id ${id} at index ${i} is outside the vocabulary [0, ${vocab})`);
    });
  }
  const out = ctx.bindable('embedding', 'out', ctx.alloc('embedding', [m, hidden], 'f32'));
  const total = m * hidden;
  // cache key + render (in ctx.dispatch) → dispatch per bindable row range of the table
  for (const part of splitRows('embedding', vocab, [hidden * 4], ctx.limits)) {
    const [wt] = part.windows;
    ctx.dispatch(
      embeddingKernel,
      {},
      [total, hidden, part.row0, part.rows, wt.shift],
      [{ buffer: table.buffer, ...wt }, ids, out],
      ctx.linearGrid('embedding', Math.ceil(total / LINEAR_WORKGROUP)),
    );
  }
  return out;
}
