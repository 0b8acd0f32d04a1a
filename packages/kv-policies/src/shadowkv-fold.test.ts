// ShadowKV's exact-tail fold: past exactTail tokens after the prompt, fast-side bytes grow by the compressed
// rule (rank floats + a landmark per chunk and head per token) instead of exact K/V rows, at any length.
import { describe, expect, it } from 'vitest';
import { context, run } from './policy-harness.test-support.js';
import { shadowkv } from './shadowkv.js';
import type { ShadowKvState } from './shadowkv-state.js';

const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 32 };
const width = shape.nKvHeads * shape.headDim;
const base = { rank: 8, budget: 32, chunkSize: 8, localChunks: 2, outliers: 2 };
const promptLen = 160;

async function fastBytesAfter(steps: number, exactTail: number): Promise<{ fast: number; slow: number; state: ShadowKvState }> {
  const r = await run(shadowkv({ ...base, exactTail }), context(shape, promptLen + steps), { promptLen, steps });
  const m = r.state.memory();
  return { fast: m.fastBytes, slow: m.slowBytes, state: r.state as unknown as ShadowKvState };
}

describe('shadowkv exactTail folding', () => {
  it('without folding the fast side grows by exact K/V rows; with it, by the compressed rule', async () => {
    const [a0, a1] = [await fastBytesAfter(100, 0), await fastBytesAfter(260, 0)];
    const [b0, b1] = [await fastBytesAfter(100, 48), await fastBytesAfter(260, 48)];
    const perToken = (x: { fast: number }, y: { fast: number }) => (y.fast - x.fast) / 160;
    // Exact rows: K and V of every layer, f32.
    expect(perToken(a0, a1)).toBe(2 * shape.nLayers * width * 4);
    // Folded: A gets `rank` floats per token, the landmarks headDim floats per chunk and KV head; the exact tail
    // stays between localChunks·chunkSize and exactTail rows, so over 160 tokens it moves by at most 48 rows.
    const rule = shape.nLayers * (base.rank + (shape.nKvHeads * shape.headDim) / base.chunkSize) * 4;
    const tailSwing = (2 * shape.nLayers * width * 4 * 48) / 160;
    expect(perToken(b0, b1)).toBeLessThanOrEqual(rule + tailSwing);
    expect(perToken(b0, b1)).toBeLessThan(perToken(a0, a1) / 3);
    // Every token is still somewhere: the folded values went to slow memory.
    expect(b1.slow).toBeGreaterThan(a1.slow);
    // Folded chunks became selectable: one landmark per folded chunk and head.
    const snap = await b1.state.snapshot(0);
    const promptLandmarks = Math.floor(promptLen / base.chunkSize) - base.localChunks - base.outliers;
    expect(snap.landmarks.nLandmarks).toBeGreaterThan(promptLandmarks + 20);
    const ids = snap.landmarks.chunkIds;
    expect(Math.max(...ids)).toBeGreaterThanOrEqual(Math.floor(promptLen / base.chunkSize));
    for (const r of [a0, a1, b0, b1]) r.state.dispose();
  });

  it('with spread, folded chunks get spreads too: the extra fast bytes are one landmark-sized tensor at every length', async () => {
    for (const steps of [100, 260]) {
      const ctx = context(shape, promptLen + steps);
      const plain = await run(shadowkv({ ...base, exactTail: 48 }), ctx, { promptLen, steps });
      const spread = await run(shadowkv({ ...base, exactTail: 48, spread: 1 }), ctx, { promptLen, steps });
      // Every step's output is finite: the [landmark | spread] tensor kept its shape through the folds.
      for (const step of spread.decode) for (const layer of step) expect(layer.every(Number.isFinite)).toBe(true);
      const { nLandmarks } = (await (spread.state as unknown as ShadowKvState).snapshot(0)).landmarks;
      const promptLandmarks = Math.floor(promptLen / base.chunkSize) - base.localChunks - base.outliers;
      if (steps === 260) expect(nLandmarks).toBeGreaterThan(promptLandmarks + 20); // folds added landmarks
      expect(spread.state.memory().fastBytes - plain.state.memory().fastBytes).toBe(shape.nLayers * shape.nKvHeads * nLandmarks * shape.headDim * 4);
      plain.state.dispose();
      spread.state.dispose();
    }
  });

  it('rejects an exactTail that leaves no whole chunk to fold', () => {
    expect(() => shadowkv({ ...base, exactTail: 20 })).toThrow(/exactTail.*at least \(localChunks \+ 2\) × chunkSize = 32/);
  });
});
