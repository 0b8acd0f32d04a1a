import { InvalidOptionError, KvCapacityError } from '@shadowkv/core';
import { dense } from './dense-policy.js';
import { describe, expect, it } from 'vitest';
import { kcache } from './kcache.js';
import { context, relErr, run } from './policy-harness.test-support.js';

const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16 };
const promptLen = 150;
const steps = 4;
const ctx = context(shape, promptLen + steps);

describe('kcache policy', () => {
  it('equals dense when topN covers the whole sequence', async () => {
    const ref = await run(dense(), ctx, { promptLen, steps });
    const all = await run(kcache({ topN: promptLen + steps }), ctx, { promptLen, steps });
    expect(all.prefillLast).toEqual(ref.prefillLast);
    // Same keys and values, only reordered into slot order: float32 sums in another order, ~1e-7 relative.
    expect(relErr(all.decode, ref.decode)).toBeLessThan(1e-5);
    // Fewer tokens: a real approximation, which improves with N.
    const e16 = relErr((await run(kcache({ topN: 16 }), ctx, { promptLen, steps })).decode, ref.decode);
    const e64 = relErr((await run(kcache({ topN: 64 }), ctx, { promptLen, steps })).decode, ref.decode);
    expect(e16).toBeGreaterThan(1e-4);
    expect(e64).toBeLessThan(e16);
  });

  it('counts hits and misses: only tokens new to the top-N are fetched', async () => {
    const topN = 32;
    const r = await run(kcache({ topN }), ctx, { promptLen, steps });
    const s = r.state.stats();
    const perStep = shape.nLayers * shape.nKvHeads * topN;
    expect(s.steps).toBe(steps);
    expect(s.hits + s.misses).toBe(steps * perStep);
    expect(s.misses).toBeGreaterThanOrEqual(perStep); // the first step fetches everything
    expect(s.hits).toBeGreaterThan(0); // consecutive steps share most of their top tokens
    expect(s.bytesMoved).toBe(s.misses * shape.headDim * 4);
  });

  it('mass mode keeps enough tokens to reach the mass, and approaches dense as the mass grows', async () => {
    const ref = await run(dense(), ctx, { promptLen, steps });
    const half = await run(kcache({ mass: 0.5 }), ctx, { promptLen, steps });
    const most = await run(kcache({ mass: 0.99 }), ctx, { promptLen, steps });
    expect(relErr(most.decode, ref.decode)).toBeLessThan(relErr(half.decode, ref.decode));
    const fetched = (r: typeof half) => r.state.stats().hits + r.state.stats().misses;
    expect(fetched(most)).toBeGreaterThan(fetched(half));
    expect(fetched(most)).toBeLessThanOrEqual(steps * shape.nLayers * shape.nKvHeads * (promptLen + steps));
  });

  it('mass mode grows its working set past the slots it reserved first', async () => {
    const long = context(shape, 320 + 2);
    // Nearly uniform attention and mass 1: every token is kept, more than the 256 slots reserved first.
    const o = { promptLen: 320, steps: 2, qScale: 0.05 };
    const ref = await run(dense(), long, o);
    const r = await run(kcache({ mass: 1 }), long, o);
    const s = r.state.stats();
    expect(s.hits + s.misses).toBeGreaterThan(o.steps * shape.nLayers * shape.nKvHeads * 256);
    // Mass 1 leaves nothing out, so this is dense attention over reordered rows (float32 sums, ~1e-7).
    expect(relErr(r.decode, ref.decode)).toBeLessThan(1e-5);
    expect(r.state.memory().fastBytes).toBeGreaterThan(shape.nLayers * (322 + 256) * shape.nKvHeads * shape.headDim * 4);
  });

  it('accounts all keys and the fetched values as fast, the values as slow', async () => {
    const topN = 32;
    const r = await run(kcache({ topN }), ctx, { promptLen, steps: 2 });
    const { nLayers, nKvHeads, headDim } = shape;
    const seqLen = promptLen + 2;
    expect(r.state.memory()).toEqual({
      fastBytes: nLayers * (seqLen + topN) * nKvHeads * headDim * 4,
      slowBytes: nLayers * seqLen * nKvHeads * headDim * 4,
      denseBytes: 2 * nLayers * nKvHeads * headDim * 4 * seqLen,
    });
    const q = await run(kcache({ topN, quantizeValues: true }), ctx, { promptLen, steps: 2 });
    // One token per chunk: int8 codes plus one float scale per token and head.
    expect(q.state.memory().slowBytes).toBe(nLayers * seqLen * nKvHeads * (headDim + 4));
    // Per-token int8 steps of max|v|/127 on values in [-1, 1]: outputs move by ~0.3%, bound 1%.
    expect(relErr(q.decode, r.decode)).toBeLessThan(1e-2);
  });

  it('validates its options', () => {
    const opt = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (e instanceof InvalidOptionError) return e.option;
      }
      return undefined;
    };
    expect(opt(() => kcache({ topN: 0 }))).toBe('topN');
    expect(opt(() => kcache({ topN: 1.5 }))).toBe('topN');
    expect(opt(() => kcache({ mass: 1.5 }))).toBe('mass');
    expect(opt(() => kcache({ mass: 0 }))).toBe('mass');
    expect(opt(() => kcache({ mass: 0.9, topN: 10 }))).toBe('mass');
    expect(kcache().params).toEqual({ topN: 256, quantizeValues: false });
    expect(kcache({ mass: 0.9 }).params).toEqual({ mass: 0.9, quantizeValues: false });
    expect(() => kcache().validate(ctx, promptLen + steps + 1)).toThrow(KvCapacityError);
    expect(() => kcache().validate(ctx, promptLen)).not.toThrow();
  });
});
