// The engine: a loaded model on a backend plus a cache policy, producing streamed generations.
import {
  InvalidOptionError,
  ShadowKvError,
  type KernelBackend,
  type KvCachePolicy,
  type KvCacheState,
  type KvMemoryReport,
  type KvStepStats,
} from '@shadowkv/core';
import { dense } from '@shadowkv/kv-policies';
import { LlamaModel, loadTokenizer, type ChatMessage, type LlamaTokenizer, type LoadProgress, type WeightsDtype } from '@shadowkv/model-llama';
import { chooseBackend, type BackendName } from './backends.js';
import { GenerationStream } from './generation-stream.js';
// Node: the files; browsers: typed errors (package.json "imports"), so the browser bundle has no node:*.
import { modelFingerprint, readSavedSession, writeSavedSession } from '#session-files';
import { argmax, type SamplingOptions } from './sampler.js';
import { sameParams, SavedSessionError } from './saved-session-error.js';
import { Session, type SessionOptions } from './session.js';
import { SharedPrefillState } from './shared-prefill.js';
import { prefillPrompt } from './prefill-prompt.js';
import { validateGenerateOptions, validatePromptInput } from './generate-options.js';
import { checkTokenizerFitsModel } from './tokenizer-model-check.js';
import { createPolicy } from './policy-options.js';
import { BatchScheduler, type SchedulerOptions } from './scheduler/batch-scheduler.js';

export { GenerationStream };

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
  /**
   * Generation ends when the text produced contains one of these; the stop string is not emitted. A single
   * string is one stop string (`stop: "abc"` stops at "abc").
   */
  stop?: string | string[];
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
  /** New prompt tokens of this call (a session turn: only what the turn added). */
  promptTokens: number;
  /**
   * Tokens run through the model before the first new token: this turn's new tokens, plus any token a session
   * fed again after truncate(). Equals promptTokens for one-shot generation and for session turns.
   */
  prefilledTokens: number;
  /** Tokens whose K/V were already in the session's state and were reused (0 for one-shot generation). */
  reusedTokens: number;
  finishReason: FinishReason;
  prefillMs: number;
  /** From the call's start to the first sampled token (prefill included). */
  timeToFirstTokenMs: number;
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

/** An engine was used after dispose(). */
export class EngineDisposedError extends ShadowKvError {
  constructor(what: string) {
    super('ENGINE_DISPOSED', `${what}: the engine was disposed; create a new one with createEngine()`);
  }
}

export interface RestoreOptions {
  /** The policy the session must have; a file saved under another policy or parameters is a SavedSessionError. */
  cache?: KvCachePolicy;
}

export class Engine {
  /** Why `backend` was chosen (the 'auto' decision, or that it was asked for); set by create(). */
  backendReason = 'a backend instance was given';
  private readonly sessions = new Set<Session>();
  private disposed = false;
  private fingerprintPromise: Promise<string> | undefined;

  private constructor(
    readonly model: LlamaModel,
    readonly tokenizer: LlamaTokenizer | null,
    readonly backend: KernelBackend,
    private readonly defaultCache: KvCachePolicy,
    /** What this engine created itself and frees in dispose() (never what the caller passed in). */
    private readonly owns: { model: boolean; backend: boolean },
  ) {}

  static async create(opts: EngineOptions): Promise<Engine> {
    // A loaded model without a backend option keeps its own backend (and the engine does not own it).
    const modelBackend = typeof opts.model !== 'string' && opts.backend === undefined;
    const ownsBackend = typeof opts.backend !== 'object' && !modelBackend;
    const { backend, reason } = modelBackend
      ? { backend: (opts.model as LlamaModel).backend, reason: 'the backend of the given model' }
      : await chooseBackend(opts.backend, { threads: opts.threads });
    let model: LlamaModel;
    try {
      model = typeof opts.model === 'string' ? await LlamaModel.load(opts.model, { backend, onProgress: opts.onLoadProgress, weightsDtype: opts.weightsDtype }) : opts.model;
    } catch (err) {
      if (ownsBackend) destroyBackend(backend);
      throw err;
    }
    const ownsModel = typeof opts.model === 'string';
    try {
      const tokenizer = opts.tokenizer !== undefined ? opts.tokenizer : await loadTokenizer(model.dir);
      if (tokenizer) checkTokenizerFitsModel(tokenizer, model);
      const engine = new Engine(model, tokenizer, backend, opts.cache ?? dense(), { model: ownsModel, backend: ownsBackend });
      engine.backendReason = reason;
      return engine;
    } catch (err) {
      if (ownsModel) model.dispose();
      if (ownsBackend) destroyBackend(backend);
      throw err;
    }
  }

