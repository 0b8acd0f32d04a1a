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

/** A device-side update in flight (ChunkCache.queueUpdate). */
export interface PendingChunkFetch {
  /**
   * i32 [nKvHeads, slotCount] on the device: the chunk id of each slot after the update (slots n.. hold 0), in
   * the order `ChunkFetch.slots` reports. Ops queued with it (the key rebuild) need no host round trip; it is
   * disposed by `settle`, so queue them before.
   */
  order: Tensor;
  /** Waits for the misses (read started by queueUpdate), queues their values' copy and returns the counts. Call once. */
  settle(): Promise<ChunkFetch>;
}

/** Options of ChunkCache.queueUpdate. */
export interface QueueUpdateOptions {
  /** i32 [nKvHeads, nMap]: `sel` holds positions into this map (chunk id = map[h, sel[h, s]]) instead of chunk ids. */
  map?: Tensor;
  /**
   * Chunks below this id are complete when `settle` copies them (default: the store's fullChunks now); give it
   * when values are appended to the store between queueUpdate and settle (KCache's new token).
   */
  fullChunks?: number;
}

/** Fewest misses the device-side update lists for the host to read back. */
const MIN_MISS_CAPACITY = 16;
/** Updates whose misses size the read-back. */
const MISS_HISTORY = 4;

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
 *
 * On backends with the optional `chunkCacheUpdate` op, `queueUpdate` runs the same bookkeeping on the device
 * against a table of the resident chunks, so the selection never comes to the host: the slot order stays on the
 * device for the key rebuild (queued before anything is awaited), and only the misses (count per head, then
 * chunk id · slots + slot of each) are read back, the read overlapping whatever the caller queues meanwhile. The host
 * state here is kept equal to the device's table by applying those misses (the same rule, so `update` and
 * `queueUpdate` can be mixed); the table is re-uploaded from it only after a host-side update, reset or growth.
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
  /** Device table of chunkCacheUpdate [nKvHeads, slotCount + tableChunks]: resident full chunks (queueUpdate only). */
  private table: Tensor | undefined;
  private tableChunks = 0;
  /** The host state changed since the table was written (host update, reset): upload it before the next device update. */
  private tableStale = true;
  /** Misses of the last updates (all heads), newest first; -1 before any: size the next device update's read-back. */
  private recentMisses: number[] = [];
  /** Device updates whose misses did not fit the read-back (each cost a second read, of the slot order). */
  overflowReads = 0;
  /** Bytes the device updates read back (misses lists, and slot orders after an overflow). */
  bytesReadBack = 0;

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
    this.tableStale = true;
    this.noteMisses(misses);
    return { slots: out, hits, misses, ...moved };
  }

  /**
   * The device-side `update` (backends with chunkCacheUpdate; undefined elsewhere, where the caller reads the
   * selection back and calls `update`). `sel` i32 [nKvHeads, n] (n <= slotCount), chunk ids or positions into
   * opts.map, on the device. Queues the bookkeeping and starts reading the misses back; the slot order is ready
   * on the device at once. Same slots, hits, misses and bytes as `update` with the same selection.
   */
  queueUpdate(sel: Tensor, opts: QueueUpdateOptions = {}): PendingChunkFetch | undefined {
    const { backend, store, slotCount } = this;
    if (!backend.chunkCacheUpdate) return undefined;
    const nKv = store.nKvHeads;
    const n = sel.shape[1];
    if (sel.shape.length !== 2 || sel.shape[0] !== nKv || !Number.isInteger(n) || n > slotCount) {
      throw new ShapeError('ChunkCache.queueUpdate', `sel [${sel.shape.join(', ')}] must be [${nKv}, n] with n <= ${slotCount} slots`);
    }
    const fullChunks = opts.fullChunks ?? store.fullChunks;
    const chunks = Math.max(store.chunkCount, fullChunks);
    this.growChunkIndex(chunks);
    if (this.tableStale || !this.table || this.tableChunks < chunks) this.writeTable();
    // The read-back lists 1.5x the most misses of the last few updates plus 16 (all of them after a reset):
    // rarely more miss, and then the slot order is read as well (overflowReads, one more round trip).
    const all = nKv * n;
    const recent = this.recentMisses.length === 0 ? all : Math.max(...this.recentMisses);
    const capacity = Math.min(all, Math.max(MIN_MISS_CAPACITY, 8 * Math.ceil((1.5 * recent + 16) / 8)));
    const { order, misses } = backend.chunkCacheUpdate(this.table as Tensor, sel, { slots: slotCount, fullChunks, capacity, map: opts.map });
    const list = backend.read(misses);
    backend.dispose(misses);
    let settled = false;
    const settle = async (): Promise<ChunkFetch> => {
      if (settled) throw new ShapeError('ChunkCache.queueUpdate', 'settle() was called twice');
      settled = true;
      try {
        const m = (await list) as Int32Array;
        this.bytesReadBack += m.byteLength;
        return await this.applyDeviceMisses(m, n, capacity, fullChunks, order);
      } finally {
        backend.dispose(order);
      }
    };
    return { order, settle };
  }

  /**
   * Whether queueUpdate works here: the backend offers chunkCacheUpdate, and a miss (chunk id · slots + slot,
   * for the table's chunk capacity after one more chunk) fits an i32. Otherwise callers use update.
   */
  get onDevice(): boolean {
    if (typeof this.backend.chunkCacheUpdate !== 'function') return false;
    let cap = Math.max(16, this.chunkCapacity);
    while (cap < this.store.chunkCount + 1) cap *= 2;
    return cap * this.slotCount <= 2 ** 31 - 1;
  }

  /** Forgets every resident chunk (the next update misses everything). */
  reset(): void {
    this.slotChunk.fill(-1);
    this.slotFull.fill(0);
    this.chunkSlot.fill(-1);
    this.tableStale = true;
    this.recentMisses = [];
  }

  /** Frees the device table (the host state stays; a later queueUpdate uploads it again). */
  dispose(): void {
    if (this.table) this.backend.dispose(this.table);
    this.table = undefined;
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
      this.placeMiss(h, c, free, store.fullChunks);
      this.slotStamp[free] = stamp;
      out[free] = c;
      this.missSlot[slotBase + i] = free;
    }
    this.missCount[h] = nMissed;
    this.hitCount[h] = nHit;
  }

  /** Puts missed chunk c of head h into slot `free`, evicting its chunk (the rule both update paths share). */
  private placeMiss(h: number, c: number, free: number, fullChunks: number): void {
    const slotBase = h * this.slotCount;
    const chunkBase = h * this.chunkCapacity;
    const resident = this.chunkSlot[chunkBase + c];
    const old = this.slotChunk[slotBase + free];
    if (old >= 0) this.chunkSlot[chunkBase + old] = -1;
    if (resident >= 0) this.slotChunk[slotBase + resident] = -1; // a stale copy (partial chunk or slot >= n)
    this.slotChunk[slotBase + free] = c;
    this.slotFull[slotBase + free] = c < fullChunks ? 1 : 0;
    this.chunkSlot[chunkBase + c] = free;
  }

  /**
   * The host half of a device update: the misses list m (chunkCacheUpdate's layout) — or, when it overflowed,
   * the slot order compared with the host state — applied to the host state, then the misses' values copied.
   */
  private async applyDeviceMisses(m: Int32Array, n: number, capacity: number, fullChunks: number, order: Tensor): Promise<ChunkFetch> {
    const { store, slotCount } = this;
    const nKv = store.nKvHeads;
    let total = 0;
    for (let h = 0; h < nKv; h++) total += m[h];
    const slots = new Int32Array(nKv * n);
    const isMiss = new Uint8Array(slotCount);
    let hits = 0;
    let maxMissed = 0;
    if (total > capacity) {
      // Not every miss was listed: the misses are the slots whose chunk differs from the recorded full one.
      this.overflowReads++;
      const o = (await this.backend.read(order)) as Int32Array; // [nKvHeads, slotCount]
      this.bytesReadBack += o.byteLength;
      for (let h = 0; h < nKv; h++) {
        const slotBase = h * slotCount;
        let nMissed = 0;
        for (let s = 0; s < n; s++) {
          const c = o[slotBase + s];
          if (this.slotFull[slotBase + s] === 1 && this.slotChunk[slotBase + s] === c) continue;
          this.missChunk[slotBase + nMissed] = c;
          this.missSlot[slotBase + nMissed++] = s;
        }
        if (nMissed !== m[h]) throw new ShapeError('ChunkCache.queueUpdate', `the device counted ${m[h]} misses for head ${h}, its slot order shows ${nMissed}: the host and device tables disagree`);
      }
    } else {
      let at = nKv;
      for (let h = 0; h < nKv; h++) {
        for (let i = 0; i < m[h]; i++, at++) {
          this.missChunk[h * slotCount + i] = Math.floor(m[at] / slotCount);
          this.missSlot[h * slotCount + i] = m[at] % slotCount;
        }
      }
    }
    for (let h = 0; h < nKv; h++) {
      const slotBase = h * slotCount;
      const nMissed = m[h];
      isMiss.fill(0);
      for (let i = 0; i < nMissed; i++) {
        const c = this.missChunk[slotBase + i];
        const slot = this.missSlot[slotBase + i];
        if (slot < 0 || slot >= n || isMiss[slot] || c < 0 || c >= this.chunkCapacity) {
          throw new ShapeError('ChunkCache.queueUpdate', `the device listed chunk ${c} into slot ${slot} of head ${h} (n = ${n}): the host and device tables disagree`);
        }
        isMiss[slot] = 1;
        this.placeMiss(h, c, slot, fullChunks);
      }
      let nHit = 0;
      for (let s = 0; s < n; s++) {
        const c = this.slotChunk[slotBase + s];
        slots[h * n + s] = c;
        if (isMiss[s]) continue;
        this.hitChunk[slotBase + nHit] = c;
        this.hitSlot[slotBase + nHit++] = s;
      }
      this.missCount[h] = nMissed;
      this.hitCount[h] = nHit;
      hits += nHit;
      maxMissed = Math.max(maxMissed, nMissed);
    }
    this.noteMisses(total);
    const moved = maxMissed > 0 ? this.copyMisses(maxMissed) : { bytesMoved: 0, uploadBytes: 0 };
    return { slots, hits, misses: total, ...moved };
  }

  /** Remembers an update's misses for sizing the next read-back (the last MISS_HISTORY updates). */
  private noteMisses(misses: number): void {
    this.recentMisses.unshift(misses);
    if (this.recentMisses.length > MISS_HISTORY) this.recentMisses.pop();
  }

  /** Uploads the device table from the host state: only chunks that were full when fetched count as resident. */
  private writeTable(): void {
    const { store, slotCount, chunkCapacity } = this;
    const nKv = store.nKvHeads;
    const width = slotCount + chunkCapacity;
    const t = new Int32Array(nKv * width).fill(-1);
    for (let h = 0; h < nKv; h++) {
      for (let s = 0; s < slotCount; s++) {
        const c = this.slotChunk[h * slotCount + s];
        if (c < 0 || this.slotFull[h * slotCount + s] !== 1) continue;
        t[h * width + s] = c;
        t[h * width + slotCount + c] = s;
      }
    }
    if (this.table) this.backend.dispose(this.table);
    this.table = this.backend.upload(t, [nKv, width], 'i32');
    this.tableChunks = chunkCapacity;
    this.tableStale = false;
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
