// writeKv (in place): rows x [m, nKvHeads*headDim] → cache [nKvHeads, capacity, headDim] rows start..start+m.
// The cache is bound in ranges of token rows (8 heads x 128K tokens x 128 dims is 512 MiB); only the
// ranges that hold some of the written rows get a dispatch.
import { assertShape, validateOpArgs, type Tensor } from '@shadowkv/core';
import { splitRows } from '../binding-parts.js';
import { LINEAR_WORKGROUP } from '../gpu-constants.js';
import type { GpuContext } from '../gpu-context.js';
import { writeKvKernel } from './write-kv.wgsl.js';

export function writeKv(ctx: GpuContext, cacheIn: Tensor, xIn: Tensor, start: number): void {
  // validate
  const cache = ctx.own('writeKv', 'cache', cacheIn);
  const x = ctx.own('writeKv', 'x', xIn);
  const { nKvHeads: nKv, capacity: cap, headDim: d, m } = validateOpArgs.writeKv(cache, x, start);
  ctx.bindable('writeKv', 'x', x);
  if (m === 0 || d === 0) return;
  // cache key + render (in ctx.dispatch) → dispatch per bindable range of cache token rows
  const total = m * nKv * d;
  for (const part of splitRows('writeKv', nKv * cap, [d * 4], ctx.limits)) {
    const touched = Array.from({ length: nKv }, (_, g) => g * cap + start).some((r) => r < part.row0 + part.rows && r + m > part.row0);
    if (!touched) continue;
    const [wc] = part.windows;
    ctx.dispatch(
      writeKvKernel,
      {},
      [total, nKv, d, cap, start, part.row0, part.rows, wc.shift],
      [x, { buffer: cache.buffer, ...wc }],
      ctx.linearGrid('writeKv', Math.ceil(total / LINEAR_WORKGROUP)),
    );
  }
}

/**
 * writeKvPair (in place): writeKv(kCache, k, start) and writeKv(vCache, v, start) in one launch when both caches
 * fit one binding each; two writeKv otherwise (caches too large to bind whole are written by ranges there).
 */
export function writeKvPair(ctx: GpuContext, kCacheIn: Tensor, vCacheIn: Tensor, kIn: Tensor, vIn: Tensor, start: number): void {
  // validate
  const kCache = ctx.own('writeKvPair', 'kCache', kCacheIn);
  const vCache = ctx.own('writeKvPair', 'vCache', vCacheIn);
  const k = ctx.own('writeKvPair', 'k', kIn);
  const v = ctx.own('writeKvPair', 'v', vIn);
  const { nKvHeads: nKv, capacity: cap, headDim: d, m } = validateOpArgs.writeKv(kCache, k, start);
  validateOpArgs.writeKv(vCache, v, start);
  assertShape('writeKvPair', 'vCache', vCache, kCache.shape, 'f32');
  assertShape('writeKvPair', 'v', v, k.shape, 'f32');
  if (kCache.byteLength > ctx.limits.maxBindingBytes || vCache.byteLength > ctx.limits.maxBindingBytes) {
    writeKv(ctx, kCache, k, start);
    writeKv(ctx, vCache, v, start);
    return;
  }
  ctx.bindable('writeKvPair', 'k', k);
  ctx.bindable('writeKvPair', 'v', v);
  if (m === 0 || d === 0) return;
  const total = m * nKv * d;
  ctx.dispatch(writeKvKernel, { pair: true }, [total, nKv, d, cap, start], [k, v, kCache, vCache], ctx.linearGrid('writeKvPair', Math.ceil(total / LINEAR_WORKGROUP)), 2 * total * 4);
}
