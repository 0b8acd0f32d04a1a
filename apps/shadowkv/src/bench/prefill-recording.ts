// Records a prompt's prefill (pre-RoPE keys, values and the first logits, per layer) and replays it into
// any cache policy. Prefill is dense under every policy and the policies keep only K/V from it, so a replay
// gives exactly the state a live prefill would: benchmarks evaluate many policies per prompt at the cost of
// one prefill, and can keep recordings on disk across runs. On disk a recording is a saved session
// (docs/saved-session-format.md): the prompt's tokens, its K/V rows and the logits after it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { KvCachePolicy, KvCacheState } from '@shadowkv/core';
import { DenseState } from '@shadowkv/kv-policies';
import type { Engine } from '../engine.js';
import { KvHistory } from '../kv-history.js';
import { modelFingerprint } from '../model-fingerprint.js';
import { readSavedSession, SavedSessionError, writeSavedSession } from '../saved-session.js';

export { modelFingerprint };

export interface PrefillRecording {
  promptLen: number;
  /** Logits after the last prompt token [vocab]. */
  logits: Float32Array;
  /** Per layer: pre-RoPE keys [promptLen, nKvHeads*headDim], token-major. */
  kPre: Float32Array[];
  /** Per layer: values [promptLen, nKvHeads*headDim], token-major. */
  v: Float32Array[];
}

/** Prefills `ids` once (dense) and records what any policy needs to rebuild its state. */
export async function recordPrefill(engine: Engine, ids: number[]): Promise<PrefillRecording> {
  // The dense policy's own K/V buffer, also keeping the pre-RoPE keys: the recording is read back from it.
  let recorder: DenseState | undefined;
  const recordPolicy: KvCachePolicy = {
    name: 'dense',
    params: { preRopeKeys: true },
    validate() {},
    create: (ctx) => (recorder = new DenseState(ctx, { preRopeKeys: true })),
  };
  const { state, logits } = await engine.prefill(ids, recordPolicy, ids.length);
  try {
    const kPre: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let l = 0; l < engine.model.config.nLayers; l++) {
      const layer = await (recorder as DenseState).readLayer(l);
      kPre.push(layer.kPre as Float32Array);
      v.push(layer.v);
    }
    return { promptLen: ids.length, logits, kPre, v };
  } finally {
    state.dispose();
  }
}

/** Builds a fresh state of `policy` from a recording, ready to decode up to `maxNewTokens`. */
export async function replayPrefill(engine: Engine, rec: PrefillRecording, policy: KvCachePolicy, maxNewTokens: number): Promise<KvCacheState> {
  const { backend, model } = engine;
  const c = model.config;
  const L = rec.promptLen;
  const ctx = engine.cacheContext(L + maxNewTokens);
  policy.validate(ctx, L);
  const state = policy.create(ctx);
  const positions = backend.upload(Int32Array.from({ length: L }, (_, i) => i), [L], 'i32');
  try {
    // Layer by layer, as a layer-major prefill: a state that converts each layer as soon as it is filled
    // (endPrefillLayer) holds one layer's dense buffer at a time, as in a live prefill.
    const layerMajor = typeof state.endPrefillLayer === 'function';
    state.beginStep({ start: 0, m: L, layerMajor });
    for (let layer = 0; layer < c.nLayers; layer++) {
      const kPre = backend.upload(rec.kPre[layer], [L, c.nKvHeads * c.headDim]);
      const k = backend.rope(kPre, positions, c.nKvHeads, model.rope);
      const v = backend.upload(rec.v[layer], [L, c.nKvHeads * c.headDim]);
      // Awaited: in a layer-major step ShadowKV reads the pre-RoPE keys back to the host before they are freed.
      await state.append({ layer, start: 0, m: L, kPre, k, v });
      for (const t of [kPre, k, v]) backend.dispose(t);
      if (layerMajor) await state.endPrefillLayer?.(layer);
    }
    state.endStep();
    await state.endPrefill();
    return state;
  } catch (err) {
    state.dispose();
    throw err;
  } finally {
    backend.dispose(positions);
  }
}

/**
 * On-disk recordings keyed by the model's contents (modelFingerprint), the backend that computed them (backends
 * round differently, so a WebGPU accuracy run must not replay a CPU prefill) and the prompt ids.
 */
export class PrefillRecordingCache {
  private constructor(private readonly dir: string) {}

  static async open(root: string, engine: Engine): Promise<PrefillRecordingCache> {
    const dir = join(root, `${await modelFingerprint(resolve(engine.model.dir))}-${engine.backend.name}`);
    await mkdir(dir, { recursive: true });
    return new PrefillRecordingCache(dir);
  }

  /** Whether `ids` has a recording on disk (get() would not run a prefill). */
  has(ids: number[]): boolean {
    return existsSync(this.fileFor(ids));
  }

  private fileFor(ids: number[]): string {
    return join(this.dir, `${createHash('sha256').update(Int32Array.from(ids)).digest('hex').slice(0, 24)}.skv`);
  }

  /**
   * The recording of `ids`, from disk when present, else recorded now and saved. A file that fails the saved-session
   * checks (truncated by a killed run, corrupted, another format version) or holds other tokens is recorded again.
   */
  async get(engine: Engine, ids: number[]): Promise<PrefillRecording> {
    const file = this.fileFor(ids);
    const c = engine.model.config;
    const width = c.nKvHeads * c.headDim;
    if (existsSync(file)) {
      try {
        const saved = await readSavedSession(file);
        const fp = await engine.fingerprint();
        const same = saved.model.fingerprint === fp && saved.tokens.length === ids.length && saved.tokens.every((t, i) => t === ids[i]);
        if (same && saved.history.length === ids.length && saved.lastLogits) {
          const kPre = Array.from({ length: c.nLayers }, (_, l) => saved.history.kPre(l).slice());
          const v = Array.from({ length: c.nLayers }, (_, l) => saved.history.v(l).slice());
          return { promptLen: ids.length, logits: saved.lastLogits, kPre, v };
        }
      } catch (err) {
        if (!(err instanceof SavedSessionError)) throw err;
      }
      await unlink(file).catch(() => {});
    }
    const rec = await recordPrefill(engine, ids);
    await writeSavedSession(file, {
      model: { fingerprint: await engine.fingerprint(), nLayers: c.nLayers, nKvHeads: c.nKvHeads, headDim: c.headDim, vocabSize: c.vocabSize },
      backend: engine.backend.name,
      policy: { name: 'dense', params: {} },
      capacity: ids.length,
      tokens: ids,
      history: KvHistory.fromRows(rec.kPre, rec.v, width, ids.length, ids.length),
      lastLogits: rec.logits,
      conversation: [],
    });
    return rec;
  }
}
