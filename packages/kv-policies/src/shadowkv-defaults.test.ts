// ShadowKV without tuning: the written rule for parameters not given, the dense fallback for short prompts, one
// error listing every conflict of explicit parameters, and hints that suggest sensible values.
import { describe, expect, it } from 'vitest';
import { dense } from './dense-policy.js';
import { context, run } from './policy-harness.test-support.js';
import { PolicyParamsError } from './param-schema.js';
import { reportedParams } from './reported-params.js';
import { deriveShadowKvParams, SHADOWKV_MIN_CONTEXT } from './shadowkv-defaults.js';
import { projectKvMemory } from './memory-projection.js';
import { shadowkv } from './shadowkv.js';

const base = { chunkSize: 8, localChunks: 4 };
const needleLlama = { nLayers: 6, nHeads: 4, nKvHeads: 2, headDim: 64 };
const llama3_8b = { nLayers: 32, nHeads: 32, nKvHeads: 8, headDim: 128 };

describe('deriveShadowKvParams (the rule)', () => {
  it("gives the measured needle-llama setting at 4K and the paper's at 128K on Llama-3-8B shapes", () => {
    expect(deriveShadowKvParams(base, needleLlama, 4096)).toMatchObject({ rank: 32, budget: 256, outliers: 6, dense: false, derived: ['rank', 'budget', 'outliers'] });
    expect(deriveShadowKvParams(base, llama3_8b, 131072)).toMatchObject({ rank: 160, budget: 2048, outliers: 48, dense: false });
    // Between: the budget is a sixteenth of the prompt in whole chunks, floored at 128 tokens.
    expect(deriveShadowKvParams(base, llama3_8b, 8000)).toMatchObject({ budget: 496, outliers: 12 });
    expect(deriveShadowKvParams(base, needleLlama, 1024)).toMatchObject({ budget: 128, outliers: 3 });
  });

  it('with spread, a derived rank gives back the spread vectors\' memory, so the fast side stays the authors\'', () => {
    // needle-llama: 2 KV heads x 64 half widths per 8-token chunk = 16 floats per token; 8 groups: 2.
    expect(deriveShadowKvParams({ ...base, spread: 0.5 }, needleLlama, 4096).rank).toBe(16);
    expect(deriveShadowKvParams({ ...base, spread: 0.5, spreadGroups: 8 }, needleLlama, 4096).rank).toBe(30);
    expect(deriveShadowKvParams({ ...base, spread: 0.5, rank: 32 }, needleLlama, 4096).rank).toBe(32); // given: kept
    expect(deriveShadowKvParams({ ...base, spread: 0.5, spreadGroups: 16 }, llama3_8b, 131072).rank).toBe(160 - 16);
    const ctx = context(needleLlama, 4096 + 64);
    const authors = projectKvMemory(shadowkv(), ctx, 4096).decodeFastBytes;
    const spread = projectKvMemory(shadowkv({ spread: 0.5 }), ctx, 4096).decodeFastBytes;
    expect(spread).toBeLessThanOrEqual(authors);
    expect(spread).toBeGreaterThan(0.98 * authors);
  });

  it('keeps what was given and derives only the rest', () => {
    const d = deriveShadowKvParams({ ...base, rank: 16, budget: 512 }, needleLlama, 4096);
    expect(d).toMatchObject({ rank: 16, budget: 512, outliers: 12, derived: ['outliers'] });
    expect(d.note).toMatch(/outliers 12/);
  });

  it('stays dense under the minimum context only when the budget is derived', () => {
    const short = SHADOWKV_MIN_CONTEXT - 1;
    expect(deriveShadowKvParams(base, needleLlama, short)).toMatchObject({ dense: true });
    expect(deriveShadowKvParams(base, needleLlama, short).note).toMatch(/stays dense/);
    expect(deriveShadowKvParams({ ...base, budget: 64 }, needleLlama, short).dense).toBe(false);
  });

  it('derived values always fit the prompt, whatever chunkSize and localChunks were given', () => {
    for (const [chunkSize, localChunks] of [[8, 4], [64, 4], [16, 60], [128, 2]]) {
      for (const promptLen of [1024, 1500, 3000, 9000]) {
        const d = deriveShadowKvParams({ chunkSize, localChunks }, needleLlama, promptLen);
        const chunksBeforeLocal = Math.floor(promptLen / chunkSize) - localChunks;
        expect(d.budget % chunkSize, `${chunkSize}/${localChunks}/${promptLen}`).toBe(0);
        if (chunksBeforeLocal > 1) expect(d.budget / chunkSize + d.outliers, `${chunkSize}/${localChunks}/${promptLen}`).toBeLessThanOrEqual(chunksBeforeLocal);
      }
    }
  });
});

describe('shadowkv() without parameters', () => {
  const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16 };

  it("reports 'auto' before a prompt and the values used afterwards, in every result", async () => {
    const policy = shadowkv();
    expect(policy.params).toMatchObject({ rank: 'auto', budget: 'auto', outliers: 'auto', chunkSize: 8 });
    const promptLen = 1200;
    const r = await run(policy, context(shape, promptLen + 4), { promptLen, steps: 2 });
    const chosen = reportedParams(policy, r.state);
    // width 32 → rank 8; 1200/16 = 75 → floor 128; outliers round(48/256 × 16) = 3.
    expect(chosen).toMatchObject({ rank: 8, budget: 128, outliers: 3, derived: 'rank,budget,outliers' });
    expect(r.state.memory().fastBytes).toBeLessThan(r.state.memory().denseBytes);
    r.state.dispose();
  });

  it('stays dense below the minimum context: the same outputs and bytes as the dense policy, and says so', async () => {
    const promptLen = 300;
    const ctx = context(shape, promptLen + 4);
    const a = await run(shadowkv(), ctx, { promptLen, steps: 3 });
    const b = await run(dense(), ctx, { promptLen, steps: 3 });
    expect(a.decode).toEqual(b.decode);
    expect(a.state.memory()).toEqual(b.state.memory());
    const chosen = reportedParams(shadowkv(), a.state);
    expect(chosen.mode).toBe('dense');
    expect(String(chosen.note)).toMatch(/300 tokens.*stays dense/);
    a.state.dispose();
    b.state.dispose();
  });
});

describe('explicit parameters stay strictly checked', () => {
  const shape = { nLayers: 1, nHeads: 4, nKvHeads: 2, headDim: 64 };

  it('one error lists every conflict with the prompt', () => {
    const ctx = context(shape, 2100);
    let err: unknown;
    try {
      shadowkv({ rank: 500, budget: 4096 }).validate(ctx, 2000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyParamsError);
    const problems = (err as PolicyParamsError).problems.map((p) => p.option);
    expect(problems).toEqual(['budget', 'rank']);
    expect((err as Error).message).toMatch(/2 problems/);
    // The suggestions fit the prompt: 1/16 of it for the budget, a quarter of the key width for the rank.
    expect((err as Error).message).toMatch(/e\.g\. 120 \(1\/16 of it\)/);
    expect((err as Error).message).toMatch(/lower the rank \(e\.g\. 32\)/);
  });

  it('an absurd budget is refused by its range, with no absurd suggestion', () => {
    expect(() => shadowkv({ budget: 99999999999 })).toThrow(/budget.*must be an integer in \[1, 16777216\], got 99999999999; it is the number of tokens fetched/);
    let msg = '';
    try {
      shadowkv({ budget: 99999999999 });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).not.toMatch(/100000000000|99999999992/);
    // A near-multiple still gets the two neighbouring multiples.
    expect(() => shadowkv({ budget: 250 })).toThrow(/use 248 or 256/);
  });
});
