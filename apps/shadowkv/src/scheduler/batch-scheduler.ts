// Continuous batching: every running sequence advances in one batched forward per step (decode rows and prefill
// chunks together); new requests join between steps; admission by a fast-side KV memory budget, else a bounded queue.
import { GenerationAbortedError, InvalidOptionError, type KvCachePolicy, type KvCacheState, type KvMemoryProjection, type KvMemoryReport, type KvStepStats } from '@shadowkv/core';
import { projectKvMemory, reportedParams } from '@shadowkv/kv-policies';
import { forwardBatch, LayerMajorPrefill, takesLayerMajorPrefill, type StreamDecoder } from '@shadowkv/model-llama';
import type { Engine, FinishReason, GenerateChunk, GenerateOptions, GenerateResult, PromptInput } from '../engine.js';
import { validateGenerateOptions, validatePromptInput } from '../generate-options.js';
import { GenerationStream } from '../generation-stream.js';
import { Sampler } from '../sampler.js';
import { StopMatcher } from '../stop-matcher.js';
import { KvBudgetExceededError, QueueFullError, SchedulerClosedError } from './scheduler-errors.js';
import { TokenChannel } from './token-channel.js';

export interface SchedulerOptions {
  /** Fast-side KV memory budget in bytes: admitted requests' projected bytes (policy.projectMemory) stay within it. */
  kvMemory: number;
  /** Most requests waiting for memory (default 64); one more is refused with QueueFullError. */
  maxQueue?: number;
  /**
   * The default prefill chunk (default 256): a request's prompt is cut at multiples of its own
   * `prefillChunkSize` or this one, like generate()'s, and one chunk goes into each step next to every running
   * sequence's decode row. It is also the step's prefill budget: more prefilling requests join a step while their
   * chunks together stay within it. Bounds how much a joining prompt delays running streams.
   */
  prefillChunkSize?: number;
  /** Largest per-request `prefillChunkSize` accepted (default max(4096, prefillChunkSize)): bounds a step's activations. */
  maxPrefillChunkSize?: number;
}

export interface SchedulerStats {
  running: number;
  queued: number;
  /** Sum of the running requests' current reservations (prefill or decode projection): what admission counts against kvMemory. */
  reservedBytes: number;
  /** Sum of the queued requests' projected bytes (what they will reserve when admitted). */
  queuedBytes: number;
  /** Fast-side KV bytes the running sequences hold right now (each state's memory().fastBytes). */
  fastBytes: number;
  /** Slow-side (offloaded) KV bytes the running sequences hold right now (each state's memory().slowBytes). */
  slowBytes: number;
  kvMemory: number;
  /** Batched forward steps run so far. */
  steps: number;
  /** Sequences in the largest step so far. */
  maxBatch: number;
}

interface Request {
  ids: number[];
  maxNewTokens: number;
  /** Prompt tokens per prefill piece of this request. */
  chunk: number;
  opts: GenerateOptions;
  policy: KvCachePolicy;
  projection: KvMemoryProjection;
  /** Bytes reserved now: the prefill bound until endPrefill, then the decode bound. */
  reserve: number;
  state?: KvCacheState;
  /**
   * The prompt's layer-major prefill, for a state that converts layer by layer (offloading policies): its units
   * (one layer of one piece) run between the batched steps instead of joining them, so the fast side holds one
   * layer's dense buffer; a dense state's pieces join the batched forward (token-major).
   */
  layerMajor?: LayerMajorPrefill;
  phase: 'queued' | 'prefill' | 'decode' | 'done';
  /** Prompt tokens fed so far. */
  pos: number;
  /** The token to feed at the next decode step. */
  next: number;
  tokens: number[];
  text: string;
  sampler: Sampler;
  stop: StopMatcher;
  decoder: StreamDecoder | undefined;
  channel: TokenChannel<GenerateChunk>;
  result?: GenerateResult;
  /** Cancelled during a step: freed when the step ends. */
  cancelled: boolean;
  submittedAt: number;
  admittedAt: number;
  prefillDoneAt: number;
  firstTokenMs: number;
  detach: () => void;
}

