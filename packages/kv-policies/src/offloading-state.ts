// The KvCacheState shared by the offloading policies: dense prefill, then one sparse decode layer per model layer.
import {
  emptyStepStats,
  ShapeError,
  type KvAppendInput,
  type KvCacheContext,
  type KvCacheState,
  type KvMemoryReport,
  type KvStep,
  type KvStepStats,
  type LayerAttentionInput,
  type Tensor,
} from '@shadowkv/core';
import type { ChunkFetch } from '@shadowkv/kv-offload';
import { StepTracker } from './step-tracker.js';
import { DenseKvBuffer, denseKvBytes, type DenseLayerData } from './dense-kv-buffer.js';

/** Adds one chunk-cache fetch (its time since `t0`, hits, misses, bytes) to a step's stats. */
export function countFetch(stats: KvStepStats, fetch: ChunkFetch, t0: number): void {
  stats.fetchMs += performance.now() - t0;
  stats.hits += fetch.hits;
  stats.misses += fetch.misses;
  stats.bytesMoved += fetch.bytesMoved;
}

/** The decode-phase state of one layer. */
export interface DecodeLayer {
  /**
   * Attention of one new token (m = 1) at position `input.start`; adds its timings and counters to `stats`.
   * Async because the selection is read back to the host (`backend.read`) to decide which values to fetch.
   */
  attend(input: LayerAttentionInput, stats: KvStepStats): Promise<Tensor>;
  /**
   * Stores m tokens after the prompt without computing attention, exactly as m decode steps would leave the
   * state (a decode step's attention output is not part of it): replays of saved sessions and histories.
   */
  append(input: KvAppendInput): Promise<void> | void;
  /** Bytes of KV state on the fast side now (reserved but unused rows are not counted, as for dense). */
  fastBytes(): number;
  /** Bytes in slow memory. */
  slowBytes(): number;
  dispose(): void;
}

/**
 * Prefill runs dense attention (the prompt's own output must not change) while recording what the policy needs;
 * `endPrefill` turns each layer's recording into a DecodeLayer and frees the dense caches. A layer-major prefill
 * (a `layerMajor` step) converts each layer as soon as its last piece is in (`endPrefillLayer`): the dense buffer
 * is allocated per layer at its first write, so the fast side holds one layer's dense buffer beside the decode
 * layers built so far instead of every layer's.
 */
export abstract class OffloadingState implements KvCacheState {
  phase: 'prefill' | 'decode' = 'prefill';
  protected readonly steps: StepTracker;
  /** The dense cache of the prompt; kept after endPrefill only by a state that stays dense (ShadowKvState). */
  protected prefill: DenseKvBuffer | undefined;
  protected readonly layers: DecodeLayer[] = [];
  private readonly stepStats = emptyStepStats();

  constructor(
    protected readonly ctx: KvCacheContext,
    private readonly policyName: string,
    preRopeKeys: boolean,
  ) {
    this.prefill = new DenseKvBuffer(ctx, { preRopeKeys, lazy: true });
    this.steps = new StepTracker(policyName, ctx.maxSeqLen, ctx.model.nLayers);
  }

  get seqLen(): number {
    return this.steps.seqLen;
  }

  /** Prefill steps may start anywhere up to seqLen (dense); after endPrefill, tokens must arrive in order. */
  beginStep(step: KvStep): void {
    if (this.phase === 'decode' && step.start !== this.seqLen) {
      throw new ShapeError(`${this.policyName}.beginStep`, `tokens at position ${step.start}, but ${this.seqLen} are stored; tokens must arrive in order`);
    }
    if (step.layerMajor && this.phase === 'decode') throw new ShapeError(`${this.policyName}.beginStep`, 'a layer-major step is a prefill; after endPrefill tokens go through decode steps');
    if (this.layers.length > 0 && this.phase === 'prefill') {
      throw new ShapeError(`${this.policyName}.beginStep`, `layers were already converted by endPrefillLayer; the prompt ended at ${this.seqLen}, call endPrefill before the next step`);
    }
    this.steps.begin(step);
  }

  /**
   * Layer-major prefill: layer `layer`'s tokens are all in and the prompt ends at the open step's end. Builds that
   * layer's decode state and frees its dense buffer (the same data and build as endPrefill's, one layer earlier).
   */
  async endPrefillLayer(layer: number): Promise<void> {
    const op = `${this.policyName}.endPrefillLayer`;
    const s = this.steps.current;
    if (this.phase !== 'prefill' || !s?.layerMajor) throw new ShapeError(op, 'only inside a layer-major prefill step (beginStep({ start, m, layerMajor: true }))');
    const promptLen = s.start + s.m;
    if (this.keepsDense(promptLen)) return;
    if (layer !== this.layers.length) throw new ShapeError(op, `layer ${layer} given, but layers are converted in order and ${this.layers.length} is next`);
    if (!this.steps.layerComplete(layer)) throw new ShapeError(op, `layer ${layer} has not received every token of the step yet`);
    if (layer === 0) this.checkPrompt(promptLen);
    await this.convertLayer(layer, promptLen);
  }

