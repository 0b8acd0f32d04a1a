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

async function run(be: KernelBackend): Promise<{ sel: number[][]; out: Float32Array[]; reused: number }> {
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / 100 ** ((2 * i) / headDim));
  const rope: RopeSpec = { headDim, invFreq, attentionScaling: 1 };
  const ctx: KvCacheContext = { backend: be, model: { nLayers, nHeads, nKvHeads, headDim }, rope, maxSeqLen: promptLen + steps };
  // The preset's method at this model's size: spread scores in 4 groups, a derived rank, energy ranks, refine 2.
  const policy = shadowkv({ chunkSize: cs, localChunks: 1, outliers: 1, rank: 6, budget: 6 * cs, refine: 2, spread: 0.5, spreadGroups: 4, rankAllocation: 'energy' });
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
});