/**
 * Runs many generations at once on one engine. `submit` returns the same stream as engine.generate; greedy
 * output equals the request run alone with the same prefillChunkSize. Not thread-safe across engines.
 */
export class BatchScheduler {
  private readonly queue: Request[] = [];
  private readonly running: Request[] = [];
  private readonly kvMemory: number;
  private readonly maxQueue: number;
  private readonly chunk: number;
  private readonly maxChunk: number;
  private looping = false;
  private closed = false;
  private steps = 0;
  private maxBatch = 0;
  private readonly eos: Set<number>;

  constructor(
    private readonly engine: Engine,
    opts: SchedulerOptions,
  ) {
    if (!(typeof opts?.kvMemory === 'number' && Number.isFinite(opts.kvMemory) && opts.kvMemory > 0)) {
      throw new InvalidOptionError('kvMemory', `must be a number of bytes > 0, got ${String(opts?.kvMemory)}`);
    }
    const maxQueue = opts.maxQueue ?? 64;
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new InvalidOptionError('maxQueue', `must be an integer >= 0, got ${String(opts.maxQueue)}`);
    const chunk = opts.prefillChunkSize ?? 256;
    if (!Number.isInteger(chunk) || chunk < 1) throw new InvalidOptionError('prefillChunkSize', `must be an integer >= 1, got ${String(opts.prefillChunkSize)}`);
    this.kvMemory = opts.kvMemory;
    this.maxQueue = maxQueue;
    const maxChunk = opts.maxPrefillChunkSize ?? Math.max(4096, chunk);
    if (!Number.isInteger(maxChunk) || maxChunk < chunk) throw new InvalidOptionError('maxPrefillChunkSize', `must be an integer >= prefillChunkSize (${chunk}), got ${String(opts.maxPrefillChunkSize)}`);
    this.chunk = chunk;
    this.maxChunk = maxChunk;
    this.eos = new Set(engine.model.config.eosTokenIds.concat(engine.tokenizer?.eosTokenIds ?? []));
  }

  /** A snapshot: the live bytes are read from every running state's memory() now (a freed state counts 0). */
  stats(): SchedulerStats {
    let fastBytes = 0;
    let slowBytes = 0;
    for (const r of this.running) {
      if (!r.state) continue;
      const m = r.state.memory();
      fastBytes += m.fastBytes;
      slowBytes += m.slowBytes;
    }
    return {
      running: this.running.length,
      queued: this.queue.length,
      reservedBytes: this.reserved(),
      queuedBytes: this.queue.reduce((a, r) => a + r.reserve, 0),
      fastBytes,
      slowBytes,
      kvMemory: this.kvMemory,
      steps: this.steps,
      maxBatch: this.maxBatch,
    };
  }