  /** Whether the prompt stays in the dense buffer after endPrefill (ShadowKV's short prompts): no layer is converted. */
  protected keepsDense(_promptLen: number): boolean {
    return false;
  }

  private async convertLayer(layer: number, promptLen: number): Promise<void> {
    const prefill = this.prefill as DenseKvBuffer;
    const data = await prefill.read(layer, promptLen);
    this.layers.push(this.buildLayer(layer, data, promptLen, prefill));
    prefill.release(layer);
  }

  endStep(): void {
    const { m } = this.steps.end();
    if (this.phase === 'decode') this.stepStats.steps += m;
  }

  /**
   * Before endPrefill: records prompt tokens (dense). After: stores tokens like decode steps (the decode layer's
   * append; a promise, since the rows are read back to the host), e.g. when a saved session is replayed.
   */
  append(input: KvAppendInput): void | Promise<void> {
    this.steps.check('append', input);
    if (this.phase !== 'prefill') return this.layers[input.layer].append(input);
    // A layer-major prefill keeps the pre-RoPE keys on the host (a promise: await it before freeing input.kPre).
    return (this.prefill as DenseKvBuffer).write(input, { preRopeOnHost: this.steps.current?.layerMajor });
  }

  /** Always a promise (errors are rejections): decode reads the selection back; prefill is dense and queues only. */
  async attend(input: LayerAttentionInput): Promise<Tensor> {
    const { layer, m } = input;
    this.steps.check('attend', input);
    let out: Tensor;
    if (this.phase === 'prefill') {
      out = await (this.prefill as DenseKvBuffer).attend(input, { preRopeOnHost: this.steps.current?.layerMajor });
    } else {
      out = m === 1 ? await this.layers[layer].attend(input, this.stepStats) : await this.attendEach(input);
    }
    return out;
  }

  /**
   * Several tokens after the prompt (a new turn of a session): each goes through the decode path in order, so
   * token i attends, sparsely, to everything before it and exactly to the tail it joins; the new tokens' keys
   * and values are stored as decode steps store them (exact tail, folded by the policy's rule). Costs one
   * decode step per token and layer; the rows are gathered on the device and the outputs joined on the host.
   */
  private async attendEach(input: LayerAttentionInput): Promise<Tensor> {
    const { backend } = this.ctx;
    const { layer, start, m } = input;
    const rowOf = (t: Tensor, i: number) => {
      const idx = backend.upload(Int32Array.of(i), [1], 'i32');
      const r = backend.embedding(t, idx); // a row gather
      backend.dispose(idx);
      return r;
    };
    let out: Float32Array | undefined;
    for (let i = 0; i < m; i++) {
      const row = { layer, start: start + i, m: 1, q: rowOf(input.q, i), kPre: rowOf(input.kPre, i), k: rowOf(input.k, i), v: rowOf(input.v, i) };
      try {
        const o = await this.layers[layer].attend(row, this.stepStats);
        const host = (await backend.read(o)) as Float32Array;
        backend.dispose(o);
        out ??= new Float32Array(m * host.length);
        out.set(host, i * host.length);
      } finally {
        for (const t of [row.q, row.kPre, row.k, row.v]) backend.dispose(t);
      }
    }
    const w = (out as Float32Array).length / m;
    return backend.upload(out as Float32Array, [m, w]);
  }

  async endPrefill(): Promise<void> {
    if (this.phase === 'decode') return;
    if (this.steps.current) throw new ShapeError(`${this.policyName}.endPrefill`, 'a step is still open; endPrefill comes after endStep');
    const promptLen = this.seqLen;
    // A layer-major prefill converted its layers already (endPrefillLayer); otherwise every layer is built here.
    if (this.layers.length === 0) this.checkPrompt(promptLen);
    for (let l = this.layers.length; l < this.ctx.model.nLayers; l++) await this.convertLayer(l, promptLen);
    this.prefill = undefined;
    this.phase = 'decode';
  }

  memory(): KvMemoryReport {
    const denseBytes = denseKvBytes(this.ctx.model, this.seqLen);
    // In prefill: the dense rows written in the layers still held, plus any layer converted already (layer-major).
    let fastBytes = this.prefill ? this.prefill.writtenBytes() : 0;
    let slowBytes = 0;
    for (const l of this.layers) {
      fastBytes += l.fastBytes();
      slowBytes += l.slowBytes();
    }
    return { fastBytes, slowBytes, denseBytes };
  }

  stats(): KvStepStats {
    return { ...this.stepStats };
  }

  dispose(): void {
    this.prefill?.dispose();
    this.prefill = undefined;
    for (const l of this.layers) l.dispose();
    this.layers.length = 0;
  }

  /** Throws InvalidOptionError when the policy's parameters cannot work for a prompt of this length. */
  protected abstract checkPrompt(promptLen: number): void;

  /** Builds layer `layer`'s decode state from its prefill recording (`prefill` lets it take over tensors). */
  protected abstract buildLayer(layer: number, data: DenseLayerData, promptLen: number, prefill: DenseKvBuffer): DecodeLayer;
}
