// A recorded-and-replayed prefill must give every policy exactly the tokens of a live prefill.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dense } from '@shadowkv/model-llama';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine.js';
import { kcache, shadowkv } from '../policies/index.js';
import { PrefillRecordingCache, recordPrefill, replayPrefill } from './prefill-recording.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'fixtures', 'hf-llama-gqa');

describe('prefill recording and replay', () => {
  let engine: Engine;
  // 257 tokens: enough chunks for a sparse budget smaller than the context.
  const ids = Array.from({ length: 257 }, (_, i) => (i * 37 + 11) % 500 + 2);
  const policies = () => [dense(), shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2 }), kcache({ topN: 16 })];

  beforeAll(async () => {
    engine = await createEngine({ model: fixtureDir });
  });

  it('replayed states decode the same tokens as live prefills, for every policy', async () => {
    const rec = await recordPrefill(engine, ids);
    for (const p of policies()) {
      const live = await engine.generateText({ inputIds: ids }, { maxNewTokens: 6, cache: p, ignoreEos: true });
      const state = await replayPrefill(engine, rec, p, 6);
      const replayed = await engine.greedy(state, rec.logits, 6);
      state.dispose();
      expect(replayed, p.name).toEqual(live.tokens);
    }
  });

  it('the on-disk cache returns the recording it saved', async () => {
    const cache = await PrefillRecordingCache.open(mkdtempSync(join(tmpdir(), 'skv-rec-')), engine);
    const a = await cache.get(engine, ids.slice(0, 40));
    const b = await cache.get(engine, ids.slice(0, 40));
    expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
    expect(Array.from(b.kPre[3])).toEqual(Array.from(a.kPre[3]));
    expect(b.v[0].length).toBe(40 * 64);
  });
});
