// A session: one sequence's KV state kept between generate() calls, so each turn prefills only its new tokens.
import { reportedParams } from '@shadowkv/kv-policies';
import { ContextLengthError, GenerationAbortedError, InvalidOptionError, ShadowKvError, type KvCachePolicy, type KvCacheState } from '@shadowkv/core';
import type { ChatMessage } from '@shadowkv/model-llama';
import type { Engine, FinishReason, GenerateChunk, GenerateOptions, GenerateResult, PromptInput } from './engine.js';
import { GenerationStream } from './generation-stream.js';
import { KvHistory, RecordingState, replayHistory } from './kv-history.js';
import { Sampler } from './sampler.js';
import { StopMatcher } from './stop-matcher.js';
import { prefillPrompt } from './prefill-prompt.js';
import { validateGenerateOptions, validatePromptInput } from './generate-options.js';

export interface SessionOptions {
  /** Cache policy of this session (default: the engine's). */
  cache?: KvCachePolicy;
  /**
   * Most tokens the session may hold (prompt turns + generated). Default: the model's context limit. Dense
   * reserves this many K/V rows up front.
   */
  capacity?: number;
  /**
   * Keep a host copy of every token's pre-RoPE keys and values (default true). Needed by save(), fork() and
   * truncate(); costs host memory equal to a dense f32 K+V cache. engine.generate() runs without it.
   */
  keepHistory?: boolean;
}

/** Options of one session turn: generation options; the session's policy is fixed at creation. */
export type SessionGenerateOptions = Omit<GenerateOptions, 'cache'>;

/** A session was used after dispose(), or while another of its generations was still running. */
export class SessionStateError extends ShadowKvError {
  constructor(message: string) {
    super('SESSION_STATE', message);
  }
}

/** What a session restores from (engine.restore builds it from a saved file). */
export interface SessionSnapshot {
  tokens: number[];
  history: KvHistory;
  /** Logits after the last token in the state, when no token is pending. */
  lastLogits: Float32Array | undefined;
  conversation: { message: ChatMessage; end: number }[];
}

/**
 * Token layout: `tokens` = the state's tokens followed by `pending` (at most a few tokens sampled or kept after a
 * truncate whose K/V do not exist yet; they are fed first on the next turn). When nothing is pending,
 * `lastLogits` holds the logits after the last stored token, so a turn with no new text can continue at once.
 */
export class Session {
  private state: KvCacheState | undefined;
  private history: KvHistory | undefined;
  private allTokens: number[] = [];
  private pending: number[] = [];
  private lastLogits: Float32Array | undefined;
  /** Messages of the conversation so far, each with the token count once it was in (for the chat-suffix rule). */
  private conversation: { message: ChatMessage; end: number }[] = [];
  private busy = false;
  private disposed = false;
  readonly policy: KvCachePolicy;
  readonly capacity: number;
  readonly keepsHistory: boolean;

  /** Use engine.session(); `oneShot` sessions (engine.generate) skip the history and the last token's forward. */
  constructor(
    readonly engine: Engine,
    opts: SessionOptions = {},
    private readonly oneShot = false,
  ) {
    this.policy = opts.cache ?? engine.defaultPolicy;
    const model = engine.model;
    const limit = model.contextLimit || model.config.maxPositionEmbeddings;
    this.capacity = opts.capacity ?? limit;
    if (!Number.isInteger(this.capacity) || this.capacity < 2) throw new InvalidOptionError('capacity', `${opts.capacity} must be an integer >= 2`);
    if (this.capacity > limit) {
      throw new ContextLengthError(`session capacity ${this.capacity} exceeds the model's limit ${limit} (max_position_embeddings in ${model.dir}/config.json, or the raised contextLimit)`);
    }
    this.keepsHistory = !oneShot && (opts.keepHistory ?? true);
  }

  /** Every token of the sequence so far: prompts of all turns and generated tokens (EOS included when sampled). */
  get tokens(): number[] {
    return [...this.allTokens];
  }

  /** Tokens whose K/V the state holds. */
  get storedTokens(): number {
    return this.state?.seqLen ?? 0;
  }

  /** The KV state's memory report (zeros before the first turn). */
  memory() {
    return this.state?.memory() ?? { fastBytes: 0, slowBytes: 0, denseBytes: 0 };
  }

  /** Host bytes of the history kept for save/fork/truncate. */
  get historyBytes(): number {
    return this.history?.bytes ?? 0;
  }

  private check(op: string): void {
    if (this.disposed) throw new SessionStateError(`session.${op}(): the session was disposed; create a new one with engine.session()`);
    if (this.busy) throw new SessionStateError(`session.${op}(): a generation of this session is still running; wait for its result first`);
    this.engine.checkOpen(`session.${op}()`);
  }

