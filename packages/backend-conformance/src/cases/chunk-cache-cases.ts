// Conformance of the optional ops of the device-side sparse decode step: chunkCacheUpdate (ChunkCache's
// bookkeeping on the device), rebuildKeysInto (the key rebuild written into the decode key buffer) and flush.
// chunkCacheUpdate against the CPU reference: a run of several updates on one table, each step's slot order, misses list and the table itself
// compared exactly (integers). Steps overlap the previous selection (hits), shrink and grow n (slots past n keep
// their chunks), mark some chunks partial (fullChunks), use a position map, and list fewer pairs than miss
// (capacity). Skipped, saying so, for a backend without the op (callers use the host ChunkCache) and outside
// the f32 run (no floats involved: one run suffices).
import type { KernelBackend } from '@shadowkv/core';
import type { ConformanceCase } from '../conformance-case.js';
import { ConformanceMismatchError } from '../conformance-mismatch-error.js';
import { checkAgainstReference } from '../reference-case.js';
import { makeRopeSpec } from '../test-rope-spec.js';
import type { SeededRng } from '../seeded-rng.js';

interface Step {
  sel: Int32Array; // [nKv, n]
  n: number;
  fullChunks: number;
  capacity: number;
}

/** Selections that keep about `keep` of the previous step's chunks per head, the rest drawn fresh. */
function steps(r: SeededRng, nKv: number, slots: number, chunks: number, count: number, mapped: boolean, nMap: number): Step[] {
  const out: Step[] = [];
  let prev: Int32Array[] = [];
  for (let i = 0; i < count; i++) {
    const n = i === 2 ? Math.max(1, slots - 2) : slots; // one step with n < slots
    const universe = mapped ? nMap : chunks;
    const sel = new Int32Array(nKv * n);
    const next: Int32Array[] = [];
    for (let h = 0; h < nKv; h++) {
      const chosen = new Set<number>();
      for (const c of prev[h] ?? []) if (chosen.size < n && r.next() < 0.6) chosen.add(c);
      while (chosen.size < n) chosen.add(r.int(0, universe - 1));
      const ids = Int32Array.from([...chosen]);
      // Ascending (as topK returns) in most steps, shuffled in one.
      if (i !== 3) ids.sort();
      sel.set(ids, h * n);
      next.push(ids);
    }
    prev = next;
    const fullChunks = i === 1 ? Math.floor(chunks / 2) : chunks; // step 1: the upper half is partial
    const capacity = i === 4 ? 3 : nKv * n; // step 4: the list is cut short, the counts stay whole
    out.push({ sel, n, fullChunks, capacity });
  }
  return out;
}

async function runAll(backend: KernelBackend, nKv: number, slots: number, chunks: number, list: Step[], map: Int32Array | undefined, nMap: number): Promise<Int32Array[][]> {
  const width = slots + chunks;
  const table = backend.upload(new Int32Array(nKv * width).fill(-1), [nKv, width], 'i32');
  const mapT = map ? backend.upload(map, [nKv, nMap], 'i32') : undefined;
  const results: Int32Array[][] = [];
  try {
    for (const s of list) {
      const sel = backend.upload(s.sel, [nKv, s.n], 'i32');
      const { order, misses } = backend.chunkCacheUpdate!(table, sel, { slots, fullChunks: s.fullChunks, capacity: s.capacity, map: mapT });
      const got = [order, misses, table].map((t) => backend.read(t));
      results.push((await Promise.all(got)) as Int32Array[]);
      for (const t of [sel, order, misses]) backend.dispose(t);
    }
  } finally {
    backend.dispose(table);
    if (mapT) backend.dispose(mapT);
  }
  return results;
}

function chunkCacheCase(nKv: number, slots: number, chunks: number, mapped: boolean): ConformanceCase {
  const name = `nKv=${nKv} slots=${slots} chunks=${chunks}${mapped ? ' mapped' : ''}`;
  return {
    op: 'chunkCacheUpdate',
    name,
    async check(ctx) {
      if (ctx.dtype !== 'f32') return ctx.skip?.('chunkCacheUpdate has no float data; it runs in the f32 run');
      if (typeof ctx.backend.chunkCacheUpdate !== 'function') return ctx.skip?.(`${ctx.backend.name} does not offer the optional chunkCacheUpdate`);
      const r = ctx.rng;
      // With a map, sel holds positions into per-head lists of distinct chunk ids (ShadowKV's landmarks).
      const nMap = mapped ? Math.min(chunks, slots * 3) : 0;
      const map = mapped ? new Int32Array(nKv * nMap) : undefined;
      if (map) for (let h = 0; h < nKv; h++) map.set(Int32Array.from(r.distinct(nMap, chunks)).sort(), h * nMap);
      const list = steps(r, nKv, slots, chunks, 6, mapped, nMap);
      const want = await runAll(ctx.reference, nKv, slots, chunks, list, map, nMap);
      const got = await runAll(ctx.backend, nKv, slots, chunks, list, map, nMap);
      const what = ['order', 'misses', 'table'];
      for (let i = 0; i < list.length; i++) {
        for (let k = 0; k < 3; k++) {
          const [g, w] = [got[i][k], want[i][k]];
          const at = g.length !== w.length ? -2 : g.findIndex((v, j) => v !== w[j]);
          if (at === -2) throw new ConformanceMismatchError(`chunkCacheUpdate ${name}: step ${i} ${what[k]} has ${g.length} entries, expected ${w.length}`);
          if (at >= 0) throw new ConformanceMismatchError(`chunkCacheUpdate ${name}: step ${i} ${what[k]}[${at}] = ${g[at]}, expected ${w[at]}`);
        }
      }
    },
  };
}

