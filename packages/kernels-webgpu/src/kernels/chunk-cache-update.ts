// chunkCacheUpdate: ChunkCache's bookkeeping on the device (see chunk-cache-update.wgsl.ts), one launch; only
// the misses list it writes is meant to come back to the host.
import { validateOpArgs, type ChunkCacheUpdate, type ChunkCacheUpdateParams, type Tensor } from '@shadowkv/core';
import type { GpuContext } from '../gpu-context.js';
import { chunkCacheUpdateKernel } from './chunk-cache-update.wgsl.js';

export function chunkCacheUpdate(ctx: GpuContext, tableIn: Tensor, selIn: Tensor, p: ChunkCacheUpdateParams): ChunkCacheUpdate {
  // validate
  const table = ctx.bindable('chunkCacheUpdate', 'table', ctx.own('chunkCacheUpdate', 'table', tableIn));
  const sel = ctx.bindable('chunkCacheUpdate', 'sel', ctx.own('chunkCacheUpdate', 'sel', selIn));
  const map = p.map ? ctx.bindable('chunkCacheUpdate', 'map', ctx.own('chunkCacheUpdate', 'map', p.map)) : undefined;
  const { nKvHeads: nKv, n, chunkCapacity, nMap } = validateOpArgs.chunkCacheUpdate(table, sel, p);
  const order = ctx.bindable('chunkCacheUpdate', 'order', ctx.alloc('chunkCacheUpdate', [nKv, p.slots], 'i32'));
  const misses = ctx.bindable('chunkCacheUpdate', 'misses', ctx.alloc('chunkCacheUpdate', [nKv + p.capacity], 'i32', { zero: true }));
  const scratch = ctx.scratch('chunkCacheUpdate', 3 * Math.max(1, n) * 4);
  // cache key + render (in ctx.dispatch) → one workgroup for every head. Reads: the selection (and its map
  // entries), each selected chunk's table entry, the order row; the table's other entries are not touched.
  ctx.dispatch(
    chunkCacheUpdateKernel,
    { mapped: map !== undefined, wg: p.slots <= 64 ? 64 : 256 },
    [nKv, n, p.slots, p.slots + chunkCapacity, chunkCapacity, p.fullChunks, p.capacity, nMap],
    [table, sel, map ?? sel, order, misses, scratch],
    [1, 1, 1],
    nKv * (n * (map ? 5 : 4) + p.slots) * 4,
  );
  scratch.disposed = true;
  ctx.release(scratch.buffer);
  return { order, misses };
}
