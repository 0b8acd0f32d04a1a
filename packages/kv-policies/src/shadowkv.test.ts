import { InvalidOptionError, KvCapacityError, ShapeError } from '@shadowkv/core';
import { dense } from './dense-policy.js';
import { describe, expect, it } from 'vitest';
import { backend, context, relErr, run } from './policy-harness.test-support.js';
import { shadowkv } from './shadowkv.js';

const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16 };
const promptLen = 203; // 25 chunks of 8 and a tail of 3
const steps = 4;
const ctx = context(shape, promptLen + steps);
const width = shape.nKvHeads * shape.headDim;
// Local window: 2 chunks + the 3-token tail; 23 chunks before it, 3 of them outliers, 20 landmarks.
const base = { chunkSize: 8, localChunks: 2, outliers: 3 };

function errorOf(f: () => unknown): InvalidOptionError {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidOptionError) return e;
    throw e;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('shadowkv policy', () => {
  it('equals dense in prefill and is close to dense with full rank and a budget covering every chunk', async () => {
    const ref = await run(dense(), ctx, { promptLen, steps });
    const full = await run(shadowkv({ ...base, rank: width, budget: 20 * 8 }), ctx, { promptLen, steps });
    // Prefill runs the very same attention call as dense.
    expect(full.prefillLast).toEqual(ref.prefillLast);
    // Decode rebuilds every selected key as A·B from a float32 full-rank SVD (exact SVD since rank = width):
    // keys carry float32 rounding (~1e-7 relative), which the softmax passes through; measured 1e-7, bound 1e-5.
    const err = relErr(full.decode, ref.decode);
    expect(err).toBeLessThan(1e-5);
    // A rank-2 copy of the same keys visibly departs from dense: the low-rank keys are really used.
    const low = await run(shadowkv({ ...base, rank: 2, budget: 20 * 8 }), ctx, { promptLen, steps });
    expect(relErr(low.decode, ref.decode)).toBeGreaterThan(100 * err);
    // A small budget departs too, by dropping chunks (full rank, so the keys themselves are exact).
    const sparse = await run(shadowkv({ ...base, rank: width, budget: 16 }), ctx, { promptLen, steps });
    expect(relErr(sparse.decode, ref.decode)).toBeGreaterThan(100 * err);
  });

  it('works without a local window or outliers (only the 3-token tail stays exact)', async () => {
    const ref = await run(dense(), ctx, { promptLen, steps });
    const bare = await run(shadowkv({ chunkSize: 8, localChunks: 0, outliers: 0, rank: width, budget: 25 * 8 }), ctx, { promptLen, steps });
    expect(relErr(bare.decode, ref.decode)).toBeLessThan(1e-5); // every chunk selected, full rank: as above
    const odd = await run(shadowkv({ chunkSize: 7, localChunks: 1, outliers: 1, rank: 5, budget: 21 }), ctx, { promptLen: 203, steps });
    expect(odd.decode.flat().every((o) => o.every(Number.isFinite))).toBe(true);
    expect(odd.state.stats().hits + odd.state.stats().misses).toBe(steps * shape.nLayers * shape.nKvHeads * 3);
  });

  it('counts hits, misses and bytes moved across steps', async () => {
    const nSelect = 2;
    const r = await run(shadowkv({ ...base, rank: 8, budget: nSelect * 8 }), ctx, { promptLen, steps });
    const s = r.state.stats();
    expect(s.steps).toBe(steps);
    expect(s.hits + s.misses).toBe(steps * shape.nLayers * shape.nKvHeads * nSelect);
    // The first step misses everything it selects; later steps miss only chunks new to the selection.
    expect(s.misses).toBeGreaterThanOrEqual(shape.nLayers * shape.nKvHeads * nSelect);
    expect(s.bytesMoved).toBe(s.misses * 8 * shape.headDim * 4);
    for (const k of ['selectMs', 'rebuildMs', 'fetchMs', 'attentionMs'] as const) expect(s[k]).toBeGreaterThan(0);

    // With every chunk selected the selection never changes: step 1 misses all, the rest hit all.
    const all = await run(shadowkv({ ...base, rank: 8, budget: 20 * 8 }), ctx, { promptLen, steps });
    const a = all.state.stats();
    expect(a.misses).toBe(shape.nLayers * shape.nKvHeads * 20);
    expect(a.hits).toBe((steps - 1) * shape.nLayers * shape.nKvHeads * 20);
  });

  it('accounts fast, slow and dense bytes', async () => {
    const rank = 8;
    const budget = 32;
    const r = await run(shadowkv({ ...base, rank, budget }), ctx, { promptLen, steps: 2 });
    const { nLayers, nKvHeads, headDim } = shape;
    const seqLen = promptLen + 2;
    const localStart = 23 * 8;
    const nStatic = promptLen - localStart + 3 * 8;
    const perLayerFast =
      (localStart * rank + nKvHeads * rank * headDim) * 4 + // A, B
      nKvHeads * 20 * headDim * 4 + // landmarks
      2 * nKvHeads * (budget + nStatic + 2) * headDim * 4; // K/V: budget, local + outliers, 2 generated
    expect(r.state.memory()).toEqual({
      fastBytes: nLayers * perLayerFast,
      slowBytes: nLayers * promptLen * nKvHeads * headDim * 4,
      denseBytes: 2 * nLayers * nKvHeads * headDim * 4 * seqLen,
    });
    const q = await run(shadowkv({ ...base, rank, budget, quantizeValues: true }), ctx, { promptLen, steps: 2 });
    // int8 codes + a float scale per full chunk; the 3-token partial chunk stays float32.
    expect(q.state.memory().slowBytes).toBe(nLayers * (25 * nKvHeads * (8 * headDim + 4) + 3 * nKvHeads * headDim * 4));
    // int8 values: per-chunk steps of max|v|/127 on values in [-1, 1], i.e. ~0.4% per value; outputs move
    // by about as much, bound 1%.
    expect(relErr(q.decode, r.decode)).toBeLessThan(1e-2);
    expect(relErr(q.decode, r.decode)).toBeGreaterThan(0);
  });

  it('reports dense-like memory during prefill (K, V and the recorded pre-RoPE keys)', () => {
    const state = shadowkv({ ...base, rank: 8, budget: 32 }).create(ctx);
    const x = backend.zeros([10, width]);
    state.beginStep({ start: 0, m: 10 });
    for (let l = 0; l < shape.nLayers; l++) state.append({ layer: l, start: 0, m: 10, kPre: x, k: x, v: x });
    state.endStep();
    expect(state.seqLen).toBe(10);
    expect(state.memory()).toEqual({ fastBytes: 3 * 2 * width * 4 * 10, slowBytes: 0, denseBytes: 2 * 2 * width * 4 * 10 });
  });

  it('validates its options with errors that name them', () => {
    expect(errorOf(() => shadowkv({ budget: 100 })).option).toBe('budget');
    expect(errorOf(() => shadowkv({ budget: 100 })).message).toMatch(/not a multiple of chunkSize 8; use 96 or 104/);
    expect(errorOf(() => shadowkv({ rank: 0 })).option).toBe('rank');
    expect(errorOf(() => shadowkv({ chunkSize: 2.5 })).option).toBe('chunkSize');
    expect(errorOf(() => shadowkv({ outliers: -1 })).option).toBe('outliers');
    expect(errorOf(() => shadowkv({ quantizeValues: 1 as unknown as boolean })).option).toBe('quantizeValues');
    const p = (o: object) => shadowkv({ ...base, rank: 8, budget: 32, ...o });
    expect(errorOf(() => p({ budget: 208 }).validate(ctx, promptLen)).message).toMatch(/208 tokens must be smaller than the prompt \(203 tokens\)/);
    const rank = errorOf(() => p({ rank: 33 }).validate(ctx, promptLen));
    expect(rank.option).toBe('rank');
    expect(rank.message).toMatch(/nKvHeads\*headDim 32/);
    expect(errorOf(() => p({ rank: 20, budget: 8 }).validate(ctx, 16)).message).toMatch(/min\(prompt length 16/);
    const fit = errorOf(() => p({ outliers: 20 }).validate(ctx, promptLen));
    expect(fit.option).toBe('outliers');
    expect(fit.message).toMatch(/outliers \(20\) \+ budget\/chunkSize \(4\) = 24 chunks, but a prompt of 203 tokens has only 23 chunks/);
    expect(errorOf(() => p({ budget: 192, outliers: 0 }).validate(ctx, promptLen)).option).toBe('budget');
    expect(() => p({}).validate(ctx, promptLen + steps + 1)).toThrow(KvCapacityError);
    expect(() => p({}).validate(ctx, promptLen)).not.toThrow();
  });

  it('checks the prompt again at endPrefill, and checks the steps the forward pass announces', async () => {
    const policy = shadowkv({ ...base, rank: 8, budget: 32 });
    const state = policy.create(ctx);
    const x = backend.zeros([20, width]);
    state.beginStep({ start: 0, m: 20 });
    for (let l = 0; l < shape.nLayers; l++) await state.attend({ layer: l, start: 0, m: 20, q: backend.zeros([20, 64]), kPre: x, k: x, v: x });
    state.endStep();
    expect(state.seqLen).toBe(20);
    await expect(state.endPrefill()).rejects.toThrow(/budget/); // 20 tokens cannot hold a 32-token budget
    const r = await run(policy, ctx, { promptLen, steps: 1 });
    const n = promptLen + 1;
    expect(r.state.seqLen).toBe(n);
    const z = backend.zeros([1, width]);
    const token = (layer: number, start: number) => ({ layer, start, m: 1, q: backend.zeros([1, 64]), kPre: z, k: z, v: z });
    await expect(r.state.attend(token(0, n))).rejects.toThrow(/no step is open/);
    expect(() => r.state.beginStep({ start: n + 2, m: 1 })).toThrow(ShapeError); // tokens arrive in order
    expect(() => r.state.beginStep({ start: n, m: steps + 5 })).toThrow(KvCapacityError);
    r.state.beginStep({ start: n, m: 1 });
    await expect(r.state.attend(token(0, n + 1))).rejects.toThrow(/open step is/);
    expect(() => r.state.endStep()).toThrow(/only 0 of 2 layers/);
    expect(r.state.seqLen).toBe(n);
  });

  it('takes every step length from beginStep: seqLen moves at endStep, not at the last layer', async () => {
    const state = dense().create(ctx);
    const x = backend.zeros([4, width]);
    state.beginStep({ start: 0, m: 4 });
    for (let l = shape.nLayers - 1; l >= 0; l--) state.append({ layer: l, start: 0, m: 4, kPre: x, k: x, v: x }); // any layer order
    expect(state.seqLen).toBe(0);
    state.endStep();
    expect(state.seqLen).toBe(4);
    expect(() => state.beginStep({ start: 0, m: promptLen + steps + 1 })).toThrow(KvCapacityError);
    expect(() => state.endStep()).toThrow(/no step is open/);
  });
});
