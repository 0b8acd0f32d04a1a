// The per-sequence state of the kcache policy: dense prefill, then a KcacheLayer per model layer.
import type { KvCacheContext } from '@shadowkv/core';
import { checkKcachePrompt, type ResolvedKcacheParams } from './kcache-params.js';
import { KcacheLayer } from './kcache-layer.js';
import { OffloadingState } from './offloading-state.js';
import type { DenseKvBuffer, DenseLayerData } from './dense-kv-buffer.js';

export class KcacheState extends OffloadingState {
  constructor(
    ctx: KvCacheContext,
    private readonly params: ResolvedKcacheParams,
  ) {
    super(ctx, 'kcache', false);
  }

  protected checkPrompt(promptLen: number): void {
    checkKcachePrompt(promptLen, this.ctx.maxSeqLen);
  }

  protected buildLayer(layer: number, data: DenseLayerData, promptLen: number, prefill: DenseKvBuffer): KcacheLayer {
    return new KcacheLayer(this.ctx, this.params, prefill.takeKeys(layer), data.values, promptLen);
  }
}
