// The refine stage through the optional fused ops (candidateScores, copyChunkPairs) against the separate ops: the
// same selections and the same attention outputs, bit for bit, step after step.
import type { KernelBackend, KvCacheContext, KvCacheState, RopeSpec } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { backend } from './policy-harness.test-support.js';
import { shadowkv } from './shadowkv.js';
import type { ShadowKvState } from './shadowkv-state.js';

/** Seeded values in [-scale, scale). */
function noise(n: number, seed: number, scale: number): Float32Array {
  let x = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return ((x / 2 ** 32) * 2 - 1) * scale;
  });
}

/** `be` without the two optional ops: the layer takes the separate-op path. */
function withoutFusedRefine(be: KernelBackend): KernelBackend {
  return new Proxy(be, {
    get(t, key) {
      if (key === 'candidateScores' || key === 'copyChunkPairs') return undefined;
      const v = (t as unknown as Record<string | symbol, unknown>)[key];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

const [nLayers, nHeads, nKvHeads, headDim, cs] = [2, 4, 2, 16, 4];
const promptLen = 64 * cs;
const steps = 10;
const width = nKvHeads * headDim;

async function run(be: KernelBackend, extra: { refineFresh?: number } = {}): Promise<{ sel: number[][]; out: Float32Array[]; reused: number }> {
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / 100 ** ((2 * i) / headDim));
  const rope: RopeSpec = { headDim, invFreq, attentionScaling: 1 };
  const ctx: KvCacheContext = { backend: be, model: { nLayers, nHeads, nKvHeads, headDim }, rope, maxSeqLen: promptLen + steps };
  // The preset's method at this model's size: spread scores in 4 groups, a derived rank, energy ranks, refine 2.
  const policy = shadowkv({ chunkSize: cs, localChunks: 1, outliers: 1, rank: 6, budget: 6 * cs, refine: 2, spread: 0.5, spreadGroups: 4, rankAllocation: 'energy', ...extra });
  policy.validate(ctx, promptLen);
  const state: KvCacheState = policy.create(ctx);
  const pos = be.upload(Int32Array.from({ length: promptLen }, (_, i) => i), [promptLen], 'i32');
  state.beginStep({ start: 0, m: promptLen });
  for (let l = 0; l < nLayers; l++) {
    const k = be.upload(noise(promptLen * width, 11 + l, 1), [promptLen, width]);
    state.append({ layer: l, start: 0, m: promptLen, kPre: k, k: be.rope(k, pos, nKvHeads, rope), v: be.upload(noise(promptLen * width, 21 + l, 1), [promptLen, width]) });
  }
  state.endStep();
  await state.endPrefill();
  const sel: number[][] = [];
  const out: Float32Array[] = [];
  // Queries drift (each a small step from the last, as a decode's do), so consecutive steps share chunks.
  let q = noise(nHeads * headDim, 31, 2);
  for (let i = 0; i < steps; i++) {
    const p = promptLen + i;
    state.beginStep({ start: p, m: 1 });
    for (let l = 0; l < nLayers; l++) {
      const kv = be.upload(noise(width, 41 + 7 * i + l, 1), [1, width]);
      const o = await state.attend({ layer: l, start: p, m: 1, q: be.upload(q, [1, nHeads * headDim]), kPre: kv, k: kv, v: kv });
      out.push((await be.read(o)) as Float32Array);
      sel.push(Array.from((await (state as ShadowKvState).snapshot(l)).lastSelection));
    }
    state.endStep();
    const dq = noise(nHeads * headDim, 51 + i, 0.5);
    q = q.map((x, j) => x + dq[j]);
  }
  const reused = state.stats().hits; // chunk-cache hits: steps share chunks, so the refine finds held keys
  state.dispose();
  return { sel, out, reused };
}

describe('shadowkv refine through candidateScores / copyChunkPairs', () => {
  it('selects and attends exactly as the separate ops on the CPU backend, over 10 decode steps of 2 layers', async () => {
    expect(typeof backend.candidateScores).toBe('function');
    const fused = await run(backend);
    const plain = await run(withoutFusedRefine(backend));
    expect(fused.reused).toBeGreaterThan(0); // chunks stay selected across steps, so held keys are reused
    expect(fused.sel).toEqual(plain.sel);
    for (let i = 0; i < fused.out.length; i++) expect(Array.from(fused.out[i])).toEqual(Array.from(plain.out[i]));
    // The steps do select different chunks (the drift moves the selection), so misses are placed too.
    expect(new Set(fused.sel.map((s) => s.join())).size).toBeGreaterThan(nLayers);
  });

  it('with refineFresh: the same bits through either path; after the first step only refineFresh x budget/chunkSize chunks per head are rebuilt, the held ones always compete', async () => {
    const fresh = Math.ceil(0.5 * 6); // refineFresh 0.5 of 6 selected chunks
    const plans: Int32Array[] = [];
    const counting = new Proxy(backend, {
      get(t, key) {
        const v = (t as unknown as Record<string | symbol, unknown>)[key];
        if (key !== 'candidateScores') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        return (...args: Parameters<NonNullable<KernelBackend['candidateScores']>>) => {
          plans.push(Int32Array.from(t.readSync(args[4])));
          return t.candidateScores!(...args);
        };
      },
    });
    const fused = await run(counting, { refineFresh: 0.5 });
    const plain = await run(withoutFusedRefine(backend), { refineFresh: 0.5 });
    expect(fused.sel).toEqual(plain.sel);
    for (let i = 0; i < fused.out.length; i++) expect(Array.from(fused.out[i])).toEqual(Array.from(plain.out[i]));
    expect(plans.length).toBe(steps * nLayers);
    for (let i = 0; i < plans.length; i++) {
      const nCand = plans[i].length / (2 * nKvHeads);
      for (let h = 0; h < nKvHeads; h++) {
        const slots = plans[i].subarray((2 * h + 1) * nCand, (2 * h + 2) * nCand);
        const rebuilt = slots.filter((x) => x < 0).length;
        if (i < nLayers) expect(nCand).toBe(12); // the first step: refine 2's candidates, nothing held
        else {
          expect(nCand).toBe(6 + fresh); // the held selection plus `fresh` others
          expect(rebuilt).toBeLessThanOrEqual(fresh);
        }
      }
    }
    // The first step selects as refine 2 alone does (the same candidates).
    const full = await run(backend);
    expect(fused.sel.slice(0, nLayers)).toEqual(full.sel.slice(0, nLayers));
  });
});
