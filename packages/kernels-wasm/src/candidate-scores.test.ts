// wasm candidateScores and copyChunkPairs against the separate ops they replace (gatherChunks, rebuildKeys,
// landmarkScores; gatherChunks + scatterChunks), bit for bit: ShadowKV's refine must choose the same chunks either way.
import { mulberry32, type KernelBackend, type RopeSpec } from '@shadowkv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';

function normals(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() + r() + r() - 1.5) * 2 * scale);
}

/** Llama-style RoPE: invFreq[i] = 500000^(-2i/headDim). */
function makeRopeSpec(headDim: number): RopeSpec {
  return { headDim, invFreq: Float32Array.from({ length: headDim / 2 }, (_, i) => 500000 ** ((-2 * i) / headDim)), attentionScaling: 1 };
}

/** k distinct ints of [0, n), seeded. */
function distinct(k: number, n: number, seed: number): number[] {
  const r = mulberry32(seed);
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(r() * (n - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, k);
}

describe('wasm candidateScores / copyChunkPairs', () => {
  // One thread, and two with every sparse op split across the pool (the separate ops then run in parallel).
  const backends = [wasm({ threads: 1 }), wasm({ threads: 2, thresholds: { sparse: 0 } })];
  afterAll(async () => {
    for (const b of backends) (await b).destroy();
  });

  // [nHeads, nKvHeads, headDim, rank, chunkSize, nChunks, nCand, nSlots, positionOffset]; the large offset makes the
  // RoPE table a per-call one (indexed by rebuilt row), the others use the cached table.
  const shapes = [
    [4, 2, 64, 30, 8, 512, 64, 32, 0],
    [8, 2, 64, 24, 8, 300, 20, 12, 200_000],
    [3, 3, 66, 7, 7, 40, 9, 5, -3],
  ] as const;
  for (const [nHeads, nKv, d, rank, cs, nChunks, nCand, nSlots, off] of shapes) {
    it(`nHeads ${nHeads}, nKvHeads ${nKv}, headDim ${d}, rank ${rank}, chunkSize ${cs}, ${nCand} candidates, ${nSlots} held slots, offset ${off}: the separate ops' bits`, async () => {
      const rope = makeRopeSpec(d);
      const seqLen = nChunks * cs;
      const a = normals(seqLen * rank, 1);
      const b = normals(nKv * rank * d, 2, 1 / Math.sqrt(rank));
      const q = normals(nHeads * d, 3, 0.5);
      const scale = 1 / Math.sqrt(d);
      for (const pending of backends) {
        const be: KernelBackend = await pending;
        const [at, bt] = [be.upload(a, [seqLen, rank]), be.upload(b, [nKv, rank, d])];
        // held: nSlots chunks per head, each holding the rebuilt keys of a chunk id (what ShadowKV's Kd holds), + 3 rows.
        const heldIds = new Int32Array(nKv * nSlots);
        for (let g = 0; g < nKv; g++) heldIds.set(distinct(nSlots, nChunks, 10 + g), g * nSlots);
        const heldKeys = (await be.read(be.rebuildKeys(at, bt, be.upload(heldIds, [nKv, nSlots], 'i32'), cs, off, rope))) as Float32Array;
        const heldRows = nSlots * cs + 3;
        const held = new Float32Array(nKv * heldRows * d);
        for (let g = 0; g < nKv; g++) held.set(heldKeys.subarray(g * nSlots * cs * d, (g + 1) * nSlots * cs * d), g * heldRows * d);
        // Candidates: per head a different mix of held chunks (slot order shuffled) and others.
        const plan = new Int32Array(2 * nKv * nCand);
        for (let g = 0; g < nKv; g++) {
          const nHeld = Math.min(nSlots, Math.floor(nCand / 2) - g);
          const fromHeld = distinct(nHeld, nSlots, 20 + g);
          const heldSet = new Set(fromHeld.map((s) => heldIds[g * nSlots + s]));
          const others = distinct(nChunks, nChunks, 30 + g).filter((c) => !heldSet.has(c)).slice(0, nCand - nHeld);
          const order = distinct(nCand, nCand, 40 + g);
          for (let k = 0; k < nCand; k++) {
            const i = order[k];
            plan[2 * g * nCand + k] = i < nHeld ? heldIds[g * nSlots + fromHeld[i]] : others[i - nHeld];
            plan[(2 * g + 1) * nCand + k] = i < nHeld ? fromHeld[i] : -1;
          }
        }
        const ht = be.upload(held, [nKv, heldRows, d]);
        const qt = be.upload(q, [1, nHeads * d]);
        const [keys, scores] = be.candidateScores!(qt, at, bt, ht, be.upload(plan, [nKv, 2, nCand], 'i32'), cs, off, rope, nHeads, scale);
        // The separate ops: every candidate rebuilt (rebuildKeys), then the held ones' rows taken from held instead.
        const ids = new Int32Array(nKv * nCand);
        for (let g = 0; g < nKv; g++) ids.set(plan.subarray(2 * g * nCand, (2 * g + 1) * nCand), g * nCand);
        const want = (await be.read(be.rebuildKeys(at, bt, be.upload(ids, [nKv, nCand], 'i32'), cs, off, rope))) as Float32Array;
        const slotIdx = new Int32Array(nKv * nCand);
        for (let g = 0; g < nKv; g++) for (let k = 0; k < nCand; k++) slotIdx[g * nCand + k] = Math.max(0, plan[(2 * g + 1) * nCand + k]);
        const gathered = (await be.read(be.gatherChunks(ht, be.upload(slotIdx, [nKv, nCand], 'i32'), cs))) as Float32Array;
        const cf = cs * d;
        for (let g = 0; g < nKv; g++) {
          for (let k = 0; k < nCand; k++) {
            if (plan[(2 * g + 1) * nCand + k] >= 0) want.set(gathered.subarray((g * nCand + k) * cf, (g * nCand + k + 1) * cf), (g * nCand + k) * cf);
          }
        }
        const gotKeys = (await be.read(keys)) as Float32Array;
        expect(Array.from(gotKeys)).toEqual(Array.from(want));
        const wantScores = (await be.read(be.landmarkScores(qt, be.upload(want, [nKv, nCand * cs, d]), nHeads, scale))) as Float32Array;
        expect(Array.from((await be.read(scores)) as Float32Array)).toEqual(Array.from(wantScores));

        // copyChunkPairs: the candidates' chunks into held's slots, a third of the pairs skipped; the same as a
        // gather of the copied chunks and a scatter into their slots.
        const pairs = new Int32Array(nKv * nSlots * 2);
        for (let g = 0; g < nKv; g++) {
          for (let s = 0; s < nSlots; s++) {
            pairs[(g * nSlots + s) * 2] = (s + g) % 3 === 0 ? -1 : (s * 7 + g) % nCand;
            pairs[(g * nSlots + s) * 2 + 1] = s;
          }
        }
        be.copyChunkPairs!(ht, keys, be.upload(pairs, [nKv, nSlots, 2], 'i32'), cs);
        const after = (await be.read(ht)) as Float32Array;
        const expected = held.slice();
        for (let g = 0; g < nKv; g++) {
          for (let s = 0; s < nSlots; s++) {
            const from = pairs[(g * nSlots + s) * 2];
            if (from >= 0) expected.set(want.subarray((g * nCand + from) * cf, (g * nCand + from + 1) * cf), (g * heldRows + s * cs) * d);
          }
        }
        expect(Array.from(after)).toEqual(Array.from(expected));
      }
    });
  }

  it('rejects a plan slot outside held and a dst chunk written twice, naming the op', async () => {
    const be = await backends[0];
    const rope = makeRopeSpec(8);
    const [a, b, q] = [be.upload(normals(64 * 2, 1), [64, 2]), be.upload(normals(2 * 8, 2), [1, 2, 8]), be.upload(normals(8, 3), [1, 8])];
    const held = be.zeros([1, 8, 8]);
    expect(() => be.candidateScores!(q, a, b, held, be.upload(Int32Array.from([1, 2, 0, 2]), [1, 2, 2], 'i32'), 4, 0, rope, 1, 1)).toThrow(/candidateScores.*slot 2/);
    expect(() => be.copyChunkPairs!(held, be.zeros([1, 16, 8]), be.upload(Int32Array.from([0, 1, 2, 1]), [1, 2, 2], 'i32'), 4)).toThrow(/copyChunkPairs.*written twice/);
  });
});