/**
 * rebuildKeysInto over a key buffer that starts filled (rows past the rebuilt ones must stay exactly as they were),
 * with the rebuild's tolerance: a rotation of rank-long sums at each token's position.
 */
function rebuildIntoCase(nKv: number, rows: number, seqLen: number, rank: number, headDim: number, chunkSize: number, nSel: number, positionOffset: number): ConformanceCase {
  const name = `nKvHeads=${nKv} rows=${rows} seqLen=${seqLen} rank=${rank} headDim=${headDim} chunkSize=${chunkSize} nSel=${nSel} positionOffset=${positionOffset}`;
  return {
    op: 'rebuildKeysInto',
    name,
    async check(ctx) {
      if (ctx.dtype !== 'f32') return ctx.skip?.('rebuildKeysInto writes an f32 key buffer; it runs in the f32 run');
      if (typeof ctx.backend.rebuildKeysInto !== 'function') return ctx.skip?.(`${ctx.backend.name} does not offer the optional rebuildKeysInto`);
      const r = ctx.rng;
      const rope = makeRopeSpec(headDim, { longContextScaling: true });
      const nChunks = Math.floor(seqLen / chunkSize);
      const idx = new Int32Array(nKv * nSel);
      for (let h = 0; h < nKv; h++) idx.set(r.distinct(nSel, nChunks), h * nSel);
      const angles = new Float64Array(nKv * rows * headDim);
      for (let g = 0; g < nKv; g++) {
        for (let s = 0; s < nSel; s++) {
          for (let j = 0; j < chunkSize; j++) {
            const pos = idx[g * nSel + s] * chunkSize + j + positionOffset;
            const o = (g * rows + s * chunkSize + j) * headDim;
            for (let e = 0; e < headDim; e++) angles[o + e] = pos * rope.invFreq[e % (headDim / 2)];
          }
        }
      }
      await checkAgainstReference(ctx, 'rebuildKeysInto', name, {
        inputs: [
          { data: r.normals(nKv * rows * headDim), shape: [nKv, rows, headDim] },
          { data: r.normals(seqLen * rank), shape: [seqLen, rank] },
          { data: r.normals(nKv * rank * headDim, 1 / Math.sqrt(rank)), shape: [nKv, rank, headDim] },
          { data: idx, shape: [nKv, nSel] },
        ],
        run: (be, [dst, a, b, ids]) => be.rebuildKeysInto!(dst, a, b, ids, chunkSize, positionOffset, rope),
        tolerance: { kind: 'rotation', length: rank, angles },
      });
    },
  };
}

/** flush submits without changing results: an op queued before it and one after read back as the reference's. */
function flushCase(): ConformanceCase {
  return {
    op: 'flush',
    name: 'between two queued ops',
    async check(ctx) {
      if (typeof ctx.backend.flush !== 'function') return ctx.skip?.(`${ctx.backend.name} does not offer the optional flush`);
      const r = ctx.rng;
      const a = r.normals(64);
      const b = r.normals(64);
      const run = async (be: KernelBackend): Promise<Float32Array> => {
        const [x, y] = [be.upload(a, [64]), be.upload(b, [64])];
        const s = be.add(x, y);
        be.flush?.();
        const t = be.add(s, x);
        be.flush?.();
        const out = (await be.read(t)) as Float32Array;
        for (const u of [x, y, s, t]) be.dispose(u);
        return out;
      };
      const [got, want] = [await run(ctx.backend), await run(ctx.reference)];
      const at = got.findIndex((v, i) => v !== want[i]);
      if (at >= 0) throw new ConformanceMismatchError(`flush: element ${at} = ${got[at]}, expected ${want[at]}`);
    },
  };
}

/**
 * chunkCacheUpdate: small and decode-like shapes, one scan block and several (slots > 256), with and without a
 * map; rebuildKeysInto: budget rows then static rows, a negative position offset; flush.
 */
export function chunkCacheCases(): ConformanceCase[] {
  return [
    chunkCacheCase(1, 4, 16, false), chunkCacheCase(2, 8, 40, true), chunkCacheCase(3, 32, 200, false), chunkCacheCase(2, 300, 1200, false), chunkCacheCase(8, 32, 120, true),
    rebuildIntoCase(2, 40, 64, 8, 64, 8, 3, 0),
    rebuildIntoCase(3, 70, 200, 16, 128, 4, 10, -7),
    flushCase(),
  ];
}