  /** The policy sessions and generate() use when none is given. */
  get defaultPolicy(): KvCachePolicy {
    return this.defaultCache;
  }

  /** Sessions created and not yet disposed. */
  get openSessions(): number {
    return this.sessions.size;
  }

  /** Throws EngineDisposedError after dispose(). */
  checkOpen(what: string): void {
    if (this.disposed) throw new EngineDisposedError(what);
  }

  /**
   * A session: a sequence whose KV state is kept between generate() calls, so each turn prefills only its new
   * tokens (`session.generate(prompt | { messages }, options)`); see Session.
   */
  session(opts: SessionOptions = {}): Session {
    this.checkOpen('engine.session()');
    const s = new Session(this, opts);
    this.sessions.add(s);
    return s;
  }

  /**
   * A continuous-batching scheduler on this engine: `scheduler({ kvMemory }).submit(prompt, options)` streams like
   * generate(), running every admitted request in one batched forward per step (scheduler/batch-scheduler.ts).
   */
  scheduler(opts: SchedulerOptions): BatchScheduler {
    this.checkOpen('engine.scheduler()');
    return new BatchScheduler(this, opts);
  }

  /** Called by Session.dispose(). */
  forget(s: Session): void {
    this.sessions.delete(s);
  }

  /** A fingerprint of the model folder's contents (saved sessions are keyed by it). */
  fingerprint(): Promise<string> {
    this.fingerprintPromise ??= modelFingerprint(this.model.dir);
    return this.fingerprintPromise;
  }

  /** Writes `session` to `path` (docs/saved-session-format.md). Use session.save(path). */
  async saveSession(session: Session, path: string): Promise<void> {
    const snap = session.snapshot();
    const c = this.model.config;
    await writeSavedSession(path, {
      model: { fingerprint: await this.fingerprint(), nLayers: c.nLayers, nKvHeads: c.nKvHeads, headDim: c.headDim, vocabSize: c.vocabSize },
      backend: this.backend.name,
      policy: { name: session.policy.name, params: session.policy.params },
      capacity: session.capacity,
      ...snap,
    });
  }

  /**
   * A session restored from a file written by session.save(). Checks the file (format version, size, checksum),
   * that it was saved from this model and, with `opts.cache`, under that policy; each problem is a
   * SavedSessionError naming the file. The state is rebuilt into a new session returned only when complete.
   */
  async restore(path: string, opts: RestoreOptions = {}): Promise<Session> {
    this.checkOpen('engine.restore()');
    const saved = await readSavedSession(path);
    const c = this.model.config;
    const fp = await this.fingerprint();
    const m = saved.model;
    if (m.fingerprint !== fp || m.nLayers !== c.nLayers || m.nKvHeads !== c.nKvHeads || m.headDim !== c.headDim || m.vocabSize !== c.vocabSize) {
      throw new SavedSessionError(
        path,
        'model',
        `was saved from another model (fingerprint ${m.fingerprint}, ${m.nLayers} layers, ${m.nKvHeads}x${m.headDim} KV heads) than ${this.model.dir} (fingerprint ${fp}, ${c.nLayers} layers, ${c.nKvHeads}x${c.headDim}); restore it with the model it was saved from`,
      );
    }
    const want = opts.cache;
    if (want && (want.name !== saved.policy.name || !sameParams(want.params, saved.policy.params))) {
      throw new SavedSessionError(
        path,
        'policy',
        `was saved under policy ${saved.policy.name} ${JSON.stringify(saved.policy.params)}, not ${want.name} ${JSON.stringify(want.params)}; restore it without a policy (the file's is used) or with the same one`,
      );
    }
    let policy: KvCachePolicy;
    try {
      policy = want ?? createPolicy(saved.policy.name, saved.policy.params as Record<string, never>);
    } catch (err) {
      throw new SavedSessionError(path, 'policy', `names policy ${saved.policy.name} ${JSON.stringify(saved.policy.params)}, which this shadowkv cannot create: ${(err as Error).message}`);
    }
    const s = new Session(this, { cache: policy, capacity: saved.capacity });
    try {
      await s.load({ tokens: saved.tokens, history: saved.history, lastLogits: saved.lastLogits, conversation: saved.conversation });
    } catch (err) {
      s.dispose();
      throw err;
    }
    this.sessions.add(s);
    return s;
  }

