// Dense attention: every token's K and V stay on the fast side. The baseline every sparse policy is measured against.
import {
  emptyStepStats,
  InvalidOptionError,
  type KvCacheContext,
  type KvAppendInput,
  type KvCachePolicy,
  type KvCacheState,
  type KvMemoryReport,
  type KvStepStats,
  type LayerAttentionInput,
  type Tensor,
} from '@shadowkv/core';

class DenseState implements KvCacheState {
  private readonly keys: Tensor[] = [];
  private readonly values: Tensor[] = [];
  private length = 0;
  phase: 'prefill' | 'decode' = 'prefill';
  private readonly stepStats = emptyStepStats();

  constructor(private readonly ctx: KvCacheContext) {
    const { backend, model, maxSeqLen } = ctx;
    for (let l = 0; l < model.nLayers; l++) {
      // kCache/vCache: [nKvHeads, maxSeqLen, headDim]
      this.keys.push(backend.zeros([model.nKvHeads, maxSeqLen, model.headDim]));
      this.values.push(backend.zeros([model.nKvHeads, maxSeqLen, model.headDim]));
    }
  }

  get seqLen(): number {
    return this.length;
  }

  append(input: KvAppendInput): void {
    const { layer, start, m } = input;
    if (start + m > this.ctx.maxSeqLen) {
      throw new InvalidOptionError('maxSeqLen', `position ${start + m} exceeds the cache capacity ${this.ctx.maxSeqLen}; raise maxNewTokens/capacity`);
    }
    this.ctx.backend.writeKv(this.keys[layer], input.k, start);
    this.ctx.backend.writeKv(this.values[layer], input.v, start);
    if (layer === this.ctx.model.nLayers - 1) this.length = start + m;
  }

  attend(input: LayerAttentionInput): Tensor {
    const { backend, model } = this.ctx;
    const { layer, start, m } = input;
    const t0 = performance.now();
    this.append(input);
    const out = backend.attention(input.q, this.keys[layer], this.values[layer], {
      nHeads: model.nHeads,
      nKvHeads: model.nKvHeads,
      headDim: model.headDim,
      kvLen: start + m,
      causal: true,
      queryOffset: start,
      scale: 1 / Math.sqrt(model.headDim),
    });
    if (layer === model.nLayers - 1 && this.phase === 'decode') this.stepStats.steps++;
    if (this.phase === 'decode') this.stepStats.attentionMs += performance.now() - t0;
    return out;
  }

  endPrefill(): void {
    this.phase = 'decode';
  }

  memory(): KvMemoryReport {
    const { model } = this.ctx;
    const denseBytes = 2 * model.nLayers * model.nKvHeads * model.headDim * 4 * this.length;
    return { fastBytes: denseBytes, slowBytes: 0, denseBytes };
  }

  stats(): KvStepStats {
    return { ...this.stepStats };
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) this.ctx.backend.dispose(t);
    this.keys.length = 0;
    this.values.length = 0;
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
