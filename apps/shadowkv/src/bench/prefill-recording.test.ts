// A recorded-and-replayed prefill must give every policy exactly the tokens of a live prefill.
import { copyFileSync, mkdtempSync, readdirSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine.js';
import { dense, kcache, shadowkv } from '@shadowkv/kv-policies';
import { readSavedSession } from '../saved-session.js';
import { modelFingerprint, PrefillRecordingCache, recordPrefill, replayPrefill } from './prefill-recording.js';

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
    expect(cache.has(ids.slice(0, 40))).toBe(false);
    const a = await cache.get(engine, ids.slice(0, 40));
    expect(cache.has(ids.slice(0, 40))).toBe(true);
    expect(cache.has(ids.slice(0, 41))).toBe(false);
    const b = await cache.get(engine, ids.slice(0, 40));
    expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
    expect(Array.from(b.kPre[3])).toEqual(Array.from(a.kPre[3]));
    expect(b.v[0].length).toBe(40 * 64);
  });

  it('stores recordings in the saved-session format, and records a damaged file again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skv-rec-'));
    const cache = await PrefillRecordingCache.open(root, engine);
    const a = await cache.get(engine, ids.slice(0, 30));
    const [sub] = readdirSync(root);
    const [file] = readdirSync(join(root, sub)).map((f) => join(root, sub, f));
    expect(file.endsWith('.skv')).toBe(true);
    const saved = await readSavedSession(file);
    expect(saved.tokens).toEqual(ids.slice(0, 30));
    expect(saved.history.length).toBe(30);
    expect(Array.from(saved.lastLogits as Float32Array)).toEqual(Array.from(a.logits));
    // A run killed mid-write cannot leave a half file under the name (atomic rename); a damaged one is redone.
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    const b = await cache.get(engine, ids.slice(0, 30));
    expect(Array.from(b.v[1])).toEqual(Array.from(a.v[1]));
    expect((await readSavedSession(file)).tokens).toHaveLength(30);
  });

  it('keys recordings by the model files\' contents: a copy with new mtimes matches, changed weights do not', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'skv-model-'));
    for (const f of readdirSync(fixtureDir)) copyFileSync(join(fixtureDir, f), join(copy, f));
    utimesSync(join(copy, 'model.safetensors'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const original = await modelFingerprint(fixtureDir);
    expect(await modelFingerprint(copy)).toBe(original);
    // Flip the last byte of the weights (same size, same header; the last sampled block covers it). Retrained
    // weights differ everywhere, so they change every sampled block.
    const w = readFileSync(join(copy, 'model.safetensors'));
    w[w.length - 1] ^= 0xff;
    writeFileSync(join(copy, 'model.safetensors'), w);
    expect(await modelFingerprint(copy)).not.toBe(original);
  });
});