  /**
   * Queues a generation. Validates the prompt, options and policy and projects the request's fast-side bytes
   * before accepting it: a request larger than the whole budget is a KvBudgetExceededError, a full queue a
   * QueueFullError (both thrown here, nothing runs). `opts.cache` picks the request's policy (default: the
   * engine's); `opts.prefillChunkSize` cuts this request's prompt (default: the scheduler's), at most
   * maxPrefillChunkSize (InvalidOptionError past it).
   */
  submit(prompt: PromptInput, opts: GenerateOptions = {}): GenerationStream {
    if (this.closed) throw new SchedulerClosedError();
    this.engine.checkOpen('scheduler.submit()');
    validatePromptInput(prompt);
    opts = validateGenerateOptions(opts);
    const maxNewTokens = opts.maxNewTokens ?? 128;
    const chunk = opts.prefillChunkSize ?? this.chunk;
    if (chunk > this.maxChunk) throw new InvalidOptionError('prefillChunkSize', `must be at most ${this.maxChunk} (the scheduler's maxPrefillChunkSize), got ${chunk}`);
    const ids = this.engine.encodePrompt(prompt, opts.chat);
    if (ids.length === 0) throw new InvalidOptionError('prompt', 'the prompt encodes to no tokens; give some text or ids');
    const { model } = this.engine;
    model.checkContext(ids.length + maxNewTokens, `the prompt (${ids.length} tokens) plus maxNewTokens (${maxNewTokens})`);
    const policy = opts.cache ?? this.engine.defaultPolicy;
    const ctx = this.engine.cacheContext(ids.length + maxNewTokens);
    policy.validate(ctx, ids.length);
    const projection = projectKvMemory(policy, ctx, ids.length);
    const need = Math.max(projection.prefillFastBytes, projection.decodeFastBytes);
    if (need > this.kvMemory) throw new KvBudgetExceededError(need, this.kvMemory, `the request (${ids.length} prompt tokens + ${maxNewTokens} new, policy ${policy.name})`);
    if (opts.signal?.aborted) throw new GenerationAbortedError();
    if (this.queue.length >= this.maxQueue && !(this.queue.length === 0 && this.fits(need))) throw new QueueFullError(this.maxQueue);
    const req: Request = {
      ids,
      maxNewTokens,
      chunk,
      opts,
      policy,
      projection,
      reserve: need,
      phase: 'queued',
      pos: 0,
      next: -1,
      tokens: [],
      text: '',
      sampler: new Sampler(opts),
      stop: new StopMatcher(opts.stop ?? []),
      decoder: this.engine.tokenizer?.createStreamDecoder({ skipSpecialTokens: true }),
      channel: new TokenChannel<GenerateChunk>(),
      cancelled: false,
      submittedAt: performance.now(),
      admittedAt: 0,
      prefillDoneAt: 0,
      firstTokenMs: 0,
      detach: () => {},
    };
    if (opts.signal) {
      const signal = opts.signal;
      const onAbort = () => this.cancel(req, new GenerationAbortedError());
      signal.addEventListener('abort', onAbort, { once: true });
      req.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.queue.push(req);
    void this.loop();
    return new GenerationStream((emit) => this.read(req, emit));
  }

  /** Refuses new requests and cancels the queued ones; running requests finish. Resolves when they have. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of [...this.queue]) this.cancel(r, new SchedulerClosedError());
    while (this.looping) await new Promise((res) => setTimeout(res, 5));
  }

  private async *read(req: Request, emit: (r: GenerateResult) => void): AsyncGenerator<GenerateChunk> {
    try {
      yield* req.channel.read();
      emit(req.result as GenerateResult);
    } finally {
      // The consumer stopped reading early (break, a disconnected client): free the request.
      if (req.phase !== 'done') this.cancel(req, new GenerationAbortedError('the stream was closed by its reader'));
    }
  }

  private reserved(): number {
    return this.running.reduce((a, r) => a + r.reserve, 0);
  }

  private fits(bytes: number): boolean {
    return this.reserved() + bytes <= this.kvMemory;
  }

  /** Admits queued requests in order while the head fits the budget (no overtaking: a large request is not starved). */
  private admit(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0].reserve)) {
      const req = this.queue.shift() as Request;
      try {
        req.state = req.policy.create(this.engine.cacheContext(req.ids.length + req.maxNewTokens));
        if (takesLayerMajorPrefill(req.state)) req.layerMajor = new LayerMajorPrefill(this.engine.model, req.ids, req.state, { chunk: req.chunk });
      } catch (err) {
        this.finishWithError(req, err);
        continue;
      }
      req.phase = 'prefill';
      req.admittedAt = performance.now();
      this.running.push(req);
    }
  }

  /** Frees a request now: a queued one leaves the queue; a running one's state is freed (after the step in flight). */
  private cancel(req: Request, err: unknown): void {
    if (req.phase === 'done') return;
    if (req.phase === 'queued') {
      const i = this.queue.indexOf(req);
      if (i >= 0) this.queue.splice(i, 1);
      this.finishWithError(req, err);
      return;
    }
    req.channel.fail(err);
    if (this.looping && this.inStep.has(req)) {
      req.cancelled = true;
      return;
    }
    this.release(req);
    void this.loop();
  }

  private inStep = new Set<Request>();

  private finishWithError(req: Request, err: unknown): void {
    req.channel.fail(err);
    this.release(req);
  }

  /** Drops a request from the running set and frees its state and reservation. Idempotent. */
  private release(req: Request): void {
    if (req.phase === 'done') return;
    req.phase = 'done';
    req.detach();
    const i = this.running.indexOf(req);
    if (i >= 0) this.running.splice(i, 1);
    req.state?.dispose();
    req.state = undefined;
  }

  private async loop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      for (;;) {
        this.admit();
        if (this.running.length === 0) break;
        await this.step();
      }
    } finally {
      this.looping = false;
    }
  }

  /**
   * One batched forward: every decoding request's next token, plus prefill pieces, each of its request's chunk
   * size: the first prefilling request's always, later ones while the step's prefill tokens stay within the
   * scheduler's prefillChunkSize (or the first piece, if larger). Then layer-major prefill units (one layer of one
   * piece each) while the step's prefill work stays within prefillChunkSize tokens through every layer (the first
   * unit always), so a layer-major prompt delays running streams as much as a token-major one does.
   */
  private async step(): Promise<void> {
    const { model, backend } = this.engine;
    const pieces: { req: Request; ids: number[]; logits: boolean }[] = [];
    let prefillTokens = 0;
    const layerMajor: Request[] = [];
    for (const req of this.running) {
      if (req.phase === 'decode') {
        pieces.push({ req, ids: [req.next], logits: true });
        continue;
      }
      if (req.layerMajor) {
        layerMajor.push(req);
        continue;
      }
      const body = req.ids.length - 1;
      if (req.pos < body) {
        const n = Math.min(body - req.pos, req.chunk);
        if (prefillTokens > 0 && prefillTokens + n > this.chunk) continue;
        prefillTokens += n;
        pieces.push({ req, ids: req.ids.slice(req.pos, req.pos + n), logits: false });
      } else {
        pieces.push({ req, ids: [req.ids[body]], logits: true });
      }
    }
    this.inStep = new Set(pieces.map((p) => p.req));
    this.steps++;
    this.maxBatch = Math.max(this.maxBatch, pieces.length + layerMajor.length);
    let data: Float32Array | null = null;
    let rows: number[] = [];
    try {
      if (pieces.length > 0) {
        const out = await forwardBatch(
          model,
          pieces.map((p) => ({ ids: p.ids, state: p.req.state as KvCacheState, lastLogits: p.logits })),
        );
        rows = out.logitsRow;
        if (out.logits) {
          data = (await backend.read(out.logits)) as Float32Array;
          backend.dispose(out.logits);
        }
      }
    } catch (err) {
      // A failed step leaves every state in it out of step: those requests end with the error; others go on.
      for (const p of pieces) this.finishWithError(p.req, err);
      return;
    } finally {
      this.inStep = new Set();
    }
    const vocab = model.config.vocabSize;
    for (const [i, { req, ids }] of pieces.entries()) {
      if (req.cancelled || req.phase === 'done') {
        this.release(req);
        continue;
      }
      try {
        if (req.phase === 'prefill') {
          req.pos += ids.length;
          req.opts.onPrefillProgress?.(req.pos, req.ids.length);
          if (req.pos === req.ids.length) await this.endPrefill(req);
        }
        if (rows[i] >= 0) this.onToken(req, (data as Float32Array).subarray(rows[i] * vocab, (rows[i] + 1) * vocab));
      } catch (err) {
        this.finishWithError(req, err);
      }
    }
    await this.layerMajorUnits(layerMajor, prefillTokens);
  }

  /**
   * Runs layer-major prefill units of `reqs` in order within the step's prefill budget (prefillChunkSize tokens
   * through every layer, less what the batched forward's prefill pieces used; the first unit always). A request
   * whose last unit ran ends its prefill and gets its first token from the logits. A cancelled request stops
   * after the unit in flight and is freed; a failed unit ends its request with the error.
   */
  private async layerMajorUnits(reqs: Request[], usedTokens: number): Promise<void> {
    const nLayers = this.engine.model.config.nLayers;
    let budget = this.chunk * nLayers - usedTokens * nLayers;
    let ran = false;
    for (const req of reqs) {
      const lm = req.layerMajor as LayerMajorPrefill;
      let advanced = false;
      while (!lm.done && req.phase === 'prefill' && !req.cancelled && (!ran || lm.nextUnitTokens <= budget)) {
        budget -= lm.nextUnitTokens;
        ran = true;
        advanced = true;
        this.inStep = new Set([req]);
        try {
          await lm.step();
        } catch (err) {
          this.finishWithError(req, err);
          break;
        } finally {
          this.inStep = new Set();
        }
      }
      if (req.cancelled || req.phase === 'done') {
        this.release(req);
        continue;
      }
      if (!advanced) continue;
      try {
        req.opts.onPrefillProgress?.(lm.tokensDone, req.ids.length);
        if (lm.done) {
          req.pos = req.ids.length;
          await this.endPrefill(req);
          req.layerMajor = undefined;
          this.onToken(req, lm.logits);
        }
      } catch (err) {
        this.finishWithError(req, err);
      }
    }
  }

  /** The whole prompt is in: the state builds its decode side, and the request now reserves its decode bound. */
  private async endPrefill(req: Request): Promise<void> {
    await (req.state as KvCacheState).endPrefill();
    req.phase = 'decode';
    req.reserve = req.projection.decodeFastBytes;
    req.prefillDoneAt = performance.now();
  }

  /** Samples the request's next token from its logits row and emits it; finishes the request at EOS, a stop string or its length. */
  private onToken(req: Request, logits: Float32Array): void {
    const tokenId = req.sampler.sample(logits);
    if (req.tokens.length === 0) req.firstTokenMs = performance.now() - req.submittedAt;
    if (this.eos.has(tokenId) && !req.opts.ignoreEos) return this.finish(req, 'eos');
    const index = req.tokens.length;
    req.tokens.push(tokenId);
    const piece = req.decoder ? req.decoder.push(tokenId) : '';
    const { emit, stopped } = req.stop.push(piece);
    req.text += emit;
    req.channel.push({ index, tokenId, text: emit });
    if (stopped) return this.finish(req, 'stop');
    if (req.tokens.length === req.maxNewTokens) return this.finish(req, 'length');
    req.next = tokenId;
  }

  private finish(req: Request, finishReason: FinishReason): void {
    if (finishReason !== 'stop') {
      const tail = req.stop.flush(req.decoder?.flush() ?? '');
      if (tail) {
        req.text += tail;
        req.channel.push({ index: req.tokens.length, tokenId: -1, text: tail });
      }
    }
    const state = req.state as KvCacheState;
    const now = performance.now();
    const prefillMs = req.prefillDoneAt - req.admittedAt;
    const decodeMs = now - req.prefillDoneAt;
    const memory: KvMemoryReport = state.memory();
    const steps: KvStepStats = state.stats();
    const { backend, model } = this.engine;
    req.result = {
      text: req.text,
      tokens: req.tokens,
      promptTokens: req.ids.length,
      prefilledTokens: req.ids.length,
      reusedTokens: 0,
      finishReason,
      prefillMs,
      timeToFirstTokenMs: req.firstTokenMs,
      decodeMs,
      prefillTokensPerSecond: req.ids.length / (prefillMs / 1000),
      decodeTokensPerSecond: req.tokens.length / (decodeMs / 1000),
      memory,
      steps,
      policy: { name: req.policy.name, params: reportedParams(req.policy, state) },
      backend: backend.name,
      backendReason: this.engine.backendReason,
      weightsDtype: model.weights.dtype,
    };
    this.release(req);
    req.channel.end();
  }
}
