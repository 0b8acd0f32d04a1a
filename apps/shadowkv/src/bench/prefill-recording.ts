// Records a prompt's prefill (pre-RoPE keys, values and the first logits, per layer) and replays it into
// any cache policy. Prefill is dense under every policy and the policies keep only K/V from it, so a replay
// gives exactly the state a live prefill would: benchmarks evaluate many policies per prompt at the cost of
// one prefill, and can keep recordings on disk across runs.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { KvCachePolicy, KvCacheState } from '@shadowkv/core';
import { DenseState } from '@shadowkv/kv-policies';
import { openSafetensorsFile, writeSafetensors } from '@shadowkv/model-llama';
import type { Engine } from '../engine.js';

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
    state.beginStep({ start: 0, m: L });
    for (let layer = 0; layer < c.nLayers; layer++) {
      const kPre = backend.upload(rec.kPre[layer], [L, c.nKvHeads * c.headDim]);
      const k = backend.rope(kPre, positions, c.nKvHeads, model.rope);
      const v = backend.upload(rec.v[layer], [L, c.nKvHeads * c.headDim]);
      state.append({ layer, start: 0, m: L, kPre, k, v });
      for (const t of [kPre, k, v]) backend.dispose(t);
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

/** Bytes read from each weight file for its fingerprint: SAMPLES blocks of SAMPLE_BYTES, evenly spaced. */
const SAMPLES = 16;
const SAMPLE_BYTES = 64 * 1024;

/**
 * A fingerprint of the model's contents: config.json's bytes, and per `*.safetensors` file its name, size and
 * SAMPLES blocks spread over it (the first holds the header). Reads at most 1 MiB a file, and unlike a path or
 * mtime key it survives copies and re-mounts of the same files while catching retrained weights.
 */
export async function modelFingerprint(modelDir: string): Promise<string> {
  const h = createHash('sha256');
  h.update(await readFile(join(modelDir, 'config.json')));
  const files = (await readdir(modelDir)).filter((f) => f.endsWith('.safetensors')).sort();
  for (const f of files) {
    const fh = await open(join(modelDir, f), 'r');
    try {
      const { size } = await fh.stat();
      h.update(`${f}:${size}`);
      const block = Buffer.alloc(Math.min(SAMPLE_BYTES, size));
      for (let i = 0; i < SAMPLES && size > 0; i++) {
        const at = Math.floor(((size - block.length) * i) / Math.max(SAMPLES - 1, 1));
        const { bytesRead } = await fh.read(block, 0, block.length, at);
        h.update(block.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }
  return h.digest('hex').slice(0, 16);
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
    return join(this.dir, `${createHash('sha256').update(Int32Array.from(ids)).digest('hex').slice(0, 24)}.safetensors`);
  }

  /** The recording of `ids`, from disk when present, else recorded now and saved. */
  async get(engine: Engine, ids: number[]): Promise<PrefillRecording> {
    const file = this.fileFor(ids);
    if (existsSync(file)) {
      const src = await openSafetensorsFile(file);
      try {
        const nLayers = engine.model.config.nLayers;
        const kPre: Float32Array[] = [];
        const v: Float32Array[] = [];
        for (let l = 0; l < nLayers; l++) {
          kPre.push(await src.readF32(`kPre.${l}`));
          v.push(await src.readF32(`v.${l}`));
        }
        return { promptLen: ids.length, logits: await src.readF32('logits'), kPre, v };
      } finally {
        await src.close();
      }
    }
    const rec = await recordPrefill(engine, ids);
    const width = engine.model.config.nKvHeads * engine.model.config.headDim;
    const tensors: Parameters<typeof writeSafetensors>[1] = { logits: { dtype: 'F32', shape: [rec.logits.length], data: rec.logits } };
    rec.kPre.forEach((k, l) => (tensors[`kPre.${l}`] = { dtype: 'F32', shape: [ids.length, width], data: k }));
    rec.v.forEach((x, l) => (tensors[`v.${l}`] = { dtype: 'F32', shape: [ids.length, width], data: x }));
    const partial = `${file}.partial-${process.pid}`;
    await writeSafetensors(partial, tensors);
    await rename(partial, file);
    return rec;
  }
}
