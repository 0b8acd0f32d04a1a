// The per-sequence state of the shadowkv policy: dense prefill, then a ShadowKvLayer per model layer.
import type { KvCacheContext } from '@shadowkv/core';
import { OffloadingState } from './offloading-state.js';
import type { PrefillLayerData } from './prefill-cache.js';
import { ShadowKvLayer, type ShadowKvLayerSnapshot } from './shadowkv-layer.js';
import { shadowKvLayout, type ResolvedShadowKvParams } from './shadowkv-params.js';

export class ShadowKvState extends OffloadingState {
  constructor(
    ctx: KvCacheContext,
    private readonly params: ResolvedShadowKvParams,
  ) {
    super(ctx, 'shadowkv', true);
  }

  protected checkPrompt(promptLen: number): void {
    shadowKvLayout(this.params, this.ctx.model, promptLen, this.ctx.maxSeqLen);
  }

  protected buildLayer(_layer: number, data: PrefillLayerData, promptLen: number): ShadowKvLayer {
    const layout = shadowKvLayout(this.params, this.ctx.model, promptLen, this.ctx.maxSeqLen);
    return new ShadowKvLayer(this.ctx, this.params, layout, data, promptLen);
  }

  /** Host copies of layer `layer`'s shadow state (after endPrefill), for tests and diagnostics. */
  snapshot(layer: number): Promise<ShadowKvLayerSnapshot> {
    return (this.layers[layer] as ShadowKvLayer).snapshot();
  }
}
