// The per-sequence state of the shadowkv policy: dense prefill, then a ShadowKvLayer per model layer.
import type { KvAppendInput, KvCacheContext, LayerAttentionInput, Tensor } from '@shadowkv/core';
import { OffloadingState } from './offloading-state.js';
import type { DenseKvBuffer, DenseLayerData } from './dense-kv-buffer.js';
import { ShadowKvLayer, type ShadowKvLayerSnapshot } from './shadowkv-layer.js';
import { allocateRanks } from './rank-allocation.js';
import {
  chosenShadowKvParams,
  completeShadowKvParams,
  energyMaxRank,
  shadowKvLayout,
  type ResolvedShadowKvParams,
  type ShadowKvSpec,
} from './shadowkv-params.js';
import type { ShadowKvDerived } from './shadowkv-defaults.js';

export class ShadowKvState extends OffloadingState {
  /** The parameters used for this prompt (given + derived), once the prompt is in. */
  private params: ResolvedShadowKvParams | undefined;
  private derivation: ShadowKvDerived | undefined;
  /** The prompt was too short for compression to pay and the budget was not given: decode stays dense. */
  private stayedDense = false;

  constructor(
    ctx: KvCacheContext,
    private readonly spec: ShadowKvSpec,
  ) {
    super(ctx, 'shadowkv', true);
  }

  /** Every parameter value used for this sequence, which were derived, and the note (undefined before the prompt is in). */
  get chosenParams(): Record<string, number | string | boolean> | undefined {
    return this.params && this.derivation ? chosenShadowKvParams(this.params, this.derivation) : undefined;
  }

  private choose(promptLen: number): ResolvedShadowKvParams {
    if (!this.params) {
      const { params, derivation } = completeShadowKvParams(this.spec, this.ctx.model, promptLen);
      this.params = params;
      this.derivation = derivation;
    }
    return this.params;
  }

  /** A prompt too short for compression (derived budget under SHADOWKV_MIN_CONTEXT) keeps its dense buffer: no layer converts early. */
  protected override keepsDense(promptLen: number): boolean {
    this.choose(promptLen);
    return Boolean(this.derivation?.dense);
  }

  protected checkPrompt(promptLen: number): void {
    const p = this.choose(promptLen);
    if (!this.derivation?.dense) shadowKvLayout(p, this.ctx.model, promptLen, this.ctx.maxSeqLen, this.derivation?.derived);
  }

  protected buildLayer(_layer: number, data: DenseLayerData, promptLen: number): ShadowKvLayer {
    const p = this.choose(promptLen);
    const layout = shadowKvLayout(p, this.ctx.model, promptLen, this.ctx.maxSeqLen, this.derivation?.derived);
    const svdRank = p.rankAllocation === 'energy' ? energyMaxRank(p.rank, this.ctx.model, promptLen) : p.rank;
    return new ShadowKvLayer(this.ctx, p, layout, data, promptLen, svdRank);
  }

  /**
   * Builds every layer; with rankAllocation 'energy' then splits nLayers·rank over them by their key spectra.
   * With a derived budget and a prompt under SHADOWKV_MIN_CONTEXT the dense prefill cache is kept instead.
   */
  override async endPrefill(): Promise<void> {
    const first = this.phase === 'prefill';
    if (first) {
      this.choose(this.seqLen);
      if (this.derivation?.dense) {
        this.stayedDense = true;
        (this.prefill as DenseKvBuffer).dropPreRopeKeys();
        this.phase = 'decode';
        return;
      }
    }
    await super.endPrefill();
    const p = this.params as ResolvedShadowKvParams;
    if (!first || p.rankAllocation !== 'energy') return;
    const layers = this.layers as ShadowKvLayer[];
    const ranks = allocateRanks(
      layers.map((l) => l.spectrum),
      p.rank * layers.length,
      1,
      Math.max(...layers.map((l) => l.spectrum.length)),
      layers.map((l) => l.keyEnergy),
    );
    layers.forEach((l, i) => l.setRank(ranks[i]));
  }

  override append(input: KvAppendInput): void | Promise<void> {
    if (!this.stayedDense) return super.append(input);
    this.steps.check('append', input);
    return (this.prefill as DenseKvBuffer).write(input);
  }

  override async attend(input: LayerAttentionInput): Promise<Tensor> {
    if (!this.stayedDense) return super.attend(input);
    this.steps.check('attend', input);
    return await (this.prefill as DenseKvBuffer).attend(input);
  }

  /** Host copies of layer `layer`'s shadow state (after endPrefill), for tests and diagnostics. */
  snapshot(layer: number): Promise<ShadowKvLayerSnapshot> {
    return (this.layers[layer] as ShadowKvLayer).snapshot();
  }
}