  /**
   * Frees every open session, then the model and backend if this engine created them (from a path or a backend
   * name); a model or backend passed in stays usable. Idempotent; the engine cannot be used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sessions]) s.dispose();
    this.disposed = true;
    if (this.owns.model) this.model.dispose();
    if (this.owns.backend) destroyBackend(this.backend);
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
    // A text longer than the context can hold is refused from its length, before tokenizing megabytes.
    const maxTokens = this.model.contextLimit || this.model.config.maxPositionEmbeddings;
    if (typeof prompt === 'object') return tok.encode(tok.applyChatTemplate(prompt.messages, { addGenerationPrompt: true }), { addSpecialTokens: false, maxTokens });
    if (chat) return tok.encode(tok.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false, maxTokens });
    return tok.encode(prompt, { maxTokens });
  }

  /** The tokenizer, or an InvalidOptionError saying to pass token ids when the model has none. */
  requireTokenizer(): LlamaTokenizer {
    if (!this.tokenizer) {
      throw new InvalidOptionError('prompt', `${this.model.dir} has no tokenizer.json; pass token ids instead (--input-ids / { inputIds })`);
    }
    return this.tokenizer;
  }

  /**
   * Streams a generation. Validates everything (prompt length, policy parameters) before any compute. A one-shot
   * session: the same code path as session turns, sized to this prompt, freed when the generation ends.
   */
  generate(prompt: PromptInput, opts: GenerateOptions = {}): GenerationStream {
    this.checkOpen('engine.generate()');
    // Untrusted input (e.g. an HTTP body): every option and the prompt's shape, before anything runs.
    validatePromptInput(prompt);
    opts = validateGenerateOptions(opts);
    const maxNewTokens = opts.maxNewTokens ?? 128;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidOptionError('maxNewTokens', `${maxNewTokens} must be an integer >= 1`);
    const ids = this.encodePrompt(prompt, opts.chat);
    if (ids.length === 0) throw new InvalidOptionError('prompt', 'the prompt encodes to no tokens; give some text or ids');
    this.model.checkContext(ids.length + maxNewTokens, `the prompt (${ids.length} tokens) plus maxNewTokens (${maxNewTokens})`);
    const s = new Session(this, { cache: opts.cache, capacity: ids.length + maxNewTokens }, true);
    try {
      return s.generate({ inputIds: ids }, opts);
    } catch (err) {
      s.dispose();
      throw err;
    }
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
      // Layer-major where the states convert layer by layer (offloading policies), token-major otherwise.
      const logits = await prefillPrompt(this.model, state, ids, { chunk, signal, onProgress });
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
}

/** Backends created by name are destroyed with their engine; destroy() is idempotent. */
function destroyBackend(b: KernelBackend): void {
  (b as { destroy?: () => void }).destroy?.();
}

/** Loads a model and returns an engine (`createEngine({ model: dir, backend: 'cpu', cache: shadowkv({ rank: 160 }) })`). */
export function createEngine(opts: EngineOptions): Promise<Engine> {
  return Engine.create(opts);
}
