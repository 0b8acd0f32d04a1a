// The engine: a loaded model on a backend plus a cache policy, producing streamed generations.
import {
  GenerationAbortedError,
  InvalidOptionError,
  type KernelBackend,
  type KvCachePolicy,
  type KvCacheState,
  type KvMemoryReport,
  type KvStepStats,
} from '@shadowkv/core';
import { dense } from '@shadowkv/kv-policies';
import { LlamaModel, loadTokenizer, type ChatMessage, type LlamaTokenizer, type LoadProgress, type WeightsDtype } from '@shadowkv/model-llama';
import { chooseBackend, type BackendName } from './backends.js';
import { argmax, Sampler, type SamplingOptions } from './sampler.js';
import { SharedPrefillState } from './shared-prefill.js';
import { StopMatcher } from './stop-matcher.js';

export interface EngineOptions {
  /** A Hugging Face Llama directory (config.json, *.safetensors, optional tokenizer files) or a loaded model. */
  model: string | LlamaModel;
  /**
   * Backend name or instance. Default 'auto': WebGPU on a real GPU, else wasm, else cpu (the choice and its
   * reason are in `engine.backendReason` and in every result). With a loaded `model`: that model's backend.
   */
  backend?: BackendName | KernelBackend;
  /** Worker threads of the wasm backend (default: its own choice). */
  threads?: number;
  /**
   * Dtype of the weight matrices in memory: 'f32', 'f16' or 'bf16' (default: the checkpoint's dtype). 16-bit
   * weights are kept only on backends that take them (`capabilities.weightDtypes`), else widened to f32.
   * Ignored when `model` is an already loaded model.
   */
  weightsDtype?: WeightsDtype;
  /** Default cache policy (default: dense). Each generate() call may override it. */
  cache?: KvCachePolicy;
  onLoadProgress?: (p: LoadProgress) => void;
  /**
   * The tokenizer to use (e.g. from createTokenizer in a browser); null for none (prompts as token ids).
   * Default: loaded from the model's folder (tokenizer.json), or none when it has no tokenizer.json.
   */
  tokenizer?: LlamaTokenizer | null;
}

export type PromptInput = string | { inputIds: number[] } | { messages: ChatMessage[] };

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** Generation ends when the text produced contains one of these; the stop string is not emitted. */
  stop?: string[];
  /** Keep going past EOS tokens (for benchmarks). */
  ignoreEos?: boolean;
  /** Render a string prompt through the model's chat template as a single user message. */
  chat?: boolean;
  signal?: AbortSignal;
  cache?: KvCachePolicy;
  /** Prompt tokens per prefill forward call (bounds activation memory). Default 512. */
  prefillChunkSize?: number;
  onPrefillProgress?: (done: number, total: number) => void;
}

export interface GenerateChunk {
  /** Index of the generated token (0-based). */
  index: number;
  tokenId: number;
  /** Text that became complete with this token (may be empty mid-character or while a stop string may be forming). */
  text: string;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  finishReason: FinishReason;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  memory: KvMemoryReport;
  steps: KvStepStats;
  policy: { name: string; params: Readonly<Record<string, number | string | boolean>> };
  backend: string;
  /** Why this backend was chosen (the 'auto' decision, or that it was asked for). */
  backendReason?: string;
  /** Dtype of the weight matrices in memory (norms are f32). */
  weightsDtype?: WeightsDtype;
}

/** A running generation: iterate it for chunks; `result` resolves when it ends. */
export class GenerationStream implements AsyncIterable<GenerateChunk> {
  private resolveResult!: (r: GenerateResult) => void;
  private rejectResult!: (e: unknown) => void;
  /** Resolves with the whole generation's text, tokens and measurements once iteration finishes. */
  readonly result: Promise<GenerateResult> = new Promise((res, rej) => {
    this.resolveResult = res;
    this.rejectResult = rej;
  });
  private started = false;

  constructor(private readonly run: (emit: (r: GenerateResult) => void) => AsyncGenerator<GenerateChunk>) {
    this.result.catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerateChunk> {
    if (this.started) throw new Error('a GenerationStream can be iterated once');
    this.started = true;
    try {
      yield* this.run((r) => this.resolveResult(r));
    } catch (err) {
      this.rejectResult(err);
      throw err;
    }
  }
}

export class Engine {
  /** Why `backend` was chosen (the 'auto' decision, or that it was asked for); set by create(). */
  backendReason = 'a backend instance was given';
  private constructor(
    readonly model: LlamaModel,
    readonly tokenizer: LlamaTokenizer | null,
    readonly backend: KernelBackend,
    private readonly defaultCache: KvCachePolicy,
  ) {}

