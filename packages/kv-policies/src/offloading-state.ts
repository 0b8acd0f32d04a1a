// The KvCacheState shared by the offloading policies: dense prefill, then one sparse decode layer per model layer.
import {
  emptyStepStats,
  ShapeError,
  type KvAppendInput,
  type KvCacheContext,
  type KvCacheState,
  type KvMemoryReport,
  type KvStepStats,
  type LayerAttentionInput,
  type Tensor,
} from '@shadowkv/core';
import { DenseKvBuffer, denseKvBytes, type DenseLayerData } from './dense-kv-buffer.js';

/** The decode-phase state of one layer. */
export interface DecodeLayer {
  /**
   * Attention of one new token (m = 1) at position `input.start`; adds its timings and counters to `stats`.
   * Async because the selection is read back to the host (`backend.read`) to decide which values to fetch.
   */
  attend(input: LayerAttentionInput, stats: KvStepStats): Promise<Tensor>;
  /** Bytes of KV state on the fast side now (reserved but unused rows are not counted, as for dense). */
  fastBytes(): number;
  /** Bytes in slow memory. */
  slowBytes(): number;
  dispose(): void;
}

/**
 * Prefill runs dense attention (the prompt's own output must not change) while recording what the policy needs;
 * `endPrefill` turns each layer's recording into a DecodeLayer and frees the dense caches.
 */
export abstract class OffloadingState implements KvCacheState {
  phase: 'prefill' | 'decode' = 'prefill';
  private length = 0;
  private prefill: DenseKvBuffer | undefined;
  protected readonly layers: DecodeLayer[] = [];
  private readonly stepStats = emptyStepStats();

  constructor(
    protected readonly ctx: KvCacheContext,
    private readonly policyName: string,
    preRopeKeys: boolean,
  ) {
    this.prefill = new DenseKvBuffer(ctx, { preRopeKeys });
  }

  get seqLen(): number {
    return this.length;
  }

  append(input: KvAppendInput): void {
    this.checkInput('append', input);
    if (this.phase !== 'prefill') {
      throw new ShapeError(`${this.policyName}.append`, 'append records prompt tokens and is only valid before endPrefill; decode tokens go through attend');
    }
    (this.prefill as DenseKvBuffer).write(input);
    if (input.layer === this.ctx.model.nLayers - 1) this.length = input.start + input.m;
  }

  /** Always a promise (errors are rejections): decode reads the selection back; prefill is dense and queues only. */
  async attend(input: LayerAttentionInput): Promise<Tensor> {
    const { nLayers } = this.ctx.model;
    const { layer, start, m } = input;
    this.checkInput('attend', input);
    let out: Tensor;
    if (this.phase === 'prefill') {
      out = (this.prefill as DenseKvBuffer).attend(input);
    } else {
      if (m !== 1) throw new ShapeError(`${this.policyName}.attend`, `decode takes one token per call, got m = ${m}`);
      if (start !== this.length) {
        throw new ShapeError(`${this.policyName}.attend`, `decode token at position ${start}, but ${this.length} tokens are stored; tokens must arrive in order`);
      }
      out = await this.layers[layer].attend(input, this.stepStats);
    }
    if (layer === nLayers - 1) {
      this.length = start + m;
      if (this.phase === 'decode') this.stepStats.steps++;
    }
    return out;
  }

  private checkInput(op: string, { layer, start, m }: KvAppendInput): void {
    const { nLayers } = this.ctx.model;
    if (!Number.isInteger(layer) || layer < 0 || layer >= nLayers) throw new ShapeError(`${this.policyName}.${op}`, `layer ${layer} is outside [0, ${nLayers})`);
    if (start + m > this.ctx.maxSeqLen) {
      throw new ShapeError(`${this.policyName}.${op}`, `position ${start + m} exceeds the capacity ${this.ctx.maxSeqLen} the cache was created with; raise maxSeqLen`);
    }
  }

  async endPrefill(): Promise<void> {
    if (this.phase === 'decode') return;
    const promptLen = this.length;
    this.checkPrompt(promptLen);
    const prefill = this.prefill as DenseKvBuffer;
    for (let l = 0; l < this.ctx.model.nLayers; l++) {
      const data = await prefill.read(l, promptLen);
      this.layers.push(this.buildLayer(l, data, promptLen, prefill));
      prefill.release(l);
    }
    this.prefill = undefined;
    this.phase = 'decode';
  }

  memory(): KvMemoryReport {
    const denseBytes = denseKvBytes(this.ctx.model, this.length);
    if (this.prefill) return { fastBytes: this.prefill.bytes(this.length), slowBytes: 0, denseBytes };
    let fastBytes = 0;
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
