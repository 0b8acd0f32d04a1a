import type { RopeSpec } from '@shadowkv/core';
import { ShapeError } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { randomArray } from './random-data.test-support.js';
import { heldAndFreshCandidates, refineChunks, refineChunksKeepingKeys, topChunksByMass } from './refine-chunks.js';
import { landmarkChunkIds, selectChunks } from './select-chunks.js';

const backend = cpu();

function ropeSpec(headDim: number, theta: number): RopeSpec {
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  return { headDim, invFreq, attentionScaling: 1 };
}

/** Host rotate-half RoPE of one row in place, in float64. */
function ropeRow(x: Float64Array, pos: number, rope: RopeSpec): void {
  const half = rope.headDim / 2;
  for (let i = 0; i < half; i++) {
    const ang = pos * rope.invFreq[i];
    const [c, s] = [Math.cos(ang), Math.sin(ang)];
    const [x1, x2] = [x[i], x[i + half]];
    x[i] = x1 * c - x2 * s;
    x[i + half] = x2 * c + x1 * s;
  }
}

describe('topChunksByMass', () => {
  it('sums each candidate chunk, keeps the largest, ties to the lower chunk id, ascending', () => {
    // 2 heads, 4 candidates of 2 tokens each; eighths are exact in float32, so the ties are real ties.
    const scores = Float32Array.from([
      0.125, 0.125, /* chunk 9 */ 0.25, 0.125, /* chunk 2 */ 0.125, 0.25, /* chunk 7 */ 0.125, 0 /* chunk 4 */,
      0, 0.5, /* chunk 1 */ 0.25, 0.125, /* chunk 3 */ 0.125, 0.25, /* chunk 6 */ 0, 0.125 /* chunk 8 */,
    ]);
    const candidates = Int32Array.from([9, 2, 7, 4, 1, 3, 6, 8]);
    // Head 0: masses 0.25, 0.375, 0.375, 0.125 → 2 and 7; head 1: 0.5, 0.375, 0.375, 0.125 → 1, then 3 before 6 (tie).
    expect(Array.from(topChunksByMass(scores, candidates, 2, 2, 2))).toEqual([2, 7, 1, 3]);
    expect(() => topChunksByMass(scores.subarray(1), candidates, 2, 2, 2)).toThrow(ShapeError);
  });

  it('equals a full sort (mass descending, then chunk id) on random masses with many ties', () => {
    const [nKvHeads, nCand, chunkSize] = [3, 40, 2];
    for (let seed = 1; seed <= 20; seed++) {
      // Scores in eighths: sums are exact, so equal masses are common and real.
      const scores = Float32Array.from(randomArray(nKvHeads * nCand * chunkSize, seed), (x) => Math.round(Math.abs(x) * 4) / 8);
      const candidates = Int32Array.from({ length: nKvHeads * nCand }, (_, i) => ((i % nCand) * 7 + seed) % 97); // distinct per head, unordered
      for (const count of [1, 7, 20, nCand]) {
        const want: number[] = [];
        for (let h = 0; h < nKvHeads; h++) {
          const rows = Array.from({ length: nCand }, (_, k) => {
            const o = (h * nCand + k) * chunkSize;
            return { id: candidates[h * nCand + k], m: scores[o] + scores[o + 1] };
          });
          rows.sort((x, y) => y.m - x.m || x.id - y.id);
          want.push(...rows.slice(0, count).map((r) => r.id).sort((x, y) => x - y));
        }
        expect(Array.from(topChunksByMass(scores, candidates, nKvHeads, chunkSize, count))).toEqual(want);
      }
    }
  });
});

