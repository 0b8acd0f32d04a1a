// A layer-major prefill (one step over the prompt, each layer's pieces in order, endPrefillLayer after each layer)
// leaves every policy's state bit-identical to the token-major chunked prefill with the same cuts, while the fast
// side holds at most one layer's dense K and V beside the converted layers (within the projection's prefill bound).
import { describe, expect, it } from 'vitest';
import { ShapeError, type KvCachePolicy, type KvCacheState } from '@shadowkv/core';
import { dense } from './dense-policy.js';
import { kcache } from './kcache.js';
import { projectKvMemory } from './memory-projection.js';
import { denseKvBytes } from './dense-kv-buffer.js';
import { shadowkv } from './shadowkv.js';
import type { ShadowKvState } from './shadowkv-state.js';
import { context, run } from './policy-harness.test-support.js';

const shape = { nLayers: 3, nHeads: 4, nKvHeads: 2, headDim: 16 };
const promptLen = 200;
const steps = 5;
const chunk = 48;

const cases: [string, () => KvCachePolicy][] = [
  ['dense', () => dense()],
  ['shadowkv', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 })],
  ['shadowkv energy ranks', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8, rankAllocation: 'energy' })],
  ['shadowkv spread + folding tail', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8, spread: 0.5, exactTail: 32 })],
  ['shadowkv derived, prompt short enough to stay dense', () => shadowkv()],
  ['kcache', () => kcache({ topN: 16 })],
];

describe('layer-major prefill', () => {
  for (const [name, make] of cases) {
    it(`${name}: same prompt outputs, decode outputs and state as token-major; peak within the projection`, async () => {
      const ctx = context(shape, promptLen + steps);
      let peakLayer = 0;
      const token = await run(make(), ctx, { promptLen, steps, prefillChunk: chunk });
      const layer = await run(make(), ctx, { promptLen, steps, prefillChunk: chunk, layerMajor: true, onPrefillUnit: (s) => (peakLayer = Math.max(peakLayer, s.memory().fastBytes)) });
      // Token-major holds every layer's rows of the prompt at the end of its prefill (x1.5 with pre-RoPE keys).
      const peakToken = denseKvBytes(shape, promptLen) * (name.startsWith('shadowkv') ? 1.5 : 1);
      // Bit-identical: the last prompt row of every layer and every decode output.
      expect(layer.prefillLast).toEqual(token.prefillLast);
      expect(layer.decode).toEqual(token.decode);
      expect(layer.state.memory()).toEqual(token.state.memory());
      if (name.startsWith('shadowkv') && !name.includes('derived')) {
        for (let l = 0; l < shape.nLayers; l++) {
          expect(await (layer.state as ShadowKvState).snapshot(l)).toEqual(await (token.state as ShadowKvState).snapshot(l));
        }
      }
      const proj = projectKvMemory(make(), ctx, promptLen);
      expect(peakLayer).toBeLessThanOrEqual(proj.prefillFastBytes);
      expect(proj.tokenMajorPrefillFastBytes ?? proj.prefillFastBytes).toBeGreaterThanOrEqual(peakToken);
      if (name === 'shadowkv' || name === 'kcache') {
        // One layer's dense K and V (the pre-RoPE keys go to the host) instead of every layer's (x1.5 for ShadowKV).
        expect(peakLayer).toBeLessThan(peakToken);
        expect(proj.prefillFastBytes).toBeLessThan(proj.tokenMajorPrefillFastBytes as number);
      }
      token.state.dispose();
      layer.state.dispose();
    });
  }

  it('refuses pieces out of order, an early endPrefillLayer and a layer-major step after the prompt (typed errors)', async () => {
    const ctx = context(shape, 40);
    const state: KvCacheState = shadowkv({ rank: 4, budget: 8, outliers: 0, localChunks: 1, chunkSize: 4 }).create(ctx);
    const be = ctx.backend;
    const width = shape.nKvHeads * shape.headDim;
    const input = (layer: number, start: number, m: number) => {
      const kPre = be.upload(new Float32Array(m * width).fill(0.1 * (layer + 1)), [m, width]);
      return { layer, start, m, q: be.upload(new Float32Array(m * shape.nHeads * shape.headDim).fill(0.2), [m, shape.nHeads * shape.headDim]), kPre, k: kPre, v: kPre };
    };
    state.beginStep({ start: 0, m: 32, layerMajor: true });
    await state.attend(input(0, 0, 16));
    await expect(Promise.resolve().then(() => state.attend(input(0, 20, 12)))).rejects.toThrow(/expects its next piece at 16/);
    await expect(Promise.resolve().then(() => state.attend(input(1, 0, 16)))).rejects.toThrow(/after all of layer 0/);
    await expect(Promise.resolve().then(() => state.endPrefillLayer?.(0))).rejects.toThrow(ShapeError);
    await state.attend(input(0, 16, 16));
    await expect(Promise.resolve().then(() => state.endPrefillLayer?.(1))).rejects.toThrow(/converted in order/);
    await state.endPrefillLayer?.(0);
    expect(state.memory().fastBytes).toBeGreaterThan(0);
    await expect(Promise.resolve().then(() => state.attend(input(0, 32, 1)))).rejects.toThrow(ShapeError);
    for (let l = 1; l < shape.nLayers; l++) {
      await state.attend(input(l, 0, 32));
      await state.endPrefillLayer?.(l);
    }
    state.endStep();
    expect(() => state.beginStep({ start: 32, m: 1 })).toThrow(/call endPrefill/);
    await state.endPrefill();
    expect(() => state.beginStep({ start: 32, m: 1, layerMajor: true })).toThrow(/layer-major step is a prefill/);
    state.dispose();
  });
});
