// The per-sequence state of the shadowkv policy: dense prefill, then a ShadowKvLayer per model layer.
import type { KvCacheContext } from '@shadowkv/core';
import { OffloadingState } from './offloading-state.js';
import type { DenseLayerData } from './dense-kv-buffer.js';
import { ShadowKvLayer, type ShadowKvLayerSnapshot } from './shadowkv-layer.js';
import { allocateRanks } from './rank-allocation.js';
import { energyMaxRank, shadowKvLayout, type ResolvedShadowKvParams } from './shadowkv-params.js';

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

  protected buildLayer(_layer: number, data: DenseLayerData, promptLen: number): ShadowKvLayer {
    const layout = shadowKvLayout(this.params, this.ctx.model, promptLen, this.ctx.maxSeqLen);
    const svdRank = this.params.rankAllocation === 'energy' ? energyMaxRank(this.params.rank, this.ctx.model, promptLen) : this.params.rank;
    return new ShadowKvLayer(this.ctx, this.params, layout, data, promptLen, svdRank);
  }

  /** Builds every layer; with rankAllocation 'energy' then splits nLayers·rank over them by their key spectra. */
  override async endPrefill(): Promise<void> {
    const first = this.phase === 'prefill';
    await super.endPrefill();
    if (!first || this.params.rankAllocation !== 'energy') return;
    const layers = this.layers as ShadowKvLayer[];
    const ranks = allocateRanks(
      layers.map((l) => l.spectrum),
      this.params.rank * layers.length,
      1,
      Math.max(...layers.map((l) => l.spectrum.length)),
      layers.map((l) => l.keyEnergy),
    );
    layers.forEach((l, i) => l.setRank(ranks[i]));
  }

  /** Host copies of layer `layer`'s shadow state (after endPrefill), for tests and diagnostics. */
  snapshot(layer: number): Promise<ShadowKvLayerSnapshot> {
    return (this.layers[layer] as ShadowKvLayer).snapshot();
  }
}
