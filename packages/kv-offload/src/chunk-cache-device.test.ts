// ChunkCache.queueUpdate (the bookkeeping on the device through chunkCacheUpdate) against ChunkCache.update
// (the host bookkeeping): the same slots, hits, misses, bytes and fast-side values over random decode-like
// selections with a growing store (partial chunks), smaller selections, a position map, lists cut short by
// the read-back capacity, and the two paths mixed on one cache.
import type { KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { ChunkCache, type ChunkFetch } from './chunk-cache.js';
import { ValueStore } from './value-store.js';

const backend = cpu();
const nKvHeads = 3;
const headDim = 4;
const chunkSize = 2;
const val = (t: number, h: number, e: number) => t * 100 + h * 10 + e;

function row(t: number): Float32Array {
  const r = new Float32Array(nKvHeads * headDim);
  for (let h = 0; h < nKvHeads; h++) for (let e = 0; e < headDim; e++) r[h * headDim + e] = val(t, h, e);
  return r;
}

function storeOf(tokens: number): ValueStore {
  const store = new ValueStore({ nKvHeads, headDim, chunkSize, initialCapacity: 8 });
  for (let t = 0; t < tokens; t++) store.appendTokenMajor(row(t), 1);
  return store;
}

/** A seeded LCG in [0, 1). */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

function fetchOf(f: ChunkFetch): number[] {
  return [f.hits, f.misses, f.bytesMoved, f.uploadBytes];
}

describe('ChunkCache.queueUpdate (device bookkeeping)', () => {
  it('is undefined on a backend without chunkCacheUpdate (the caller reads the selection and calls update)', () => {
    const b = cpu() as KernelBackend;
    Object.defineProperty(b, 'chunkCacheUpdate', { value: undefined });
    const store = storeOf(20);
    const cache = new ChunkCache(b, store, b.zeros([nKvHeads, 4 * chunkSize, headDim]), { slots: 4 });
    expect(cache.queueUpdate(b.upload(new Int32Array(nKvHeads * 4), [nKvHeads, 4], 'i32'))).toBeUndefined();
  });

  for (const mapped of [false, true]) {
    it(`equals update step by step over random selections, a growing store and short read-backs${mapped ? ' (position map)' : ''}`, async () => {
      const slots = 8; // 24 selected chunks: more than the 16 misses the read-back lists at least
      const rand = rng(mapped ? 11 : 7);
      let tokens = 41; // chunk 20 partial
      const hostStore = storeOf(tokens);
      const devStore = storeOf(tokens);
      const hostTarget = backend.zeros([nKvHeads, slots * chunkSize, headDim]);
      const devTarget = backend.zeros([nKvHeads, slots * chunkSize, headDim]);
      const host = new ChunkCache(backend, hostStore, hostTarget, { slots });
      const dev = new ChunkCache(backend, devStore, devTarget, { slots });
      // With a map, the selection is positions into per-head chunk lists (ShadowKV's landmark order); the
      // map is widened as the store grows, keeping the old positions.
      let prev: number[][] = Array.from({ length: nKvHeads }, () => []);
      let overflowSteps = 0;
      for (let step = 0; step < 40; step++) {
        if (step % 5 === 4) {
          hostStore.appendTokenMajor(row(tokens), 1);
          devStore.appendTokenMajor(row(tokens), 1);
          tokens++;
        }
        const chunks = Math.ceil(tokens / chunkSize);
        const n = step % 9 === 8 ? 5 : slots;
        // Usually keep most of the last selection; now and then jump (a new topic: many misses at once).
        const keep = step % 13 === 12 ? 0 : 0.8;
        const sel = prev.map((p) => {
          const s = new Set(p.filter((c) => c < chunks && rand() < keep).slice(0, n));
          while (s.size < n) s.add(Math.floor(rand() * chunks));
          return [...s].sort((x, y) => x - y);
        });
        const ids = Int32Array.from(sel.flat());
        const map = new Int32Array(nKvHeads * chunks);
        const pos = new Int32Array(ids.length);
        for (let h = 0; h < nKvHeads; h++) {
          // map[h, i] = chunk (i + h) mod chunks: a different permutation per head.
          for (let i = 0; i < chunks; i++) map[h * chunks + i] = (i + h) % chunks;
          for (let s = 0; s < n; s++) pos[h * n + s] = (ids[h * n + s] - h + chunks) % chunks;
        }
        const want = host.update(ids, n);
        const selT = mapped ? backend.upload(pos, [nKvHeads, n], 'i32') : backend.upload(ids, [nKvHeads, n], 'i32');
        const mapT = mapped ? backend.upload(map, [nKvHeads, chunks], 'i32') : undefined;
        const before = dev.overflowReads;
        const pending = dev.queueUpdate(selT, { map: mapT })!;
        const order = (await backend.read(pending.order)) as Int32Array;
        const got = await pending.settle();
        overflowSteps += dev.overflowReads - before;
        expect(fetchOf(got), `step ${step}`).toEqual(fetchOf(want));
        expect(Array.from(got.slots), `step ${step}`).toEqual(Array.from(want.slots));
        for (let h = 0; h < nKvHeads; h++) {
          expect(Array.from(order.subarray(h * slots, h * slots + n))).toEqual(Array.from(want.slots.subarray(h * n, (h + 1) * n)));
          expect(Array.from(order.subarray(h * slots + n, (h + 1) * slots)).every((c) => c === 0)).toBe(true);
        }
        expect(Array.from((await backend.read(devTarget)) as Float32Array)).toEqual(Array.from((await backend.read(hostTarget)) as Float32Array));
        prev = sel;
      }
      // Only steps that miss more than the read-back holds read the slot order as well.
      expect(overflowSteps).toBeLessThan(10);
    });
  }

  it('reads the slot order as well when more chunks miss than the read-back lists, and stays exact', async () => {
    const slots = 8;
    const store = storeOf(200);
    const ref = new ChunkCache(backend, storeOf(200), backend.zeros([nKvHeads, slots * chunkSize, headDim]), { slots });
    const cache = new ChunkCache(backend, store, backend.zeros([nKvHeads, slots * chunkSize, headDim]), { slots });
    const sel = (first: number) => Int32Array.from({ length: nKvHeads * slots }, (_, i) => first + i);
    // All 24 miss (read-back sized for all); four steps miss nothing (sized for the 24 missed among the last
    // four updates, i.e. all); then 24 new chunks after four updates without misses: the read-back lists 16 (its
    // floor), so the slot order (24 ids) follows.
    const all = (3 + 24) * 4;
    for (const [first, overflows, bytes] of [[0, 0, all], [0, 0, all], [0, 0, all], [0, 0, all], [0, 0, all], [50, 1, (3 + 16 + 24) * 4]]) {
      const before = [cache.overflowReads, cache.bytesReadBack];
      const want = ref.update(sel(first), slots);
      const got = await cache.queueUpdate(backend.upload(sel(first), [nKvHeads, slots], 'i32'))!.settle();
      expect(fetchOf(got)).toEqual(fetchOf(want));
      expect(Array.from(got.slots)).toEqual(Array.from(want.slots));
      expect([cache.overflowReads - before[0], cache.bytesReadBack - before[1]]).toEqual([overflows, bytes]);
    }
  });

  it('mixes with update and reset on one cache (the device table follows the host state)', async () => {
    const slots = 4;
    const store = storeOf(30);
    const ref = new ChunkCache(backend, storeOf(30), backend.zeros([nKvHeads, slots * chunkSize, headDim]), { slots });
    const cache = new ChunkCache(backend, store, backend.zeros([nKvHeads, slots * chunkSize, headDim]), { slots });
    const sels = [
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      [0, 1, 2, 9, 4, 5, 6, 12, 8, 9, 10, 13],
      [3, 1, 2, 9, 14, 5, 6, 12, 8, 9, 7, 13],
      [3, 1, 2, 9, 14, 5, 6, 12, 8, 9, 7, 13],
    ];
    for (let i = 0; i < 8; i++) {
      const ids = Int32Array.from(sels[i % sels.length]);
      if (i === 5) {
        cache.reset();
        ref.reset();
      }
      const want = ref.update(ids, slots);
      let got: ChunkFetch;
      if (i % 3 === 1) got = cache.update(ids, slots);
      else got = await cache.queueUpdate(backend.upload(ids, [nKvHeads, slots], 'i32'))!.settle();
      expect(fetchOf(got), `step ${i}`).toEqual(fetchOf(want));
      expect(Array.from(got.slots)).toEqual(Array.from(want.slots));
    }
  });
});
