// Saved sessions: save → restore → resume gives the saved session's greedy tokens (dense, shadowkv, kcache), and
// every bad file (other model, other policy, other version, truncated, corrupted) is a typed error naming it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KvCachePolicy } from '@shadowkv/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from './engine.js';
import { createPolicy } from './policy-options.js';
import { readSavedSession, SavedSessionError, writeSavedSession } from './saved-session.js';

const here = dirname(fileURLToPath(import.meta.url));
const modelDir = join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(modelDir, 'golden.json'), 'utf8')) as { inputs: Record<string, number[]> };
const long = golden.inputs['257'];

const POLICIES: [string, () => KvCachePolicy][] = [
  ['dense', () => createPolicy('dense')],
  ['shadowkv', () => createPolicy('shadowkv', { rank: 16, budget: 64, chunkSize: 8, localChunks: 2, outliers: 2 })],
  // exactTail 32: the session's 60-odd tokens after the prompt fold several times, in the live turns and the replay.
  ['shadowkv (folding)', () => createPolicy('shadowkv', { rank: 16, budget: 64, chunkSize: 8, localChunks: 2, outliers: 2, exactTail: 32 })],
  ['kcache', () => createPolicy('kcache', { topN: 32 })],
];

describe('session.save / engine.restore', () => {
  let engine: Engine;
  let dir: string;
  beforeAll(async () => {
    engine = await createEngine({ model: modelDir, backend: 'cpu' });
    dir = mkdtempSync(join(tmpdir(), 'skv-saved-'));
  });
  afterAll(() => {
    engine.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, make] of POLICIES) {
    it(`${name}: the restored session resumes with the same greedy tokens as the saved one`, async () => {
      const s = engine.session({ cache: make(), capacity: 512 });
      await s.generateText({ inputIds: long.slice(0, 200) }, { maxNewTokens: 6, ignoreEos: true });
      await s.generateText({ inputIds: long.slice(200, 230) }, { maxNewTokens: 5, ignoreEos: true });
      const file = join(dir, `${name}.skv`);
      await s.save(file);
      const r = await engine.restore(file);
      expect(r.policy.name).toBe(name.split(' ')[0]);
      expect(r.tokens).toEqual(s.tokens);
      const a = await s.generateText({ inputIds: long.slice(230, 250) }, { maxNewTokens: 8, ignoreEos: true });
      const b = await r.generateText({ inputIds: long.slice(230, 250) }, { maxNewTokens: 8, ignoreEos: true });
      expect(b.tokens).toEqual(a.tokens);
      expect(b.prefilledTokens).toBe(20);
      s.dispose();
      r.dispose();
    });
  }

  it('bad files are SavedSessionErrors naming the file and the problem; nothing is half-loaded', async () => {
    const s = engine.session();
    await s.generateText({ inputIds: long.slice(0, 40) }, { maxNewTokens: 3 });
    const good = join(dir, 'good.skv');
    await s.save(good);
    const bytes = readFileSync(good);
    const open = engine.openSessions;
    const expectProblem = async (file: string, problem: string, re: RegExp, opts = {}) => {
      const err = await engine.restore(file, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SavedSessionError);
      expect((err as SavedSessionError).problem).toBe(problem);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(re);
      expect(engine.openSessions).toBe(open);
    };
    const variant = (name: string, b: Uint8Array) => {
      const f = join(dir, name);
      writeFileSync(f, b);
      return f;
    };
    // Truncated anywhere: in the prefix, the header, the sections, or just the checksum.
    for (const cut of [10, 100, bytes.length - 1000, bytes.length - 1]) await expectProblem(variant(`cut${cut}.skv`, bytes.subarray(0, cut)), 'truncated', /truncated/);
    // One flipped bit in the values.
    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 500] ^= 1;
    await expectProblem(variant('flip.skv', flipped), 'checksum', /checksum/);
    // Another format version.
    const v2 = Buffer.from(bytes);
    v2.writeUInt32LE(2, 8);
    await expectProblem(variant('v2.skv', v2), 'version', /version 2.*version 1/);
    // Not a saved session at all.
    await expectProblem(variant('other.skv', Buffer.from('{"hello": 1}\n'.repeat(4))), 'not-a-session', /not a shadowkv saved session/);
    // Another model: same shapes, another fingerprint.
    const saved = await readSavedSession(good);
    const foreign = join(dir, 'foreign.skv');
    await writeSavedSession(foreign, { ...saved, model: { ...saved.model, fingerprint: '0123456789abcdef' } });
    await expectProblem(foreign, 'model', /another model/);
    // Another policy than the one asked for.
    await expectProblem(good, 'policy', /saved under policy dense/, { cache: createPolicy('kcache', { topN: 8 }) });
    // The good file still restores.
    const r = await engine.restore(good);
    expect(r.tokens).toEqual(s.tokens);
    r.dispose();
    s.dispose();
  });
});
