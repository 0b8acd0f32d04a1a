// Dense attention: every token's K and V stay on the fast side. The baseline every sparse policy is measured against.
import {
  emptyStepStats,
  type KvCacheContext,
  type KvAppendInput,
  type KvCachePolicy,
  type KvCacheState,
  type KvMemoryReport,
  type KvStep,
  type KvStepStats,
  type LayerAttentionInput,
  type Tensor,
} from '@shadowkv/core';
import { projectDense } from './memory-projection.js';
import { StepTracker } from './step-tracker.js';
import { DenseKvBuffer, denseKvBytes, headMajorToTokenMajor, type DenseKvBufferOptions } from './dense-kv-buffer.js';

/** A dense state; `readLayer` gives its K/V (and pre-RoPE K when kept) back on the host, token-major. */
export class DenseState implements KvCacheState {
  private readonly buffer: DenseKvBuffer;
  private readonly steps: StepTracker;
  phase: 'prefill' | 'decode' = 'prefill';
  private readonly stepStats = emptyStepStats();

  constructor(
    private readonly ctx: KvCacheContext,
    opts: DenseKvBufferOptions = {},
  ) {
    this.buffer = new DenseKvBuffer(ctx, opts);
    this.steps = new StepTracker('dense', ctx.maxSeqLen, ctx.model.nLayers);
  }

  get seqLen(): number {
    return this.steps.seqLen;
  }

  /** Any start up to seqLen: dense attention simply overwrites the positions from there on. */
  beginStep(step: KvStep): void {
    this.steps.begin(step);
  }

  endStep(): void {
    this.steps.end();
    if (this.phase === 'decode') this.stepStats.steps++;
  }

  append(input: KvAppendInput): void {
    this.steps.check('append', input);
    this.buffer.write(input);
  }

  attend(input: LayerAttentionInput): Tensor {
    this.steps.check('attend', input);
    const t0 = performance.now();
    const out = this.buffer.attend(input);
    if (this.phase === 'decode') this.stepStats.attentionMs += performance.now() - t0;
    return out;
  }

  endPrefill(): void {
    this.phase = 'decode';
  }

  /**
   * Host copies of layer `layer`'s stored tokens, token-major [seqLen, nKvHeads*headDim]: values, and the
   * pre-RoPE keys when the state was created with `preRopeKeys` (what a prefill recording keeps).
   */
  async readLayer(layer: number): Promise<{ kPre?: Float32Array; v: Float32Array }> {
    const { nKvHeads, headDim } = this.ctx.model;
    const data = await this.buffer.read(layer, this.seqLen);
    return { kPre: data.kPre?.slice(), v: headMajorToTokenMajor(data.values, nKvHeads, this.ctx.maxSeqLen, headDim, this.seqLen) };
  }

  memory(): KvMemoryReport {
    return { fastBytes: this.buffer.bytes(this.seqLen), slowBytes: 0, denseBytes: denseKvBytes(this.ctx.model, this.seqLen) };
  }

  stats(): KvStepStats {
    return { ...this.stepStats };
  }

  dispose(): void {
    this.buffer.dispose();
  }
}

/** Full attention over every token (the reference policy). */
export function dense(): KvCachePolicy {
  return {
    name: 'dense',
    params: {},
    validate() {},
    create: (ctx) => new DenseState(ctx),
    projectMemory: (ctx) => projectDense(ctx),
  };
}
