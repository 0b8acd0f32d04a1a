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
import { StepTracker } from './step-tracker.js';
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
  private readonly steps: StepTracker;
  private prefill: DenseKvBuffer | undefined;
  protected readonly layers: DecodeLayer[] = [];
  private readonly stepStats = emptyStepStats();

  constructor(
    protected readonly ctx: KvCacheContext,
    private readonly policyName: string,
    preRopeKeys: boolean,
  ) {
    this.prefill = new DenseKvBuffer(ctx, { preRopeKeys });
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
    this.steps.begin(step);
  }

  endStep(): void {
    const { m } = this.steps.end();
    if (this.phase === 'decode') this.stepStats.steps += m;
  }

  append(input: KvAppendInput): void {
    this.steps.check('append', input);
    if (this.phase !== 'prefill') {
      throw new ShapeError(`${this.policyName}.append`, 'append records prompt tokens and is only valid before endPrefill; decode tokens go through attend');
    }
    (this.prefill as DenseKvBuffer).write(input);
  }

  /** Always a promise (errors are rejections): decode reads the selection back; prefill is dense and queues only. */
  async attend(input: LayerAttentionInput): Promise<Tensor> {
    const { layer, m } = input;
    this.steps.check('attend', input);
    let out: Tensor;
    if (this.phase === 'prefill') {
      out = (this.prefill as DenseKvBuffer).attend(input);
    } else {
      if (m !== 1) throw new ShapeError(`${this.policyName}.attend`, `decode takes one token per call, got m = ${m}`);
      out = await this.layers[layer].attend(input, this.stepStats);
    }
    return out;
  }

  async endPrefill(): Promise<void> {
    if (this.phase === 'decode') return;
    if (this.steps.current) throw new ShapeError(`${this.policyName}.endPrefill`, 'a step is still open; endPrefill comes after endStep');
    const promptLen = this.seqLen;
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
    const denseBytes = denseKvBytes(this.ctx.model, this.seqLen);
    if (this.prefill) return { fastBytes: this.prefill.bytes(this.seqLen), slowBytes: 0, denseBytes };
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