  static async create(opts: EngineOptions): Promise<Engine> {
    // A loaded model without a backend option keeps its own backend.
    const modelBackend = typeof opts.model !== 'string' && opts.backend === undefined;
    const { backend, reason } = modelBackend
      ? { backend: (opts.model as LlamaModel).backend, reason: 'the backend of the given model' }
      : await chooseBackend(opts.backend, { threads: opts.threads });
    const model =
      typeof opts.model === 'string'
        ? await LlamaModel.load(opts.model, { backend, onProgress: opts.onLoadProgress, weightsDtype: opts.weightsDtype })
        : opts.model;
    const tokenizer = opts.tokenizer !== undefined ? opts.tokenizer : await loadTokenizer(model.dir);
    const engine = new Engine(model, tokenizer, backend, opts.cache ?? dense());
    engine.backendReason = reason;
    return engine;
  }

  /** Turns a prompt into token ids (tokenizer and chat template when text is given). */
  encodePrompt(prompt: PromptInput, chat = false): number[] {
    if (typeof prompt === 'object' && 'inputIds' in prompt) {
      const vocab = this.model.config.vocabSize;
      prompt.inputIds.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new InvalidOptionError('inputIds', `id ${id} at index ${i} is not a token id of this model (vocabulary size ${vocab})`);
        }
      });
      return [...prompt.inputIds];
    }
    const tok = this.requireTokenizer();
    if (typeof prompt === 'object') return tok.encode(tok.applyChatTemplate(prompt.messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
    if (chat) return tok.encode(tok.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false });
    return tok.encode(prompt);
  }

  private requireTokenizer(): LlamaTokenizer {
    if (!this.tokenizer) {
      throw new InvalidOptionError('prompt', `${this.model.dir} has no tokenizer.json; pass token ids instead (--input-ids / { inputIds })`);
    }
    return this.tokenizer;
  }

  /** Streams a generation. Validates everything (prompt length, policy parameters) before any compute. */
  generate(prompt: PromptInput, opts: GenerateOptions = {}): GenerationStream {
    const maxNewTokens = opts.maxNewTokens ?? 128;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidOptionError('maxNewTokens', `${maxNewTokens} must be an integer >= 1`);
    const chunk = opts.prefillChunkSize ?? 512;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InvalidOptionError('prefillChunkSize', `${chunk} must be an integer >= 1`);
    const ids = this.encodePrompt(prompt, opts.chat);
    if (ids.length === 0) throw new InvalidOptionError('prompt', 'the prompt encodes to no tokens; give some text or ids');
    this.model.checkContext(ids.length + maxNewTokens, `the prompt (${ids.length} tokens) plus maxNewTokens (${maxNewTokens})`);
    const sampler = new Sampler(opts);
    const policy = opts.cache ?? this.defaultCache;
    const ctx = this.cacheContext(ids.length + maxNewTokens);
    policy.validate(ctx, ids.length);
    const stop = new StopMatcher(opts.stop ?? []);
    return new GenerationStream((emit) => this.run(ids, maxNewTokens, chunk, sampler, policy, ctx, stop, opts, emit));
  }

  /** Generates and returns the whole text with measurements. */
  async generateText(prompt: PromptInput, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const stream = this.generate(prompt, opts);
    for await (const _ of stream) {
      // drain
    }
    return stream.result;
  }

  cacheContext(maxSeqLen: number) {
    const c = this.model.config;
    return {
      backend: this.backend,
      model: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim },
      rope: this.model.rope,
      maxSeqLen,
    };
  }

  /** Prefills `ids` into a fresh cache state; returns the state and the last prompt token's logits. */
  async prefill(
    ids: number[],
    policy: KvCachePolicy,
    maxSeqLen: number,
    chunk = 512,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<{ state: KvCacheState; logits: Float32Array }> {
    const { states, logits } = await this.prefillShared(ids, [policy], maxSeqLen, chunk, onProgress, signal);
    return { state: states[0], logits };
  }

  /**
   * Prefills `ids` once into one fresh state per policy (prefill attention is dense under every policy, so
   * the states are exactly what separate prefills would give). For comparing policies on the same prompt.
   */
  async prefillShared(
    ids: number[],
    policies: KvCachePolicy[],
    maxSeqLen: number,
    chunk = 512,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<{ states: KvCacheState[]; logits: Float32Array; buildMs: number[] }> {
    const ctx = this.cacheContext(maxSeqLen);
    for (const p of policies) p.validate(ctx, ids.length);
    const states = policies.map((p) => p.create(ctx));
    const state = states.length === 1 ? states[0] : new SharedPrefillState(states);
    try {
      const body = ids.length - 1;
      for (let s = 0; s < body; s += chunk) {
        if (signal?.aborted) throw new GenerationAbortedError();
        await this.model.forward(ids.slice(s, Math.min(body, s + chunk)), state);
        await this.backend.sync();
        onProgress?.(Math.min(body, s + chunk), ids.length);
      }
      const logitsT = await this.model.forward([ids[ids.length - 1]], state, { lastLogits: true });
      const logits = (await this.backend.read(logitsT!)) as Float32Array;
      this.backend.dispose(logitsT!);
      onProgress?.(ids.length, ids.length);
      const t0 = performance.now();
      await state.endPrefill();
      const buildMs = state instanceof SharedPrefillState ? state.buildMs : [performance.now() - t0];
      return { states, logits, buildMs };
    } catch (err) {
      state.dispose();
      throw err;
    }
  }

  /** Greedy continuation of a prefilled state (benchmarks): `n` tokens, EOS ignored. Disposes nothing. */
  async greedy(state: KvCacheState, firstLogits: Float32Array, n: number): Promise<number[]> {
    const tokens: number[] = [];
    let logits = firstLogits;
    for (let i = 0; i < n; i++) {
      const tokenId = argmax(logits);
      tokens.push(tokenId);
      if (i === n - 1) break;
      const t = await this.model.forward([tokenId], state, { lastLogits: true });
      logits = (await this.backend.read(t!)) as Float32Array;
      this.backend.dispose(t!);
    }
    return tokens;
  }

  private async *run(
    ids: number[],
    maxNewTokens: number,
    chunk: number,
    sampler: Sampler,
    policy: KvCachePolicy,
    ctx: ReturnType<Engine['cacheContext']>,
    stop: StopMatcher,
    opts: GenerateOptions,
    emit: (r: GenerateResult) => void,
  ): AsyncGenerator<GenerateChunk> {
    const t0 = performance.now();
    const { state, logits: first } = await this.prefill(ids, policy, ctx.maxSeqLen, chunk, opts.onPrefillProgress, opts.signal);
    const prefillMs = performance.now() - t0;
    const eos = new Set(this.model.config.eosTokenIds.concat(this.tokenizer?.eosTokenIds ?? []));
    const decoder = this.tokenizer?.createStreamDecoder({ skipSpecialTokens: true });
    const tokens: number[] = [];
    let text = '';
    let finishReason: FinishReason = 'length';
    let logits = first;
    const t1 = performance.now();
    try {
      for (let i = 0; i < maxNewTokens; i++) {
        if (opts.signal?.aborted) throw new GenerationAbortedError();
        const tokenId = sampler.sample(logits);
        if (eos.has(tokenId) && !opts.ignoreEos) {
          finishReason = 'eos';
          break;
        }
        tokens.push(tokenId);
        const piece = decoder ? decoder.push(tokenId) : '';
        const { emit: out, stopped } = stop.push(piece);
        text += out;
        yield { index: i, tokenId, text: out };
        if (stopped) {
          finishReason = 'stop';
          break;
        }
        if (i === maxNewTokens - 1) break;
        const t = await this.model.forward([tokenId], state, { lastLogits: true });
        logits = (await this.backend.read(t!)) as Float32Array;
        this.backend.dispose(t!);
      }
      if (finishReason !== 'stop') {
        const tail = stop.flush((decoder?.flush() ?? ''));
        if (tail) {
          text += tail;
          yield { index: tokens.length, tokenId: -1, text: tail };
        }
      }
      const decodeMs = performance.now() - t1;
      emit({
        text,
        tokens,
        promptTokens: ids.length,
        finishReason,
        prefillMs,
        decodeMs,
        prefillTokensPerSecond: ids.length / (prefillMs / 1000),
        decodeTokensPerSecond: tokens.length / (decodeMs / 1000),
        memory: state.memory(),
        steps: state.stats(),
        policy: { name: policy.name, params: policy.params },
        backend: this.backend.name,
        backendReason: this.backendReason,
        weightsDtype: this.model.weights.dtype,
      });
    } finally {
      state.dispose();
    }
  }
}

/** Loads a model and returns an engine (`createEngine({ model: dir, backend: 'cpu', cache: shadowkv({ rank: 160 }) })`). */
export function createEngine(opts: EngineOptions): Promise<Engine> {
  return Engine.create(opts);
}