  /**
   * The token ids this turn adds. Rule for messages: the whole conversation (earlier messages, the replies
   * generated, then the new messages) is rendered through the chat template with the generation prompt; the
   * longest common token prefix with the session's tokens is reused and only the rest is prefilled. With the
   * usual templates the earlier rendering is a prefix, so only the new turn's suffix is prefilled; when a
   * template rewrites earlier text, the session truncates to the common prefix first (correct, just slower).
   */
  private turnIds(prompt: PromptInput, chat: boolean): { ids: number[]; keep: number; messages?: ChatMessage[] } {
    const first = this.allTokens.length === 0;
    if (typeof prompt === 'object' && 'inputIds' in prompt) return { ids: this.engine.encodePrompt(prompt), keep: this.allTokens.length };
    if (typeof prompt === 'string' && !chat) {
      const tok = this.engine.requireTokenizer();
      // Refused from its length before tokenizing megabytes (as engine.generate): the turn must fit what is left.
      const maxTokens = Math.max(1, this.capacity - this.allTokens.length);
      return { ids: tok.encode(prompt, { addSpecialTokens: first, maxTokens }), keep: this.allTokens.length };
    }
    const messages = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt.messages;
    const tok = this.engine.requireTokenizer();
    const full = [...this.conversation.map((c) => c.message), ...messages];
    const rendered = tok.encode(tok.applyChatTemplate(full, { addGenerationPrompt: true }), { addSpecialTokens: false, maxTokens: this.capacity });
    let keep = 0;
    const have = this.allTokens;
    while (keep < have.length && keep < rendered.length && have[keep] === rendered[keep]) keep++;
    return { ids: rendered.slice(keep), keep, messages };
  }

