// The layer-major prefill (LayerMajorPrefill: every piece at layer l, then layer l+1, hidden rows on the host) gives
// bit-identical results to the token-major chunked prefill with the same cuts, on the cpu and the wasm backend: the
// last prompt token's logits, the greedy tokens and logits after it, and ShadowKV's decode state, for a dense state,
// ShadowKV (uniform and energy ranks) and KCache. Also: the engine picks it for offloading states, and an abort stops
// it within one unit.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenerationAbortedError, type KernelBackend, type KvCachePolicy, type KvCacheState } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { wasm } from '@shadowkv/kernels-wasm';
import { dense, kcache, shadowkv, type ShadowKvState } from '@shadowkv/kv-policies';
import { LayerMajorPrefill, LlamaModel, takesLayerMajorPrefill } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prefillPrompt } from './prefill-prompt.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const PROMPT = 150;
const CHUNK = 32;
const NEW = 5;

function promptOf(len: number): number[] {
  return Array.from({ length: len }, (_, i) => ((7 * 131 + i * 17 + ((i * i) % 7)) % 500) + 2);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

const policies: [string, () => KvCachePolicy][] = [
  ['dense', () => dense()],
  ['shadowkv', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 })],
  ['shadowkv energy ranks', () => shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8, rankAllocation: 'energy' })],
  ['kcache', () => kcache({ topN: 16 })],
];

describe.each([
  ['cpu', () => Promise.resolve(cpu())],
  ['wasm', () => wasm({ threads: 1 })],
] as const)('layer-major prefill on %s', (_name, makeBackend) => {
  let backend: KernelBackend;
  let model: LlamaModel;
  beforeAll(async () => {
    backend = await makeBackend();
    model = await LlamaModel.load(fixtureDir, { backend });
  });
  afterAll(() => {
    model.dispose();
    (backend as { destroy?: () => void }).destroy?.();
  });
  const ctx = () => ({ backend, model: model.config, rope: model.rope, maxSeqLen: PROMPT + NEW });

  /** Prefill (layer-major or token-major, same cuts), endPrefill, then greedy decode: logits of every step and the tokens. */
  async function run(policy: KvCachePolicy, layerMajor: boolean): Promise<{ logits: Float32Array[]; tokens: number[]; state: KvCacheState }> {
    const state = policy.create(ctx());
    const ids = promptOf(PROMPT);
    let logits: Float32Array;
    if (layerMajor) logits = await new LayerMajorPrefill(model, ids, state, { chunk: CHUNK }).run();
    else {
      for (let s = 0; s < PROMPT - 1; s += CHUNK) await model.forward(ids.slice(s, Math.min(PROMPT - 1, s + CHUNK)), state);
      const t = await model.forward([ids[PROMPT - 1]], state, { lastLogits: true });
      logits = (await backend.read(t!)) as Float32Array;
      backend.dispose(t!);
    }
    await state.endPrefill();
    const all = [logits];
    const tokens: number[] = [];
    for (let i = 0; i < NEW; i++) {
      const tok = argmax(all[all.length - 1]);
      tokens.push(tok);
      const t = await model.forward([tok], state, { lastLogits: true });
      all.push((await backend.read(t!)) as Float32Array);
      backend.dispose(t!);
    }
    return { logits: all, tokens, state };
  }

  for (const [name, make] of policies) {
    it(`${name}: logits, greedy tokens and decode state equal the token-major prefill's, bit for bit`, async () => {
      const a = await run(make(), false);
      const b = await run(make(), true);
      expect(b.tokens).toEqual(a.tokens);
      for (let i = 0; i < a.logits.length; i++) expect(b.logits[i]).toEqual(a.logits[i]);
      expect(b.state.memory()).toEqual(a.state.memory());
      if (name.startsWith('shadowkv')) {
        for (let l = 0; l < model.config.nLayers; l++) expect(await (b.state as ShadowKvState).snapshot(l)).toEqual(await (a.state as ShadowKvState).snapshot(l));
      }
      a.state.dispose();
      b.state.dispose();
    });
  }

  it('a session (keeping its K/V history) prefills its first turn layer-major: same tokens as token-major, and fork() rebuilds the same state', async () => {
    const { createEngine } = await import('./engine.js');
    const engine = await createEngine({ model, backend });
    const policy = policies[1][1];
    const want = await run(policy(), false);
    want.state.dispose();
    // The session's state records its history and offers endPrefillLayer only when the policy's state does.
    const { KvHistory, RecordingState } = await import('./kv-history.js');
    const c = model.config;
    for (const [p, want] of [[policy(), true], [dense(), false]] as const) {
      const rec = new RecordingState(p.create(ctx()), new KvHistory(c.nLayers, c.nKvHeads * c.headDim), backend);
      expect(takesLayerMajorPrefill(rec)).toBe(want);
      rec.dispose();
    }
    const s = engine.session({ cache: policy(), capacity: PROMPT + 2 * NEW + 8 });
    const first = await s.generateText({ inputIds: promptOf(PROMPT) }, { maxNewTokens: NEW, ignoreEos: true, prefillChunkSize: CHUNK });
    expect(first.tokens).toEqual(want.tokens);
    const f = await s.fork();
    const turn = { inputIds: [5, 6, 7] };
    const a = await s.generateText(turn, { maxNewTokens: 3, ignoreEos: true });
    const b = await f.generateText(turn, { maxNewTokens: 3, ignoreEos: true });
    expect(b.tokens).toEqual(a.tokens);
    s.dispose();
    f.dispose();
    engine.dispose();
  });

  it('prefillPrompt runs offloading states layer-major, dense token-major; an abort stops it within one unit', async () => {
    const sparse = shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 }).create(ctx());
    const full = dense().create(ctx());
    expect(takesLayerMajorPrefill(sparse)).toBe(true);
    expect(takesLayerMajorPrefill(full)).toBe(false);
    const progress: number[] = [];
    const ids = promptOf(PROMPT);
    await prefillPrompt(model, sparse, ids, { chunk: CHUNK, onProgress: (d) => progress.push(d) });
    // One report per unit (layer x piece: 5 pieces of the body and the last token alone), monotone, ending at the prompt.
    expect(progress.length).toBe(model.config.nLayers * 6);
    expect(progress[progress.length - 1]).toBe(PROMPT);
    expect(progress.every((d, i) => i === 0 || d >= progress[i - 1])).toBe(true);
    sparse.dispose();
    full.dispose();
    // Aborted after the third unit: the fourth does not run.
    const ac = new AbortController();
    const state = shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 }).create(ctx());
    let units = 0;
    const err = await prefillPrompt(model, state, ids, {
      chunk: CHUNK,
      signal: ac.signal,
      onProgress: () => {
        if (++units === 3) ac.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationAbortedError);
    expect(units).toBe(3);
    state.dispose();
  });
});