describe('refineChunks', () => {
  it('matches a float64 host reference: rebuilt keys, softmax over candidate tokens, group max, chunk sums', async () => {
    const [nHeads, nKvHeads, headDim, rank, chunkSize, seqLen] = [4, 2, 8, 5, 4, 64];
    const rope = ropeSpec(headDim, 100);
    const scale = 1 / Math.sqrt(headDim);
    const a = randomArray(seqLen * rank, 11);
    const b = randomArray(nKvHeads * rank * headDim, 12, 2);
    const q = randomArray(nHeads * headDim, 13, 2);
    // 6 candidate chunks per head out of 16, in no particular order; keep 3.
    const candidates = Int32Array.from([3, 15, 0, 7, 9, 12, 1, 2, 14, 8, 5, 11]);
    const got = await refineChunks(
      backend,
      backend.upload(q, [1, nHeads * headDim]),
      { a: backend.upload(a, [seqLen, rank]), b: backend.upload(b, [nKvHeads, rank, headDim]), rope },
      candidates,
      nKvHeads,
      nHeads,
      chunkSize,
      3,
      scale,
    );
    const group = nHeads / nKvHeads;
    for (let h = 0; h < nKvHeads; h++) {
      const ids = Array.from(candidates.subarray(h * 6, (h + 1) * 6));
      const tokens = ids.flatMap((c) => Array.from({ length: chunkSize }, (_, j) => c * chunkSize + j));
      const keys = tokens.map((t) => {
        const k = new Float64Array(headDim);
        for (let r = 0; r < rank; r++) for (let e = 0; e < headDim; e++) k[e] += a[t * rank + r] * b[(h * rank + r) * headDim + e];
        ropeRow(k, t, rope);
        return k;
      });
      const best = new Array<number>(tokens.length).fill(0);
      for (let g = 0; g < group; g++) {
        const qo = (h * group + g) * headDim;
        const s = keys.map((k) => k.reduce((acc, x, e) => acc + x * q[qo + e], 0) * scale);
        const max = Math.max(...s);
        const sum = s.reduce((acc, x) => acc + Math.exp(x - max), 0);
        s.forEach((x, i) => (best[i] = Math.max(best[i], Math.exp(x - max) / sum)));
      }
      const mass = ids.map((_, k) => best.slice(k * chunkSize, (k + 1) * chunkSize).reduce((x, y) => x + y, 0));
      const want = ids
        .map((c, k) => [mass[k], c] as const)
        .sort((x, y) => y[0] - x[0] || x[1] - y[1])
        .slice(0, 3)
        .map(([, c]) => c)
        .sort((x, y) => x - y);
      // float32 rebuild vs float64: scores agree to ~1e-6; random masses are separated by far more, so the sets match.
      expect(Array.from(got.subarray(h * 3, (h + 1) * 3))).toEqual(want);
    }
  });

  it('finds a chunk with one matching key that the chunk mean hides, where landmark selection does not', async () => {
    // RoPE with zero frequencies is the identity, so pre- and post-RoPE keys coincide and the example stays readable.
    const [headDim, chunkSize, nChunks] = [8, 8, 16];
    const rope: RopeSpec = { headDim, invFreq: new Float32Array(headDim / 2), attentionScaling: 1 };
    const scale = 1 / Math.sqrt(headDim);
    const keys = randomArray(nChunks * chunkSize * headDim, 21, 0.1); // [seqLen, headDim], one KV head
    const setE0 = (t: number, x: number) => (keys[t * headDim] = x);
    // Chunk 5: one key strongly along q, three against it: its mean is only mildly along q.
    for (let j = 0; j < 4; j++) setE0(5 * chunkSize + j, j === 3 ? 6 : -1);
    // Chunk 12: every key mildly along q: the best mean, but far less attention than chunk 5's one key.
    for (let j = 0; j < chunkSize; j++) setE0(12 * chunkSize + j, 1);
    const q = new Float32Array(headDim);
    q[0] = 4;
    const landmarks = new Float32Array(nChunks * headDim);
    for (let c = 0; c < nChunks; c++) {
      for (let j = 0; j < chunkSize; j++) for (let e = 0; e < headDim; e++) landmarks[c * headDim + e] += keys[(c * chunkSize + j) * headDim + e] / chunkSize;
    }
    const qT = backend.upload(q, [1, headDim]);
    const ids = Int32Array.from({ length: nChunks }, (_, i) => i);
    const one = landmarkChunkIds((await backend.read(selectChunks(backend, qT, backend.upload(landmarks, [1, nChunks, headDim]), 1, 1, scale))) as Int32Array, ids, 1, nChunks);
    expect(Array.from(one)).toEqual([12]);
    // Full-rank factors (A = the keys, B = I) so that the rebuilt keys are exact; candidates: the landmarks' top 2.
    const eye = Float32Array.from({ length: headDim * headDim }, (_, i) => (i % (headDim + 1) === 0 ? 1 : 0));
    const cand = landmarkChunkIds((await backend.read(selectChunks(backend, qT, backend.upload(landmarks, [1, nChunks, headDim]), 1, 2, scale))) as Int32Array, ids, 1, nChunks);
    expect(Array.from(cand)).toEqual([5, 12]); // mean along q 0.375 vs 1; the other chunks' means are ~0
    const keysLr = { a: backend.upload(keys, [nChunks * chunkSize, headDim]), b: backend.upload(eye, [1, headDim, headDim]), rope };
    expect(Array.from(await refineChunks(backend, qT, keysLr, cand, 1, 1, chunkSize, 1, scale))).toEqual([5]);
  });

  it('rejects counts above the candidates and candidates that do not split into heads', async () => {
    const [headDim, rank] = [4, 2];
    const rope = ropeSpec(headDim, 100);
    const keys = { a: backend.upload(randomArray(32 * rank, 1), [32, rank]), b: backend.upload(randomArray(2 * rank * headDim, 2), [2, rank, headDim]), rope };
    const q = backend.upload(randomArray(2 * headDim, 3), [1, 2 * headDim]);
    await expect(refineChunks(backend, q, keys, Int32Array.from([0, 1, 2, 3]), 2, 2, 4, 3, 0.5)).rejects.toThrow(/count 3 must be an integer in \[1, 2\]/);
    await expect(refineChunks(backend, q, keys, Int32Array.from([0, 1, 2]), 2, 2, 4, 1, 0.5)).rejects.toThrow(/do not split into 2 heads/);
  });
});

