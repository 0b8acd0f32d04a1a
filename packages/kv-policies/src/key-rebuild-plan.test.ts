// ShadowKV rebuilds only the keys of slots whose chunk changed (key-rebuild-plan.ts). The plan itself is checked
// on hand-made slot tables; the decode loop is checked by its invariant: after every step, Kd's budget rows equal
// a full rebuild of the chunks the slots now hold, bit for bit, while consecutive steps do keep chunks in place
// (so the partial path really ran).
import type { KernelBackend, Tensor } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { keyRebuildPlan } from './key-rebuild-plan.js';
import { backend as cpuBackend, context, run } from './policy-harness.test-support.js';
import { shadowkv } from './shadowkv.js';

describe('keyRebuildPlan', () => {
  it('rebuilds everything without a previous table, nothing when no slot changed', () => {
    const slots = Int32Array.from([3, 1, 4, 1, 5, 9]);
    expect(keyRebuildPlan(slots, undefined, 2, 3)).toBe('all');
    expect(keyRebuildPlan(slots, slots.slice(), 2, 3)).toBeNull();
    expect(keyRebuildPlan(slots, Int32Array.from([0, 0, 0, 0, 5, 9]), 2, 3)).toBe('all');
  });
  it('lists the changed slots per head and pads shorter heads with distinct kept slots', () => {
    // Head 0: slots 1 and 3 changed; head 1: slot 2 changed.
    const prev = Int32Array.from([10, 11, 12, 13, 20, 21, 22, 23]);
    const now = Int32Array.from([10, 31, 12, 33, 20, 21, 42, 23]);
    const plan = keyRebuildPlan(now, prev, 2, 4);
    if (!plan || plan === 'all') throw new Error('expected a partial plan');
    expect(plan.n).toBe(2);
    expect(Array.from(plan.slots.subarray(0, 2))).toEqual([1, 3]);
    expect(Array.from(plan.chunks.subarray(0, 2))).toEqual([31, 33]);
    expect(plan.slots[2]).toBe(2);
    expect(plan.chunks[2]).toBe(42);
    // The pad is a kept slot of head 1, rebuilt with the chunk it already holds.
    expect(plan.slots[3]).not.toBe(2);
    expect(plan.chunks[3]).toBe(now[4 + plan.slots[3]]);
    expect(now[4 + plan.slots[3]]).toBe(prev[4 + plan.slots[3]]);
  });
});

type LayerInternals = { kd: Tensor; a: Tensor; b: Tensor; keySlots?: Int32Array };

describe('ShadowKV decode with partial key rebuilds', () => {
  // The host path (the one that rebuilds by plan) runs where the backend has no device-side chunk cache (wasm
  // today): the CPU reference without its optional chunkCacheUpdate, every other op its own.
  const be = new Proxy(cpuBackend, {
    get: (target, key) => {
      if (key === 'chunkCacheUpdate') return undefined;
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as KernelBackend;
  it("after every decode step Kd's budget rows equal a full rebuild of the slots' chunks, and chunks stay in place between steps", async () => {
    const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 32 };
    const p = { rank: 8, budget: 32, chunkSize: 8, localChunks: 2, outliers: 2 };
    const ctx = context(shape, 400, be);
    const nSelect = p.budget / p.chunkSize;
    let kept = 0;
    let previous: Int32Array[] = [];
    await run(shadowkv(p), ctx, {
      promptLen: 320,
      steps: 24,
      onDecodeStep: async (state) => {
        const layers = (state as unknown as { layers: LayerInternals[] }).layers;
        const now: Int32Array[] = [];
        for (const layer of layers) {
          const slots = layer.keySlots as Int32Array;
          expect(slots).toBeDefined();
          now.push(slots.slice());
          const idx = be.upload(slots, [shape.nKvHeads, nSelect], 'i32');
          const full = (await be.read(be.rebuildKeys(layer.a, layer.b, idx, p.chunkSize, 0, ctx.rope))) as Float32Array;
          const kd = (await be.read(layer.kd)) as Float32Array;
          const rows = kd.length / (shape.nKvHeads * shape.headDim);
          let bad = 0;
          for (let h = 0; h < shape.nKvHeads; h++) {
            for (let i = 0; i < p.budget * shape.headDim; i++) {
              if (!Object.is(kd[h * rows * shape.headDim + i], full[h * p.budget * shape.headDim + i])) bad++;
            }
          }
          expect(bad).toBe(0);
        }
        for (let l = 0; l < now.length && previous.length; l++) for (let i = 0; i < now[l].length; i++) if (now[l][i] === previous[l][i]) kept++;
        previous = now;
      },
    });
    // Some chunks stayed selected in their slots, so partial rebuilds happened and were checked above.
    expect(kept).toBeGreaterThan(0);
  });
});
