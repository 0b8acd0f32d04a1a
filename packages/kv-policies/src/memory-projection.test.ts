// The memory projections bound what the states really hold (after decoding to capacity), and are not loose
// by more than a stated factor; ShadowKV's decode projection is far below dense at a long prompt.
import { describe, expect, it } from 'vitest';
import type { KvCachePolicy } from '@shadowkv/core';
import { dense } from './dense-policy.js';
import { kcache } from './kcache.js';
import { projectKvMemory } from './memory-projection.js';
import { denseKvBytes } from './dense-kv-buffer.js';
import { shadowkv } from './shadowkv.js';
import { context, run } from './policy-harness.test-support.js';

const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16 };
const promptLen = 200;
const steps = 6;

describe('projectKvMemory', () => {
  const cases: [string, () => KvCachePolicy][] = [
    ['dense', () => dense()],
    ['shadowkv', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 })],
    ['shadowkv spread', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8, spread: 0.5 })],
    ['kcache', () => kcache({ topN: 16 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: bounds the fast-side bytes held after decoding to capacity, within 3x`, async () => {
      const ctx = context(shape, promptLen + steps);
      const proj = projectKvMemory(make(), ctx, promptLen);
      const r = await run(make(), ctx, { promptLen, steps });
      const held = r.state.memory().fastBytes;
      const slow = r.state.memory().slowBytes;
      r.state.dispose();
      // Slow tier: a bound of the offloaded values at capacity, off by at most the tokens not (yet) offloaded.
      expect(proj.slowBytes ?? 0).toBeGreaterThanOrEqual(slow);
      expect((proj.slowBytes ?? 0) - slow).toBeLessThanOrEqual(shape.nLayers * (steps + 1) * shape.nKvHeads * shape.headDim * 4);
      if (name !== 'dense') expect(slow).toBeGreaterThanOrEqual(shape.nLayers * promptLen * shape.nKvHeads * shape.headDim * 4);
      expect(held).toBeGreaterThan(0);
      expect(proj.decodeFastBytes).toBeGreaterThanOrEqual(held);
      expect(proj.decodeFastBytes).toBeLessThan(3 * held);
      // A token-major prefill holds a dense buffer of its capacity (x1.5 with pre-RoPE keys); a layer-major one
      // (the engine's, for the offloading policies) at least the decode state (layer-major-prefill.test.ts bounds it).
      expect(proj.tokenMajorPrefillFastBytes ?? proj.prefillFastBytes).toBeGreaterThanOrEqual(denseKvBytes(shape, promptLen + steps));
      expect(proj.prefillFastBytes).toBeGreaterThanOrEqual(proj.decodeFastBytes);
    });
  }

  it('shadowkv projects well under dense for a long prompt (what lets it fit a larger batch)', () => {
    const big = { nLayers: 4, nHeads: 32, nKvHeads: 8, headDim: 128 };
    const ctx = context(big, 16384 + 128);
    const d = projectKvMemory(dense(), ctx, 16384).decodeFastBytes;
    const s = projectKvMemory(shadowkv(), ctx, 16384).decodeFastBytes;
    expect(d / s).toBeGreaterThan(4);
  });

  it('shadowkv with spread holds and projects exactly one more landmark-sized tensor per layer', async () => {
    const p = { rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 };
    const ctx = context(shape, promptLen + steps);
    const nLandmarks = Math.floor(promptLen / 8) - 2 - 2; // chunks before the local window, minus the outliers
    const landmarkBytes = shape.nLayers * shape.nKvHeads * nLandmarks * shape.headDim * 4;
    const plain = await run(shadowkv(p), ctx, { promptLen, steps });
    const spread = await run(shadowkv({ ...p, spread: 1 }), ctx, { promptLen, steps });
    expect(spread.state.memory().fastBytes - plain.state.memory().fastBytes).toBe(landmarkBytes);
    plain.state.dispose();
    spread.state.dispose();
    expect(projectKvMemory(shadowkv({ ...p, spread: 1 }), ctx, promptLen).decodeFastBytes - projectKvMemory(shadowkv(p), ctx, promptLen).decodeFastBytes).toBe(landmarkBytes);
    // Grouped: 4 half widths per landmark instead of headDim (16).
    const grouped = await run(shadowkv({ ...p, spread: 1, spreadGroups: 4 }), ctx, { promptLen, steps });
    const plain2 = await run(shadowkv(p), ctx, { promptLen, steps });
    expect(grouped.state.memory().fastBytes - plain2.state.memory().fastBytes).toBe(landmarkBytes / 4);
    expect(projectKvMemory(shadowkv({ ...p, spread: 1, spreadGroups: 4 }), ctx, promptLen).decodeFastBytes - projectKvMemory(shadowkv(p), ctx, promptLen).decodeFastBytes).toBe(landmarkBytes / 4);
    grouped.state.dispose();
    plain2.state.dispose();
    await expect(run(shadowkv({ ...p, spread: 1, spreadGroups: 3 }), ctx, { promptLen, steps })).rejects.toThrow(/spreadGroups 3 does not divide headDim 16/);
  });

  it('refuses a policy without a projection with a typed error', () => {
    const ctx = context(shape, 10);
    const bare: KvCachePolicy = { name: 'mine', params: {}, validate() {}, create: () => dense().create(ctx) };
    expect(() => projectKvMemory(bare, ctx, 5)).toThrow(/does not project its memory/);
  });
});