describe('refineChunksKeepingKeys', () => {
  it('keeps the candidates\' rebuilt keys: the chosen chunks gathered from them equal a rebuild of the chosen chunks, bit for bit', async () => {
    const nKvHeads = 2;
    const nHeads = 4;
    const rank = 6;
    const headDim = 8;
    const chunkSize = 4;
    const seqLen = 64;
    const rope = ropeSpec(headDim, 10000);
    const a = backend.upload(randomArray(seqLen * rank, 31), [seqLen, rank]);
    const b = backend.upload(randomArray(nKvHeads * rank * headDim, 32), [nKvHeads, rank, headDim]);
    const q = backend.upload(randomArray(nHeads * headDim, 33, 2), [1, nHeads * headDim]);
    const candidates = Int32Array.from([1, 3, 4, 8, 11, 14, 0, 2, 5, 9, 12, 15]); // 6 per head
    const r = await refineChunksKeepingKeys(backend, q, { a, b, rope }, candidates, nKvHeads, nHeads, chunkSize, 3, 0.35);
    expect(Array.from(r.ids)).toEqual(Array.from(await refineChunks(backend, q, { a, b, rope }, candidates, nKvHeads, nHeads, chunkSize, 3, 0.35)));
    const at = Int32Array.from(Array.from(r.ids, (id, i) => r.candidateIndex[Math.floor(i / 3)].get(id) as number));
    const gathered = (await backend.read(backend.gatherChunks(r.rebuilt, backend.upload(at, [nKvHeads, 3], 'i32'), chunkSize))) as Float32Array;
    const direct = (await backend.read(backend.rebuildKeys(a, b, backend.upload(r.ids, [nKvHeads, 3], 'i32'), chunkSize, 0, rope))) as Float32Array;
    expect(Array.from(gathered)).toEqual(Array.from(direct));
    expect(r.rebuilt.shape).toEqual([nKvHeads, 6 * chunkSize, headDim]);
    expect(r.reused).toBe(0);
    backend.dispose(r.rebuilt);
  });

  it('copies the candidates a resident key buffer holds instead of rebuilding them: the same keys and ids, bit for bit', async () => {
    const [nKvHeads, nHeads, rank, headDim, chunkSize, seqLen] = [2, 4, 6, 8, 4, 64];
    const rope = ropeSpec(headDim, 10000);
    const keys = {
      a: backend.upload(randomArray(seqLen * rank, 41), [seqLen, rank]),
      b: backend.upload(randomArray(nKvHeads * rank * headDim, 42), [nKvHeads, rank, headDim]),
      rope,
    };
    const q = backend.upload(randomArray(nHeads * headDim, 43, 2), [1, nHeads * headDim]);
    const candidates = Int32Array.from([1, 3, 4, 8, 11, 14, 0, 2, 5, 9, 12, 15]); // 6 per head
    const plain = await refineChunksKeepingKeys(backend, q, keys, candidates, nKvHeads, nHeads, chunkSize, 3, 0.35);
    const want = (await backend.read(plain.rebuilt)) as Float32Array;
    // A resident buffer of 4 slots plus 3 other rows per head (like ShadowKV's Kd), holding rebuilt chunks in slot
    // order; -1 marks an empty slot. Head 0 holds 3 candidates (and chunk 7, not one), head 1 holds 1: the heads
    // rebuild different counts (3 and 5), and every case of a slot (candidate, other chunk, empty) occurs.
    const slotSets = [
      [Int32Array.from([14, 7, 1, 8]), Int32Array.from([6, -1, 12, 13])],
      [Int32Array.from([1, 3, 4, 8]), Int32Array.from([0, 2, 5, 9])], // everything in head 0, 4 of 6 in head 1
      [Int32Array.from([-1, -1, -1, -1]), Int32Array.from([-1, -1, -1, -1])], // nothing: a plain rebuild
    ];
    for (const [s0, s1] of slotSets) {
      const slots = new Int32Array([...s0, ...s1]);
      const buf = new Float32Array(nKvHeads * 19 * headDim).fill(Number.NaN); // NaN rows must never be read
      for (let h = 0; h < nKvHeads; h++) {
        for (let s = 0; s < 4; s++) {
          const c = slots[h * 4 + s];
          if (c < 0) continue;
          const one = (await backend.read(backend.rebuildKeys(keys.a, keys.b, backend.upload(Int32Array.from([c, c]), [2, 1], 'i32'), chunkSize, 0, rope))) as Float32Array;
          buf.set(one.subarray(h * chunkSize * headDim, (h + 1) * chunkSize * headDim), (h * 19 + s * chunkSize) * headDim);
        }
      }
      const resident = { keys: backend.upload(buf, [nKvHeads, 19, headDim]), slots };
      const r = await refineChunksKeepingKeys(backend, q, keys, candidates, nKvHeads, nHeads, chunkSize, 3, 0.35, undefined, resident);
      const held = Array.from(candidates).filter((c, i) => slots.subarray(Math.floor(i / 6) * 4, Math.floor(i / 6) * 4 + 4).includes(c)).length;
      expect(r.reused).toBe(held);
      expect(Array.from(r.ids)).toEqual(Array.from(plain.ids));
      expect(Array.from((await backend.read(r.rebuilt)) as Float32Array)).toEqual(Array.from(want));
      backend.dispose(r.rebuilt);
    }
    await expect(
      refineChunksKeepingKeys(backend, q, keys, candidates, nKvHeads, nHeads, chunkSize, 3, 0.35, undefined, { keys: backend.zeros([nKvHeads, 8, headDim]), slots: new Int32Array(8) }),
    ).rejects.toThrow(/do not fit keys/);
  });
});

