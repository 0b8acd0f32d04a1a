// The fast-side cache of fetched value chunks: slot-stable, so a decode step copies only the chunks it misses.
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import type { ValueStore } from './value-store.js';

export interface ChunkCacheOptions {
  /** Chunk slots per KV head: the most chunks one step may select. */
  slots: number;
  /** Row of `target` where slot 0 starts (slots are consecutive chunkSize-row blocks); a multiple of chunkSize. Default 0. */
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
  /** Bytes of missed chunks read from slow memory and written to the fast buffer (float32 rows of stored tokens). */
  bytesMoved: number;
  /**
   * Bytes handed to backend.upload: one scatter moves the same number of chunks for every head, so heads with
   * fewer misses than the most-missing head re-send some of their hits (unchanged values). 0 when nothing missed.
   */
  uploadBytes: number;
}

/**
 * Keeps the values of recently selected chunks in rows firstRow.. of `target` [nKvHeads, rows, headDim]
 * (the fast-side value buffer that attention reads). Each update places the new selection in slots 0..n of
 * every head: a chunk already in one of those slots stays where it is (a hit, nothing moves), a missed chunk
 * is read from the ValueStore into a slot whose chunk was not selected again. Attention does not care about
 * row order as long as keys are written in the same slot order, which `slots` reports.
 *
 * Works on any backend: the hit/miss bookkeeping is on the host, and the misses reach `target` through one
 * backend.upload of the missed chunks plus one in-place backend.scatterChunks per update, so nothing reads or
 * writes a backend tensor's memory directly. A chunk that was partial when fetched (the store's growing last
 * chunk) is never a hit: it is fetched again on its next use.
 */
