import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { ChunkCache } from './chunk-cache.js';
import { ValueStore } from './value-store.js';

const backend = cpu();
const nKvHeads = 2;
const headDim = 4;
const chunkSize = 3;
const val = (t: number, h: number, e: number) => t * 100 + h * 10 + e;

function filledStore(tokens: number): ValueStore {
  const store = new ValueStore({ nKvHeads, headDim, chunkSize, initialCapacity: 8 });
  const src = new Float32Array(nKvHeads * tokens * headDim);
  for (let h = 0; h < nKvHeads; h++) for (let t = 0; t < tokens; t++) for (let e = 0; e < headDim; e++) src[(h * tokens + t) * headDim + e] = val(t, h, e);
  store.appendHeadMajor(src, tokens, tokens);
  return store;
}

/** Checks that slot s of head h in the target holds chunk slots[h*n+s] (tokens c*chunkSize..). */
async function expectSlotsHold(target: ReturnType<typeof backend.zeros>, slots: Int32Array, n: number, firstRow: number, tokens: number): Promise<void> {
  const rows = target.shape[1];
  const data = (await backend.read(target)) as Float32Array;
  for (let h = 0; h < nKvHeads; h++) {
    for (let s = 0; s < n; s++) {
      const c = slots[h * n + s];
      for (let j = 0; j < chunkSize; j++) {
        const t = c * chunkSize + j;
        for (let e = 0; e < headDim; e++) expect(data[(h * rows + firstRow + s * chunkSize + j) * headDim + e]).toBe(t < tokens ? val(t, h, e) : 0);
      }
    }
  }
}