describe('heldAndFreshCandidates', () => {
  it('keeps every held chunk and adds the best-scored others among the top positions, ties to the lower position, ascending', () => {
    // 2 heads, 6 landmarks; landmark i holds chunk 10 + i (head 0) and 20 + i (head 1).
    const chunkIds = Int32Array.from([10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25]);
    const scores = Float32Array.from([0.5, 0.1, 0.3, 0.3, 0.05, 0.4, 0.2, 0.2, 0.6, 0.1, 0.3, 0.25]);
    // Top 4 per head in index order (as backend.topK gives them): head 0 {0, 2, 3, 5}, head 1 {0, 2, 4, 5}.
    const positions = Int32Array.from([0, 2, 3, 5, 0, 2, 4, 5]);
    const held = Int32Array.from([10, 14, 22, 21]); // head 0 holds chunk 14, which is not in its top 4
    const got = heldAndFreshCandidates(scores, positions, chunkIds, held, 2, 2);
    // Head 0: not held among the top: 12 (0.3), 13 (0.3), 15 (0.4) -> 15, then 12 (tie with 13, lower position).
    // Head 1: not held among the top: 20 (0.2), 24 (0.3), 25 (0.25) -> 24, 25.
    expect(Array.from(got)).toEqual([10, 12, 14, 15, 21, 22, 24, 25]);
  });

  it('rejects top positions with too few chunks that are not held', () => {
    const chunkIds = Int32Array.from([0, 1, 2, 3]);
    const scores = new Float32Array(4);
    expect(() => heldAndFreshCandidates(scores, Int32Array.from([0, 1]), chunkIds, Int32Array.from([0]), 1, 2)).toThrow(ShapeError);
    expect(() => heldAndFreshCandidates(scores, Int32Array.from([0, 1, 0, 1]), chunkIds, Int32Array.from([0, 1]), 1, 2)).toThrow(/not held, fewer than 2/);
  });
});