  /**
   * Streams one turn: `prompt` is this turn's new text, ids or messages (for messages, only the new ones: the
   * session remembers the conversation). Validates before any compute.
   */
  generate(prompt: PromptInput | null, opts: SessionGenerateOptions = {}): GenerationStream {
    this.check('generate');
    // Untrusted input: the prompt's shape and every option, before anything runs (generate-options.ts).
    if (prompt !== null) validatePromptInput(prompt);
    // A session turn may generate nothing (maxNewTokens 0: prefill only); the shared checks want >= 1.
    const prefillOnly = opts?.maxNewTokens === 0 && !this.oneShot;
    opts = validateGenerateOptions(prefillOnly ? { ...opts, maxNewTokens: 1 } : opts);
    if (prefillOnly) opts = { ...opts, maxNewTokens: 0 };
    const maxNewTokens = opts.maxNewTokens ?? 128;
    // 0 prefills the turn and generates nothing (e.g. a document as the first turn); one-shot generation needs >= 1.
    const least = this.oneShot ? 1 : 0;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < least) throw new InvalidOptionError('maxNewTokens', `${maxNewTokens} must be an integer >= ${least}`);
    const chunk = opts.prefillChunkSize ?? 512;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InvalidOptionError('prefillChunkSize', `${chunk} must be an integer >= 1`);
    const turn = prompt === null ? { ids: [], keep: this.allTokens.length } : this.turnIds(prompt, Boolean(opts.chat));
    if (turn.ids.length === 0 && this.allTokens.length === 0) throw new InvalidOptionError('prompt', 'the prompt encodes to no tokens; give some text or ids');
    const total = turn.keep + turn.ids.length + maxNewTokens;
    const what = `the session (${turn.keep} tokens kept) plus this turn's ${turn.ids.length} new tokens plus maxNewTokens (${maxNewTokens})`;
    this.engine.model.checkContext(total, what);
    if (total > this.capacity) throw new ContextLengthError(`${what} needs ${total} positions but the session's capacity is ${this.capacity}; create the session with a larger capacity`);
    if (turn.keep < this.allTokens.length && !this.history) {
      throw new SessionStateError('the chat template re-rendered earlier turns differently, which needs truncate(); create the session with keepHistory: true');
    }
    const sampler = new Sampler(opts);
    if (!this.state) this.policy.validate(this.engine.cacheContext(this.capacity), turn.keep + turn.ids.length);
    const stop = new StopMatcher(opts.stop ?? []);
    this.busy = true;
    return new GenerationStream((emit) => this.run(turn, maxNewTokens, chunk, sampler, stop, opts, emit));
  }

  /** Generates one turn and returns the whole text with measurements. */
  async generateText(prompt: PromptInput | null, opts: SessionGenerateOptions = {}): Promise<GenerateResult> {
    const stream = this.generate(prompt, opts);
    for await (const _ of stream) {
      // drain
    }
    return stream.result;
  }

  private createState(): KvCacheState {
    const ctx = this.engine.cacheContext(this.capacity);
    const inner = this.policy.create(ctx);
    if (!this.keepsHistory) return inner;
    const c = this.engine.model.config;
    this.history ??= new KvHistory(c.nLayers, c.nKvHeads * c.headDim);
    return new RecordingState(inner, this.history, this.engine.backend);
  }

  private async *run(
    turn: { ids: number[]; keep: number; messages?: ChatMessage[] },
    maxNewTokens: number,
    chunk: number,
    sampler: Sampler,
    stop: StopMatcher,
    opts: SessionGenerateOptions,
    emit: (r: GenerateResult) => void,
  ): AsyncGenerator<GenerateChunk> {
    const { model, backend } = this.engine;
    try {
      if (turn.keep < this.allTokens.length) await this.truncateNow(turn.keep);
      const t0 = performance.now();
      this.state ??= this.createState();
      const state = this.state;
      const reused = state.seqLen;
      const feed = [...this.pending, ...turn.ids];
      this.allTokens.push(...turn.ids);
      this.pending = [];
      let logits = this.lastLogits;
      this.lastLogits = undefined;
      if (feed.length > 0) {
        // The first prompt of an offloading policy's state runs layer-major (one layer's dense buffer at a time).
        logits = await prefillPrompt(model, state, feed, { chunk, signal: opts.signal, onProgress: opts.onPrefillProgress });
      }
      if (!logits) throw new SessionStateError('the session has no logits to continue from; give a prompt');
      if (state.phase === 'prefill') await state.endPrefill();
      if (turn.messages) for (const m of turn.messages) this.conversation.push({ message: m, end: this.allTokens.length });
      const prefillMs = performance.now() - t0;

      const eos = new Set(model.config.eosTokenIds.concat(this.engine.tokenizer?.eosTokenIds ?? []));
      const decoder = this.engine.tokenizer?.createStreamDecoder({ skipSpecialTokens: true });
      const tokens: number[] = [];
      let text = '';
      let finishReason: FinishReason = 'length';
      let firstTokenMs = 0;
      const t1 = performance.now();
      let last: number | undefined;
      for (let i = 0; i < maxNewTokens; i++) {
        if (opts.signal?.aborted) throw new GenerationAbortedError();
        const tokenId = sampler.sample(logits);
        if (i === 0) firstTokenMs = performance.now() - t0;
        last = tokenId;
        this.allTokens.push(tokenId);
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
        const t = await model.forward([tokenId], state, { lastLogits: true, signal: opts.signal });
        logits = (await backend.read(t!)) as Float32Array;
        backend.dispose(t!);
      }
      if (maxNewTokens === 0) {
        this.lastLogits = logits;
        firstTokenMs = performance.now() - t0;
      }
      if (finishReason !== 'stop') {
        const tail = stop.flush(decoder?.flush() ?? '');
        if (tail) {
          text += tail;
          yield { index: tokens.length, tokenId: -1, text: tail };
        }
      }
      const decodeMs = performance.now() - t1;
      // The last sampled token (EOS included) is part of the sequence; a kept session stores it now so that the
      // next turn prefills only its own tokens. A one-shot generation never needs it.
      if (last !== undefined && !this.oneShot) {
        const t = await model.forward([last], state, { lastLogits: true });
        this.lastLogits = (await backend.read(t!)) as Float32Array;
        backend.dispose(t!);
      } else if (last !== undefined) this.pending = [last];
      if (turn.messages && this.engine.tokenizer) {
        this.conversation.push({ message: { role: 'assistant', content: text }, end: this.allTokens.length });
      }
      emit({
        text,
        tokens,
        promptTokens: turn.ids.length,
        prefilledTokens: feed.length,
        reusedTokens: reused,
        finishReason,
        prefillMs,
        timeToFirstTokenMs: firstTokenMs,
        decodeMs,
        prefillTokensPerSecond: feed.length / (prefillMs / 1000),
        decodeTokensPerSecond: tokens.length / (decodeMs / 1000),
        memory: state.memory(),
        steps: state.stats(),
        policy: { name: this.policy.name, params: reportedParams(this.policy, state) },
        backend: backend.name,
        backendReason: this.engine.backendReason,
        weightsDtype: model.weights.dtype,
      });
    } catch (err) {
      this.dropBrokenState();
      throw err;
    } finally {
      this.busy = false;
      if (this.oneShot) this.dispose();
    }
  }

  /** After a failed turn the state may be out of step with the tokens: drop it; the next turn prefills them all again. */
  private dropBrokenState(): void {
    this.state?.dispose();
    this.state = undefined;
    this.history = undefined;
    this.lastLogits = undefined;
    this.pending = [...this.allTokens];
  }

  /**
   * Keeps the first `n` tokens (n >= 1). The state is rebuilt from the history (any policy), so the policy's
   * compressed state equals the one a session that stopped at n would hold; the token at n-1 is fed again
   * on the next turn (its logits are not kept).
   */
  async truncate(n: number): Promise<void> {
    this.check('truncate');
    if (!Number.isInteger(n) || n < 1 || n > this.allTokens.length) {
      throw new InvalidOptionError('n', `truncate(${n}): must be an integer in [1, ${this.allTokens.length}] (the session's token count)`);
    }
    if (!this.history) throw new SessionStateError('truncate() needs the session history; create the session with keepHistory: true (the default)');
    this.busy = true;
    try {
      await this.truncateNow(n);
    } finally {
      this.busy = false;
    }
  }

  private async truncateNow(n: number): Promise<void> {
    if (n <= 0) {
      // Nothing in common (a chat template that re-rendered even the first token): start over.
      this.state?.dispose();
      this.state = undefined;
      this.history = undefined;
      this.allTokens = [];
      this.pending = [];
      this.lastLogits = undefined;
      this.conversation = [];
      return;
    }
    const history = this.history as KvHistory;
    const stored = Math.min(n - 1, history.length);
    this.history = history.slice(stored);
    this.state?.dispose();
    this.state = undefined;
    this.state = await this.rebuild(this.history, stored);
    this.pending = this.allTokens.slice(stored, n);
    this.allTokens = this.allTokens.slice(0, n);
    this.lastLogits = undefined;
    this.conversation = this.conversation.filter((c) => c.end <= n);
  }

  /** A fresh state of this session's policy holding the first `n` tokens of `history` (which it then records into). */
  private async rebuild(history: KvHistory, n: number): Promise<KvCacheState> {
    const { backend, model } = this.engine;
    const ctx = this.engine.cacheContext(this.capacity);
    if (n > 0) this.policy.validate(ctx, history.endPrefillAt ?? n);
    const inner = this.policy.create(ctx);
    try {
      await replayHistory(history, n, inner, backend, model.rope, model.config.nKvHeads);
    } catch (err) {
      inner.dispose();
      throw err;
    }
    return new RecordingState(inner, history, backend);
  }

  /** An independent session with the same tokens and KV state (rebuilt from the history). */
  async fork(): Promise<Session> {
    this.check('fork');
    if (!this.history) throw new SessionStateError('fork() needs the session history; create the session with keepHistory: true (the default)');
    const s = this.engine.session({ cache: this.policy, capacity: this.capacity });
    s.history = this.history.slice(this.history.length);
    s.state = this.history.length > 0 || this.state ? await s.rebuild(s.history, s.history.length) : undefined;
    s.allTokens = [...this.allTokens];
    s.pending = [...this.pending];
    s.lastLogits = this.lastLogits?.slice();
    s.conversation = this.conversation.map((c) => ({ message: { ...c.message }, end: c.end }));
    return s;
  }

  /**
   * Writes the session to `path` (docs/saved-session-format.md): model fingerprint, policy and parameters, tokens,
   * and every stored token's pre-RoPE keys and values, from which engine.restore(path) rebuilds the same state.
   */
  async save(path: string): Promise<void> {
    this.check('save');
    this.busy = true;
    try {
      await this.engine.saveSession(this, path);
    } finally {
      this.busy = false;
    }
  }

  /** What save() writes (tokens, history, logits, conversation). */
  snapshot(): SessionSnapshot {
    if (!this.history) throw new SessionStateError('save() needs the session history; create the session with keepHistory: true (the default)');
    return {
      tokens: [...this.allTokens],
      history: this.history,
      lastLogits: this.lastLogits,
      conversation: this.conversation.map((c) => ({ message: { ...c.message }, end: c.end })),
    };
  }

  /** Loads a snapshot into this fresh session (engine.restore): builds the state, then takes the tokens. */
  async load(snap: SessionSnapshot): Promise<void> {
    if (this.allTokens.length > 0 || this.state) throw new SessionStateError('load() needs a fresh session');
    const n = snap.history.length;
    this.state = await this.rebuild(snap.history, n);
    this.history = snap.history;
    this.allTokens = [...snap.tokens];
    this.pending = snap.tokens.slice(n);
    this.lastLogits = snap.lastLogits;
    this.conversation = snap.conversation;
  }

  /** Frees the KV state and the history. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state?.dispose();
    this.state = undefined;
    this.history = undefined;
    this.engine.forget(this);
  }
}