export class ChunkCache {
  readonly slotCount: number;
  private readonly firstChunk: number;
  private readonly chunkFloats: number;
  /** Chunk held by each slot, -1 if empty: [nKvHeads, slotCount]. */
  private readonly slotChunk: Int32Array;
  /** 1 where the slot holds a chunk that was full when fetched (its values can no longer change): [nKvHeads, slotCount]. */
  private readonly slotFull: Uint8Array;
  /** Slot holding each chunk, -1 if not resident: [nKvHeads, chunkCapacity]. */
  private chunkSlot: Int32Array;
  private chunkCapacity = 0;
  /** Slot marks of the head being updated: slotStamp[s] === stamp means slot s is taken this round. */
  private readonly slotStamp: Int32Array;
  private stamp = 0;
  /** Per update, [nKvHeads, slotCount] each: missed chunks and their slots, hit chunks and their slots. */
  private readonly missChunk: Int32Array;
  private readonly missSlot: Int32Array;
  private readonly hitChunk: Int32Array;
  private readonly hitSlot: Int32Array;
  private readonly missCount: Int32Array; // [nKvHeads]
  private readonly hitCount: Int32Array; // [nKvHeads]
  /** Host staging of the chunks one update uploads, grown on demand: [nKvHeads, nMoved, chunkSize*headDim]. */
  private staging = new Float32Array(0);

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
    // scatterChunks addresses whole chunkSize-row blocks of the target.
    if (!Number.isInteger(firstRow) || firstRow % store.chunkSize !== 0) {
      throw new ShapeError('ChunkCache', `firstRow ${firstRow} must be a multiple of chunkSize ${store.chunkSize}`);
    }
    this.slotCount = slots;
    this.firstChunk = firstRow / store.chunkSize;
    this.chunkFloats = store.chunkSize * store.headDim;
    this.slotChunk = new Int32Array(nKv * slots).fill(-1);
    this.slotFull = new Uint8Array(nKv * slots);
    this.chunkSlot = new Int32Array(0);
    this.slotStamp = new Int32Array(slots);
    this.missChunk = new Int32Array(nKv * slots);
    this.missSlot = new Int32Array(nKv * slots);
    this.hitChunk = new Int32Array(nKv * slots);
    this.hitSlot = new Int32Array(nKv * slots);
    this.missCount = new Int32Array(nKv);
    this.hitCount = new Int32Array(nKv);
  }

  /**
   * Brings the selection `chunkIds` [nKvHeads, n] (any order, no repeats within a head) into slots 0..n.
   * Chunk ids refer to the ValueStore's chunks. The copy is queued on the backend (upload + scatterChunks),
   * ordered before any op issued afterwards.
   */
  update(chunkIds: Int32Array, n: number): ChunkFetch {
    const { store, slotCount } = this;
    const nKv = store.nKvHeads;
    if (!Number.isInteger(n) || n < 0 || n > slotCount || chunkIds.length < nKv * n) {
      throw new ShapeError('ChunkCache.update', `${chunkIds.length} ids for ${nKv} heads x ${n} chunks; n must be in [0, ${slotCount}]`);
    }
    this.growChunkIndex(store.chunkCount);
    const out = new Int32Array(nKv * n); // [nKvHeads, n]
    let hits = 0;
    let misses = 0;
    let maxMissed = 0;
    for (let h = 0; h < nKv; h++) {
      this.assignHead(h, chunkIds.subarray(h * n, (h + 1) * n), out.subarray(h * n, (h + 1) * n));
      hits += this.hitCount[h];
      misses += this.missCount[h];
      maxMissed = Math.max(maxMissed, this.missCount[h]);
    }
    const moved = maxMissed > 0 ? this.copyMisses(maxMissed) : { bytesMoved: 0, uploadBytes: 0 };
    return { slots: out, hits, misses, ...moved };
  }

  /** Forgets every resident chunk (the next update misses everything). */
  reset(): void {
    this.slotChunk.fill(-1);
    this.slotFull.fill(0);
    this.chunkSlot.fill(-1);
  }

  /** Host bookkeeping of head h: which selected chunks hit, and which slot each miss goes to. */
  private assignHead(h: number, ids: Int32Array, out: Int32Array): void {
    const { store, slotCount } = this;
    const n = ids.length;
    const stamp = ++this.stamp;
    const slotBase = h * slotCount;
    const chunkBase = h * this.chunkCapacity;
    let nMissed = 0;
    let nHit = 0;
    for (let s = 0; s < n; s++) {
      const c = ids[s];
      if (c < 0 || c >= store.chunkCount) throw new ShapeError('ChunkCache.update', `chunk id ${c} of head ${h} is outside [0, ${store.chunkCount})`);
      const slot = this.chunkSlot[chunkBase + c];
      if (slot >= 0 && slot < n && this.slotStamp[slot] === stamp) throw new ShapeError('ChunkCache.update', `chunk ${c} is selected twice for head ${h}`);
      if (slot >= 0 && slot < n && this.slotFull[slotBase + slot] === 1) {
        this.slotStamp[slot] = stamp;
        out[slot] = c;
        this.hitChunk[slotBase + nHit] = c;
        this.hitSlot[slotBase + nHit++] = slot;
      } else {
        this.missChunk[slotBase + nMissed++] = c;
      }
    }
    let free = 0;
    for (let i = 0; i < nMissed; i++) {
      const c = this.missChunk[slotBase + i];
      const resident = this.chunkSlot[chunkBase + c];
      if (resident >= 0 && resident < n && this.slotStamp[resident] === stamp) throw new ShapeError('ChunkCache.update', `chunk ${c} is selected twice for head ${h}`);
      while (this.slotStamp[free] === stamp) free++;
      const old = this.slotChunk[slotBase + free];
      if (old >= 0) this.chunkSlot[chunkBase + old] = -1;
      if (resident >= 0) this.slotChunk[slotBase + resident] = -1; // a stale copy (partial chunk or slot >= n)
      this.slotChunk[slotBase + free] = c;
      this.slotFull[slotBase + free] = c < store.fullChunks ? 1 : 0;
      this.chunkSlot[chunkBase + c] = free;
      this.slotStamp[free] = stamp;
      out[free] = c;
      this.missSlot[slotBase + i] = free;
    }
    this.missCount[h] = nMissed;
    this.hitCount[h] = nHit;
  }

  /**
   * Reads the misses of every head from the store into [nKvHeads, perHead] staged chunks and scatters them into
   * their slots. Heads with fewer than `perHead` misses fill the rest with hits (same values, distinct slots:
   * a head has n - misses >= perHead - misses hits), since scatterChunks moves equally many chunks per head.
   */
  private copyMisses(perHead: number): { bytesMoved: number; uploadBytes: number } {
    const { store, slotCount, chunkFloats, backend } = this;
    const nKv = store.nKvHeads;
    const floats = nKv * perHead * chunkFloats;
    if (this.staging.length < floats) this.staging = new Float32Array(floats);
    const staging = this.staging.subarray(0, floats); // [nKvHeads, perHead*chunkSize, headDim]
    const idx = new Int32Array(nKv * perHead); // [nKvHeads, perHead] target chunk ids
    let bytesMoved = 0;
    for (let h = 0; h < nKv; h++) {
      const slotBase = h * slotCount;
      const nMissed = this.missCount[h];
      for (let i = 0; i < perHead; i++) {
        const pad = i >= nMissed;
        const chunk = pad ? this.hitChunk[slotBase + i - nMissed] : this.missChunk[slotBase + i];
        const slot = pad ? this.hitSlot[slotBase + i - nMissed] : this.missSlot[slotBase + i];
        const rows = store.readChunk(h, chunk, staging, (h * perHead + i) * chunkFloats);
        if (!pad) bytesMoved += rows * store.headDim * 4;
        idx[h * perHead + i] = this.firstChunk + slot;
      }
    }
    const src = backend.upload(staging, [nKv, perHead * store.chunkSize, store.headDim]);
    const idxT = backend.upload(idx, [nKv, perHead]);
    backend.scatterChunks(this.target, src, idxT, store.chunkSize);
    backend.dispose(src);
    backend.dispose(idxT);
    return { bytesMoved, uploadBytes: floats * 4 };
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
