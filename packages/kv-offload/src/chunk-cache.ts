// The fast-side cache of fetched value chunks: slot-stable, so a decode step copies only the chunks it misses.
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { hostF32 } from './host-storage.js';
import type { ValueStore } from './value-store.js';

export interface ChunkCacheOptions {
  /** Chunk slots per KV head: the most chunks one step may select. */
  slots: number;
  /** Row of `target` where slot 0 starts (slots are consecutive chunkSize-row blocks). Default 0. */
  firstRow?: number;
}

/** Result of one ChunkCache.update. */
export interface ChunkFetch {
  /** Chunk id held by each of the first n slots after the update: [nKvHeads, n]. */
  slots: Int32Array;
  /** Selected chunks already resident in a slot below n (summed over heads). */
  hits: number;
  /** Selected chunks copied from the value store (summed over heads). */
  misses: number;
  /** Bytes copied from slow memory into the fast buffer (float32 rows actually written). */
  bytesMoved: number;
}

/**
 * Keeps the values of recently selected chunks in rows firstRow.. of `target` [nKvHeads, rows, headDim]
 * (the fast-side value buffer that attention reads). Each update places the new selection in slots 0..n of
 * every head: a chunk already in one of those slots stays where it is (a hit, nothing moves), a missed chunk
 * is read from the ValueStore into a slot whose chunk was not selected again. Attention does not care about
 * row order as long as keys are written in the same slot order, which `slots` reports.
 * Only full chunks are cached; a partial chunk (still growing) is fetched on every use.
 */
export class ChunkCache {
  readonly slotCount: number;
  private readonly firstRow: number;
  private readonly rows: number;
  /** Chunk held by each slot, -1 if empty: [nKvHeads, slotCount]. */
  private readonly slotChunk: Int32Array;
  /** Slot holding each chunk, -1 if not resident: [nKvHeads, chunkCapacity]. */
  private chunkSlot: Int32Array;
  private chunkCapacity = 0;
  /** Slot marks of the head being updated: slotStamp[s] === stamp means slot s is taken this round. */
  private readonly slotStamp: Int32Array;
  private stamp = 0;
  private readonly missed: Int32Array;

  constructor(
    private readonly backend: KernelBackend,
    private readonly store: ValueStore,
    private readonly target: Tensor,
    opts: ChunkCacheOptions,
  ) {
    const { slots, firstRow = 0 } = opts;
    const [nKv, rows, d] = target.shape;
    if (target.shape.length !== 3 || nKv !== store.nKvHeads || d !== store.headDim) {
      throw new ShapeError('ChunkCache', `target [${target.shape.join(', ')}] must be [${store.nKvHeads}, rows, ${store.headDim}]`);
    }
    if (!Number.isInteger(slots) || slots < 1 || firstRow < 0 || firstRow + slots * store.chunkSize > rows) {
      throw new ShapeError('ChunkCache', `${slots} slots of ${store.chunkSize} rows from row ${firstRow} do not fit ${rows} rows`);
    }
    this.slotCount = slots;
    this.firstRow = firstRow;
    this.rows = rows;
    this.slotChunk = new Int32Array(nKv * slots).fill(-1);
    this.chunkSlot = new Int32Array(0);
    this.slotStamp = new Int32Array(slots);
    this.missed = new Int32Array(slots);
  }

  /**
   * Brings the selection `chunkIds` [nKvHeads, n] (any order, no repeats within a head) into slots 0..n.
   * Chunk ids refer to the ValueStore's chunks.
   */
  update(chunkIds: Int32Array, n: number): ChunkFetch {
    const { store, slotCount } = this;
    const nKv = store.nKvHeads;
    if (!Number.isInteger(n) || n < 0 || n > slotCount || chunkIds.length < nKv * n) {
      throw new ShapeError('ChunkCache.update', `${chunkIds.length} ids for ${nKv} heads x ${n} chunks; n must be in [0, ${slotCount}]`);
    }
    this.growChunkIndex(store.chunkCount);
    const dst = hostF32(this.backend, this.target);
    const full = store.fullChunks;
    const out = new Int32Array(nKv * n); // [nKvHeads, n]
    let hits = 0;
    let misses = 0;
    let bytesMoved = 0;
    for (let h = 0; h < nKv; h++) {
      const stamp = ++this.stamp;
      const slotBase = h * slotCount;
      const chunkBase = h * this.chunkCapacity;
      let nMissed = 0;
      for (let s = 0; s < n; s++) {
        const c = chunkIds[h * n + s];
        if (c < 0 || c >= store.chunkCount) throw new ShapeError('ChunkCache.update', `chunk id ${c} of head ${h} is outside [0, ${store.chunkCount})`);
        const slot = this.chunkSlot[chunkBase + c];
        if (slot >= 0 && slot < n && this.slotStamp[slot] === stamp) throw new ShapeError('ChunkCache.update', `chunk ${c} is selected twice for head ${h}`);
        if (slot >= 0 && slot < n && c < full) {
          this.slotStamp[slot] = stamp;
          out[h * n + slot] = c;
          hits++;
        } else {
          this.missed[nMissed++] = c;
        }
      }
      let free = 0;
      for (let i = 0; i < nMissed; i++) {
        const c = this.missed[i];
        const resident = this.chunkSlot[chunkBase + c];
        if (resident >= 0 && resident < n && this.slotStamp[resident] === stamp) throw new ShapeError('ChunkCache.update', `chunk ${c} is selected twice for head ${h}`);
        while (this.slotStamp[free] === stamp) free++;
        const old = this.slotChunk[slotBase + free];
        if (old >= 0) this.chunkSlot[chunkBase + old] = -1;
        if (resident >= 0) this.slotChunk[slotBase + resident] = -1; // a stale copy (partial chunk or slot >= n)
        this.slotChunk[slotBase + free] = c;
        this.chunkSlot[chunkBase + c] = free;
        this.slotStamp[free] = stamp;
        out[h * n + free] = c;
        const rowsRead = store.readChunk(h, c, dst, (h * this.rows + this.firstRow + free * store.chunkSize) * store.headDim);
        bytesMoved += rowsRead * store.headDim * 4;
        misses++;
      }
    }
    return { slots: out, hits, misses, bytesMoved };
  }

  /** Forgets every resident chunk (the next update misses everything). */
  reset(): void {
    this.slotChunk.fill(-1);
    this.chunkSlot.fill(-1);
  }

  private growChunkIndex(chunks: number): void {
    if (chunks <= this.chunkCapacity) return;
    const nKv = this.store.nKvHeads;
    let cap = Math.max(16, this.chunkCapacity);
    while (cap < chunks) cap *= 2;
    const next = new Int32Array(nKv * cap).fill(-1);
    for (let h = 0; h < nKv; h++) next.set(this.chunkSlot.subarray(h * this.chunkCapacity, (h + 1) * this.chunkCapacity), h * cap);
    this.chunkSlot = next;
    this.chunkCapacity = cap;
  }
}