describe('ChunkCache', () => {
  it('copies only the chunks that were not selected last step, and keeps hits in their slots', async () => {
    const store = filledStore(30); // 10 chunks
    const target = backend.zeros([nKvHeads, chunkSize + 3 * chunkSize + 4, headDim]);
    const cache = new ChunkCache(backend, store, target, { slots: 3, firstRow: chunkSize });
    const chunkBytes = chunkSize * headDim * 4;
    const a = cache.update(new Int32Array([1, 4, 7, 0, 2, 9]), 3);
    expect([a.hits, a.misses, a.bytesMoved, a.uploadBytes]).toEqual([0, 6, 6 * chunkBytes, 6 * chunkBytes]);
    expect(Array.from(a.slots)).toEqual([1, 4, 7, 0, 2, 9]);
    await expectSlotsHold(target, a.slots, 3, chunkSize, 30);
    // Head 0 keeps 4 and 7 (hits) and fetches 9 into 1's slot; head 1 keeps everything (in a new order). One
    // scatter moves as many chunks for every head, so head 1 re-sends one of its hits: 2 chunks uploaded.
    const b = cache.update(new Int32Array([9, 7, 4, 9, 2, 0]), 3);
    expect([b.hits, b.misses, b.bytesMoved, b.uploadBytes]).toEqual([5, 1, chunkBytes, 2 * chunkBytes]);
    expect(Array.from(b.slots)).toEqual([9, 4, 7, 0, 2, 9]);
    await expectSlotsHold(target, b.slots, 3, chunkSize, 30);
    // The same selection again moves nothing.
    const c = cache.update(new Int32Array([9, 7, 4, 9, 2, 0]), 3);
    expect([c.hits, c.misses, c.bytesMoved, c.uploadBytes]).toEqual([6, 0, 0, 0]);
    await expectSlotsHold(target, c.slots, 3, chunkSize, 30);
    // Rows outside the slots are never written.
    const data = (await backend.read(target)) as Float32Array;
    for (let h = 0; h < nKvHeads; h++) {
      const rows = target.shape[1];
      expect(data.subarray(h * rows * headDim, (h * rows + chunkSize) * headDim).every((x) => x === 0)).toBe(true);
      expect(data.subarray((h * rows + 4 * chunkSize) * headDim, (h + 1) * rows * headDim).every((x) => x === 0)).toBe(true);
    }
  });

  it('re-fetches a resident chunk whose slot lies past a smaller selection', async () => {
    const store = filledStore(30);
    const target = backend.zeros([nKvHeads, 3 * chunkSize, headDim]);
    const cache = new ChunkCache(backend, store, target, { slots: 3 });
    cache.update(new Int32Array([1, 2, 3, 1, 2, 3]), 3);
    const r = cache.update(new Int32Array([3, 1]), 1); // chunk 3 sits in slot 2 for head 0; chunk 1 in slot 0 for head 1
    expect([r.hits, r.misses]).toEqual([1, 1]);
    expect(Array.from(r.slots)).toEqual([3, 1]);
    await expectSlotsHold(target, r.slots, 1, 0, 30);
    const back = cache.update(new Int32Array([1, 2, 3, 1, 2, 3]), 3);
    expect(back.hits + back.misses).toBe(6);
    await expectSlotsHold(target, back.slots, 3, 0, 30);
  });

  it('always re-reads the partial last chunk, which grows as tokens are appended', async () => {
    const store = filledStore(7); // chunks 0, 1 full; chunk 2 holds token 6 only
    const target = backend.zeros([nKvHeads, 2 * chunkSize, headDim]);
    const cache = new ChunkCache(backend, store, target, { slots: 2 });
    cache.update(new Int32Array([0, 2, 0, 2]), 2);
    const row = new Float32Array(nKvHeads * headDim);
    for (let h = 0; h < nKvHeads; h++) for (let e = 0; e < headDim; e++) row[h * headDim + e] = val(7, h, e);
    store.appendTokenMajor(row, 1);
    const r = cache.update(new Int32Array([0, 2, 0, 2]), 2);
    expect([r.hits, r.misses, r.bytesMoved]).toEqual([2, 2, 2 * 2 * headDim * 4]);
    await expectSlotsHold(target, r.slots, 2, 0, 8);
  });

  it('does not count a chunk fetched while partial as a hit once it has filled', async () => {
    const store = filledStore(7); // chunk 2 holds token 6 only
    const target = backend.zeros([nKvHeads, 2 * chunkSize, headDim]);
    const cache = new ChunkCache(backend, store, target, { slots: 2 });
    cache.update(new Int32Array([0, 2, 0, 2]), 2);
    for (const t of [7, 8]) {
      const row = new Float32Array(nKvHeads * headDim);
      for (let h = 0; h < nKvHeads; h++) for (let e = 0; e < headDim; e++) row[h * headDim + e] = val(t, h, e);
      store.appendTokenMajor(row, 1);
    }
    expect(store.fullChunks).toBe(3);
    const r = cache.update(new Int32Array([0, 2, 0, 2]), 2);
    expect([r.hits, r.misses]).toEqual([2, 2]); // chunk 2 is fetched again, now with 3 rows
    await expectSlotsHold(target, r.slots, 2, 0, 9);
    const again = cache.update(new Int32Array([2, 0, 2, 0]), 2);
    expect([again.hits, again.misses]).toEqual([4, 0]);
  });

  it('counts hits and misses over random selections: misses = chunks not selected at the previous step', async () => {
    const nChunks = 40;
    const n = 6;
    const store = filledStore(nChunks * chunkSize);
    const target = backend.zeros([nKvHeads, n * chunkSize, headDim]);
    const cache = new ChunkCache(backend, store, target, { slots: n });
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    let prev: number[][] = [[], []];
    for (let step = 0; step < 25; step++) {
      // Keep most of the previous selection, as consecutive decode steps do, and draw the rest.
      const sel = prev.map((p) => {
        const s = new Set(p.filter(() => rand() < 0.7));
        while (s.size < n) s.add(Math.floor(rand() * nChunks));
        return [...s].sort(() => rand() - 0.5);
      });
      const r = cache.update(Int32Array.from(sel.flat()), n);
      const expectedMisses = sel.reduce((acc, s, h) => acc + s.filter((c) => !prev[h].includes(c)).length, 0);
      expect(r.misses).toBe(expectedMisses);
      expect(r.hits).toBe(nKvHeads * n - expectedMisses);
      const mostMissed = Math.max(...sel.map((s, h) => s.filter((c) => !prev[h].includes(c)).length));
      expect(r.uploadBytes).toBe(nKvHeads * mostMissed * chunkSize * headDim * 4);
      for (let h = 0; h < nKvHeads; h++) expect(Array.from(r.slots.subarray(h * n, (h + 1) * n)).sort((x, y) => x - y)).toEqual([...sel[h]].sort((x, y) => x - y));
      await expectSlotsHold(target, r.slots, n, 0, nChunks * chunkSize);
      prev = sel;
    }
  });

  it('rejects repeated chunks, unknown chunks and selections larger than the slots', () => {
    const store = filledStore(30);
    const cache = new ChunkCache(backend, store, backend.zeros([nKvHeads, 3 * chunkSize, headDim]), { slots: 3 });
    expect(() => cache.update(new Int32Array([1, 1, 0, 2]), 2)).toThrow(/selected twice/);
    cache.reset();
    cache.update(new Int32Array([1, 5, 0, 2]), 2);
    expect(() => cache.update(new Int32Array([5, 5, 0, 2]), 2)).toThrow(/selected twice/);
    expect(() => cache.update(new Int32Array([10, 1, 0, 2]), 2)).toThrow(/chunk id 10/);
    expect(() => cache.update(new Int32Array(8), 4)).toThrow(/n must be/);
    expect(() => new ChunkCache(backend, store, backend.zeros([nKvHeads, 8, headDim]), { slots: 3 })).toThrow(/do not fit/);
    expect(() => new ChunkCache(backend, store, backend.zeros([nKvHeads, 20, headDim]), { slots: 3, firstRow: 2 })).toThrow(/multiple of chunkSize/);
  });
});
