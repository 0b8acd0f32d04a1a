// The batch scheduler: batched greedy output equals each request run alone (mixed lengths and policies, a request
// joining mid-run), admission by the KV budget with a bounded queue, typed refusals, and cancelling one request.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenerationAbortedError, InvalidOptionError, type KvCachePolicy } from '@shadowkv/core';
import { dense, kcache, projectKvMemory, shadowkv } from '@shadowkv/kv-policies';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine.js';
import type { GenerationStream } from '../generation-stream.js';
import { KvBudgetExceededError, QueueFullError } from './scheduler-errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, '..', '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const CHUNK = 16;
const BIG = 1 << 30;

function promptOf(len: number, seed: number): number[] {
  return Array.from({ length: len }, (_, i) => ((seed * 131 + i * 17 + ((i * i) % 7)) % 500) + 2);
}

async function tokensOf(stream: GenerationStream): Promise<number[]> {
  const out: number[] = [];
  for await (const c of stream) if (c.tokenId >= 0) out.push(c.tokenId);
  return out;
}

describe('BatchScheduler', () => {
  let engine: Engine;
  const sparse = () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 });
  const alone = (ids: number[], cache: KvCachePolicy, maxNewTokens: number) =>
    tokensOf(engine.generate({ inputIds: ids }, { cache, maxNewTokens, ignoreEos: true, prefillChunkSize: CHUNK }));

  beforeAll(async () => {
    engine = await createEngine({ model: fixtureDir, backend: 'cpu' });
  });
  afterAll(() => engine.dispose());

  it('gives every request the greedy tokens it gets alone, with a request joining while others decode', async () => {
    const reqs: { ids: number[]; cache: () => KvCachePolicy; n: number }[] = [
      { ids: promptOf(70, 1), cache: sparse, n: 6 },
      { ids: promptOf(9, 2), cache: () => dense(), n: 8 },
      { ids: promptOf(40, 3), cache: () => kcache({ topN: 16 }), n: 5 },
    ];
    const late = { ids: promptOf(50, 4), cache: () => dense(), n: 4 };
    const expected = [];
    for (const r of [...reqs, late]) expected.push(await alone(r.ids, r.cache(), r.n));

    const sched = engine.scheduler({ kvMemory: BIG, prefillChunkSize: CHUNK });
    const first = reqs.map((r) => sched.submit({ inputIds: r.ids }, { cache: r.cache(), maxNewTokens: r.n, ignoreEos: true }));
    // The late request is submitted once the short one has produced a token (others are mid-prefill or decoding).
    const got0: number[] = [];
    let lateStream: GenerationStream | undefined;
    const shortDone = (async () => {
      for await (const c of first[1]) {
        got0.push(c.tokenId);
        lateStream ??= sched.submit({ inputIds: late.ids }, { cache: late.cache(), maxNewTokens: late.n, ignoreEos: true });
      }
      return got0;
    })();
    const results = await Promise.all([tokensOf(first[0]), shortDone, tokensOf(first[2])]);
    const lateTokens = await tokensOf(lateStream as GenerationStream);
    expect([...results, lateTokens]).toEqual(expected);
    const res = await first[0].result;
    expect(res.tokens).toEqual(expected[0]);
    expect(res.policy.name).toBe('shadowkv');
    const st = sched.stats();
    expect(st.maxBatch).toBeGreaterThanOrEqual(3);
    expect(st.running).toBe(0);
    expect(st.reservedBytes).toBe(0);
  });

  it('on the wasm backend (rows stacked with its writeRows) too: batched greedy tokens equal solo ones', async () => {
    const wasm = await createEngine({ model: fixtureDir, backend: 'wasm' });
    try {
      expect(typeof wasm.backend.writeRows).toBe('function');
      const reqs = [
        { ids: promptOf(75, 12), cache: sparse, n: 5 },
        { ids: promptOf(7, 13), cache: () => dense(), n: 7 },
        { ids: promptOf(30, 14), cache: () => kcache({ topN: 16 }), n: 4 },
      ];
      const expected = [];
      for (const r of reqs) expected.push(await tokensOf(wasm.generate({ inputIds: r.ids }, { cache: r.cache(), maxNewTokens: r.n, ignoreEos: true, prefillChunkSize: CHUNK })));
      const sched = wasm.scheduler({ kvMemory: BIG, prefillChunkSize: CHUNK });
      const got = await Promise.all(reqs.map((r) => tokensOf(sched.submit({ inputIds: r.ids }, { cache: r.cache(), maxNewTokens: r.n, ignoreEos: true }))));
      expect(got).toEqual(expected);
      expect(sched.stats().maxBatch).toBe(3);
    } finally {
      wasm.dispose();
    }
  });

  it("cuts each prompt at its own prefillChunkSize, one chunk per step interleaved with the running streams' decode steps", async () => {
    const runner = promptOf(12, 10);
    const joiner = promptOf(101, 11);
    const expected = [await alone(runner, dense(), 40), await tokensOf(engine.generate({ inputIds: joiner }, { cache: sparse(), maxNewTokens: 3, ignoreEos: true, prefillChunkSize: 8 }))];
    // The scheduler's own chunk (CHUNK) is the runner's; the joiner asks for 8.
    const sched = engine.scheduler({ kvMemory: BIG, prefillChunkSize: CHUNK });
    const a = sched.submit({ inputIds: runner }, { cache: dense(), maxNewTokens: 40, ignoreEos: true });
    const got: number[] = [];
    // At each of the joiner's prefill pieces: how far it got, and how many tokens the runner had produced.
    const progress: { done: number; runnerTokens: number; step: number }[] = [];
    let b: GenerationStream | undefined;
    for await (const c of a) {
      got.push(c.tokenId);
      b ??= sched.submit({ inputIds: joiner }, { cache: sparse(), maxNewTokens: 3, ignoreEos: true, prefillChunkSize: 8, onPrefillProgress: (done) => progress.push({ done, runnerTokens: got.length, step: sched.stats().steps }) });
    }
    const joined = await tokensOf(b as GenerationStream);
    expect([got, joined]).toEqual(expected);
    // The joiner (ShadowKV) prefills layer-major: 100 body tokens in pieces of 8 (the last 4), then the last prompt
    // token, each through one layer per unit; a step runs units worth the scheduler's chunk (16 tokens) through
    // every layer, so 4 x 101 token-layers take ceil(404 / 64) = 7 steps, one progress report each.
    const done = progress.map((p) => p.done);
    expect(done.length).toBe(7);
    expect(done[done.length - 1]).toBe(101);
    for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1]);
    // One piece per step, and the runner produced a token in each of those steps (it was decoding throughout).
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].step - progress[i - 1].step).toBe(1);
      expect(progress[i].runnerTokens).toBeGreaterThan(progress[i - 1].runnerTokens);
    }
    expect(sched.stats().maxBatch).toBe(2);
    // Over the scheduler's maximum, or not a positive integer: refused before anything runs.
    expect(() => sched.submit({ inputIds: joiner }, { prefillChunkSize: 4097 })).toThrow(/prefillChunkSize.*at most 4096/);
    expect(() => sched.submit({ inputIds: joiner }, { prefillChunkSize: 0 })).toThrow(InvalidOptionError);
    expect(sched.stats().queued + sched.stats().running).toBe(0);
  });

  it('admits by the KV budget: a second request waits for memory, a full queue refuses, an oversized request is refused', async () => {
    const ids = promptOf(20, 5);
    const need = projectKvMemory(dense(), engine.cacheContext(ids.length + 4), ids.length).decodeFastBytes;
    const sched = engine.scheduler({ kvMemory: need + need / 2, maxQueue: 1, prefillChunkSize: CHUNK });
    const a = sched.submit({ inputIds: ids }, { cache: dense(), maxNewTokens: 4, ignoreEos: true });
    const b = sched.submit({ inputIds: ids }, { cache: dense(), maxNewTokens: 4, ignoreEos: true });
    expect(sched.stats()).toMatchObject({ running: 1, queued: 1, reservedBytes: need, queuedBytes: need });
    expect(() => sched.submit({ inputIds: ids }, { cache: dense(), maxNewTokens: 4 })).toThrow(QueueFullError);
    const big = promptOf(200, 6);
    expect(() => sched.submit({ inputIds: big }, { cache: dense(), maxNewTokens: 4 })).toThrow(KvBudgetExceededError);
    const [ta, tb] = await Promise.all([tokensOf(a), tokensOf(b)]);
    expect(ta).toEqual(tb);
    // Never two sequences at once: the budget held one.
    expect(sched.stats().maxBatch).toBe(1);
  });

  it('cancelling a request in its layer-major prefill stops it within one unit and leaves the others exact', async () => {
    const runner = promptOf(20, 12);
    const long = promptOf(300, 13);
    const expected = await alone(runner, dense(), 12);
    const sched = engine.scheduler({ kvMemory: BIG, prefillChunkSize: CHUNK });
    const a = sched.submit({ inputIds: runner }, { cache: dense(), maxNewTokens: 12, ignoreEos: true });
    const ac = new AbortController();
    const progress: number[] = [];
    const b = sched.submit({ inputIds: long }, {
      cache: sparse(),
      maxNewTokens: 4,
      prefillChunkSize: 8,
      signal: ac.signal,
      onPrefillProgress: (d) => {
        progress.push(d);
        if (progress.length === 2) ac.abort();
      },
    });
    const [ta, err] = await Promise.all([tokensOf(a), tokensOf(b).catch((e: unknown) => e)]);
    expect(ta).toEqual(expected);
    expect(err).toBeInstanceOf(GenerationAbortedError);
    // Aborted between two steps' units: no unit ran after it, and the prefill was far from done.
    expect(progress.length).toBe(2);
    expect(progress[1]).toBeLessThan(long.length);
    expect(sched.stats()).toMatchObject({ running: 0, reservedBytes: 0, fastBytes: 0 });
  });

  it('cancelling one request frees its state at once and leaves the others exact', async () => {
    const ids = [promptOf(30, 7), promptOf(25, 8), promptOf(75, 9)];
    const expected = [await alone(ids[0], dense(), 8), await alone(ids[2], sparse(), 8)];
    const sched = engine.scheduler({ kvMemory: BIG, prefillChunkSize: CHUNK });
    const ac = new AbortController();
    const s0 = sched.submit({ inputIds: ids[0] }, { cache: dense(), maxNewTokens: 8, ignoreEos: true });
    const s1 = sched.submit({ inputIds: ids[1] }, { cache: dense(), maxNewTokens: 50, ignoreEos: true, signal: ac.signal });
    const s2 = sched.submit({ inputIds: ids[2] }, { cache: sparse(), maxNewTokens: 8, ignoreEos: true });
    let before = 0;
    let after = 0;
    const cancelled = (async () => {
      let n = 0;
      try {
        for await (const _ of s1) {
          if (++n === 2) {
            before = sched.stats().reservedBytes;
            ac.abort();
          }
        }
      } catch (err) {
        // The reader learns at once; the state is freed when the step in flight (if any) ends.
        after = sched.stats().reservedBytes;
        return err;
      }
      return null;
    })();
    const [t0, err, t2] = await Promise.all([tokensOf(s0), cancelled, tokensOf(s2)]);
    expect(err).toBeInstanceOf(GenerationAbortedError);
    expect([t0, t2]).toEqual(expected);
    expect(before).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(before);
    await expect(s1.result).rejects.toThrow(GenerationAbortedError);
    // It stopped computing: its 50 tokens would need more steps than the others' prefill chunks and 8 tokens.
    expect(sched.stats().steps).toBeLessThan(40);
    const st = sched.stats();
    expect(st.running).toBe(0);
    expect(st.reservedBytes).toBe(0);
  });
});
