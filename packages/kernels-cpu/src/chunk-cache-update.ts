// The reference of KernelBackend.chunkCacheUpdate: ChunkCache's hit/miss/slot rule over a device-side table.
import { ShapeError } from '@shadowkv/core';

/** Sizes of one update (validated by the caller). */
export interface ChunkCacheUpdateSizes {
  nKvHeads: number;
  /** Selected chunks per head (sel's second dim), <= slots. */
  n: number;
  slots: number;
  chunkCapacity: number;
  fullChunks: number;
  capacity: number;
  /** Entries per head of `map` (0 without a map). */
  nMap: number;
}

/**
 * Updates `table` [nKvHeads, slots + chunkCapacity] in place for the selection `sel` [nKvHeads, n] and writes
 * `order` [nKvHeads, slots] and `misses` [nKvHeads + capacity] (layouts: core's KernelBackend.chunkCacheUpdate).
 * Sequential per head, in selection order, exactly as ChunkCache.update assigns slots; chunks that were partial
 * when fetched are not recorded (-1 in both halves), which is how the host cache's "never a hit" rule looks
 * from the table. Bad ids (outside the table, or twice in a head) throw.
 */
export function chunkCacheUpdateInto(table: Int32Array, sel: Int32Array, map: Int32Array | undefined, s: ChunkCacheUpdateSizes, order: Int32Array, misses: Int32Array): void {
  const { nKvHeads, n, slots, chunkCapacity, fullChunks, capacity, nMap } = s;
  const width = slots + chunkCapacity;
  const taken = new Uint8Array(slots);
  const missed = new Int32Array(n);
  let listed = 0; // misses so far, over all heads
  for (let h = 0; h < nKvHeads; h++) {
    const slotChunk = table.subarray(h * width, h * width + slots);
    const chunkSlot = table.subarray(h * width + slots, (h + 1) * width);
    const out = order.subarray(h * slots, (h + 1) * slots);
    out.fill(0);
    taken.fill(0);
    // Hits keep their slots.
    let nMissed = 0;
    for (let i = 0; i < n; i++) {
      let c = sel[h * n + i];
      if (map) {
        if (c < 0 || c >= nMap) throw new ShapeError('chunkCacheUpdate', `position ${c} at sel[${h}, ${i}] is outside map's [0, ${nMap})`);
        c = map[h * nMap + c];
      }
      if (c < 0 || c >= chunkCapacity) throw new ShapeError('chunkCacheUpdate', `chunk id ${c} of head ${h} is outside the table's [0, ${chunkCapacity})`);
      const r = chunkSlot[c];
      if (r >= 0 && r < n) {
        if (taken[r]) throw new ShapeError('chunkCacheUpdate', `chunk ${c} is selected twice for head ${h}`);
        taken[r] = 1;
        out[r] = c;
      } else missed[nMissed++] = c;
    }
    // Misses, in selection order, take the free slots below n in ascending order.
    let free = 0;
    for (let i = 0; i < nMissed; i++) {
      const c = missed[i];
      while (taken[free]) free++;
      const old = slotChunk[free];
      if (old >= 0) chunkSlot[old] = -1;
      const resident = chunkSlot[c]; // a copy in a slot at or past n
      if (resident >= 0 && resident < n && taken[resident]) throw new ShapeError('chunkCacheUpdate', `chunk ${c} is selected twice for head ${h}`);
      if (resident >= 0) slotChunk[resident] = -1;
      const full = c < fullChunks;
      slotChunk[free] = full ? c : -1;
      chunkSlot[c] = full ? free : -1;
      taken[free] = 1;
      out[free] = c;
      if (listed < capacity) misses[nKvHeads + listed] = c * slots + free;
      listed++;
    }
    misses[h] = nMissed;
  }
}
