// Dense attention: every token's K and V stay on the fast side. The baseline every sparse policy is measured against.
import {
  emptyStepStats,
  type KvCacheContext,
  type KvAppendInput,
  type KvCachePolicy,
  type KvCacheState,
  type KvMemoryReport,
  type KvStepStats,
  type LayerAttentionInput,
  type Tensor,
} from '@shadowkv/core';
import { DenseKvBuffer, denseKvBytes, headMajorToTokenMajor, type DenseKvBufferOptions } from './dense-kv-buffer.js';

/** A dense state; `readLayer` gives its K/V (and pre-RoPE K when kept) back on the host, token-major. */
export class DenseState implements KvCacheState {
  private readonly buffer: DenseKvBuffer;
  private length = 0;
  phase: 'prefill' | 'decode' = 'prefill';
  private readonly stepStats = emptyStepStats();

  constructor(
    private readonly ctx: KvCacheContext,
    opts: DenseKvBufferOptions = {},
  ) {
    this.buffer = new DenseKvBuffer(ctx, opts);
  }

  get seqLen(): number {
    return this.length;
  }

  append(input: KvAppendInput): void {
    this.buffer.write(input);
    if (input.layer === this.ctx.model.nLayers - 1) this.length = input.start + input.m;
  }

  attend(input: LayerAttentionInput): Tensor {
    const { layer, start, m } = input;
    const t0 = performance.now();
    const out = this.buffer.attend(input);
    if (layer === this.ctx.model.nLayers - 1) {
      this.length = start + m;
      if (this.phase === 'decode') this.stepStats.steps++;
    }
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
    const data = await this.buffer.read(layer, this.length);
    return { kPre: data.kPre?.slice(), v: headMajorToTokenMajor(data.values, nKvHeads, this.ctx.maxSeqLen, headDim, this.length) };
  }

  memory(): KvMemoryReport {
    return { fastBytes: this.buffer.bytes(this.length), slowBytes: 0, denseBytes: denseKvBytes(this.ctx.model, this.length) };
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
  };
}
