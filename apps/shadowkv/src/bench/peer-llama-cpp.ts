// The llama.cpp peer of `bench speed --peer llama.cpp`: the same model as GGUF run by llama.cpp through the
// node-llama-cpp package (a dev dependency of the bench only; imported dynamically, never by the libraries),
// measured like our runs: prefill the same prompt ids, then decode greedily at depth = context.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BackendUnavailableError, InvalidOptionError } from '@shadowkv/core';

/** One llama.cpp measurement, shaped so it sits next to our rows (engine 'llama.cpp'). */
export interface PeerSpeedResult {
  engine: 'llama.cpp';
  /** 'llama.cpp cpu' and the GGUF file. */
  backend: string;
  gguf: string;
  threads: number;
  context: number;
  newTokens: number;
  prefillSeconds: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Mean milliseconds per decode step. */
  stepMs: number;
}

/** The package version the bench was written against (node-llama-cpp's API changes between majors). */
export const NODE_LLAMA_CPP_VERSION = '3.22.1';

type Token = number & { __token?: never };
interface Sequence {
  evaluateWithoutGeneratingNewTokens(tokens: Token[]): Promise<void>;
  evaluate(tokens: Token[], opts: { temperature: number }): AsyncGenerator<Token>;
}
interface Context {
  getSequence(): Sequence;
  dispose(): Promise<void>;
}
interface Model {
  createContext(opts: Record<string, unknown>): Promise<Context>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(opts: { modelPath: string; gpuLayers: number }): Promise<Model>;
  dispose(): Promise<void>;
}

/**
 * The GGUF of a Hugging Face model directory for the peer: `<dir>-gguf/*-<dtype>.gguf` beside it (as
 * `../shared/models/needle-llama-gguf/needle-bf16.gguf` for needle-llama), the dtype being our weights dtype.
 */
export function findPeerGguf(modelDir: string, dtype: string): string {
  const dir = join(dirname(modelDir), `${basename(modelDir)}-gguf`);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.gguf')) : [];
  const hit = files.find((f) => f.endsWith(`-${dtype}.gguf`));
  if (!hit) {
    throw new InvalidOptionError(
      'peer-model',
      `no GGUF with ${dtype} weights next to ${modelDir} (looked for ${dir}/*-${dtype}.gguf${files.length ? `; found ${files.join(', ')}` : ''}); give the file with --peer-model`,
    );
  }
  return join(dir, hit);
}

/** llama.cpp with one model loaded; run() measures one context at one thread count. */
export class LlamaCppPeer {
  private constructor(
    private readonly llama: Llama,
    private readonly model: Model,
    readonly gguf: string,
  ) {}

  /** Loads the prebuilt CPU binary (no build, no download) and the GGUF. */
  static async open(gguf: string): Promise<LlamaCppPeer> {
    if (!existsSync(gguf)) throw new InvalidOptionError('peer-model', `${gguf} does not exist; give a GGUF file of the same model`);
    let mod: { getLlama(o: Record<string, unknown>): Promise<Llama> };
    try {
      const name = 'node-llama-cpp';
      mod = (await import(/* @vite-ignore */ name)) as typeof mod;
    } catch (err) {
      throw new BackendUnavailableError('llama.cpp', `node-llama-cpp ${NODE_LLAMA_CPP_VERSION} could not be loaded (${(err as Error).message}); it is a dev dependency of the shadowkv app (with @node-llama-cpp/linux-x64)`, { cause: err });
    }
    // maxThreads 0: the context's thread count is used exactly, not capped by other evaluations.
    const llama = await mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error', maxThreads: 0 });
    const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
    return new LlamaCppPeer(llama, model, gguf);
  }

  /**
   * Prefills `ids` (all but the last, batch 512 as our prefill chunks), then decodes `newTokens` greedily from
   * the last prompt token: each decode step is one forward at depth ≈ context, like ours.
   */
  async run(ids: number[], newTokens: number, threads: number): Promise<PeerSpeedResult> {
    const ctx = await this.model.createContext({
      contextSize: ids.length + newTokens + 8,
      batchSize: 512,
      threads: { ideal: threads, min: threads },
      flashAttention: false,
    });
    try {
      const seq = ctx.getSequence();
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(ids.slice(0, -1) as Token[]);
      const prefillMs = performance.now() - t0;
      let n = 0;
      const t1 = performance.now();
      for await (const _ of seq.evaluate([ids[ids.length - 1]] as Token[], { temperature: 0 })) {
        if (++n >= newTokens) break;
      }
      const decodeMs = performance.now() - t1;
      const stepMs = decodeMs / Math.max(1, n);
      return {
        engine: 'llama.cpp',
        backend: 'llama.cpp cpu',
        gguf: basename(this.gguf),
        threads,
        context: ids.length,
        newTokens: n,
        prefillSeconds: prefillMs / 1000,
        prefillTokensPerSecond: (ids.length - 1) / (prefillMs / 1000),
        decodeTokensPerSecond: 1000 / stepMs,
        stepMs,
      };
    } finally {
      await ctx.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
    await this.llama.dispose();
  }
}
