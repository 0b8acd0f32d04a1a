// Several KV states fed by one prefill: the first computes the (dense) attention, the rest only record.
// Prefill attention is dense under every policy, so this is exact, and comparing N policies on a prompt
// costs one prefill instead of N.
import type { KvAppendInput, KvCacheState, KvMemoryReport, KvStep, KvStepStats, LayerAttentionInput, Tensor } from '@shadowkv/core';

export class SharedPrefillState implements KvCacheState {
  constructor(private readonly states: KvCacheState[]) {
    if (states.length === 0) throw new Error('SharedPrefillState needs at least one state');
  }

  get seqLen(): number {
    return this.states[0].seqLen;
  }

  get phase(): 'prefill' | 'decode' {
    return this.states[0].phase;
  }

  beginStep(step: KvStep): void {
    for (const s of this.states) s.beginStep(step);
  }

  endStep(): void {
    for (const s of this.states) s.endStep();
  }

  async attend(input: LayerAttentionInput): Promise<Tensor> {
    if (this.phase !== 'prefill') throw new Error('SharedPrefillState is for prefill only; decode each state on its own');
    // An append may read rows back (a layer-major prefill keeps ShadowKV's pre-RoPE keys on the host): awaited
    // before the forward pass frees the inputs.
    for (let i = 1; i < this.states.length; i++) await this.states[i].append(input);
    return this.states[0].attend(input);
  }

  async append(input: KvAppendInput): Promise<void> {
    for (const s of this.states) await s.append(input);
  }

  /**
   * Layer-major prefill: every state that converts layer by layer converts `layer` now (the others, e.g. dense,
   * keep their buffers); the time goes to that state's buildMs like endPrefill's.
   */
  async endPrefillLayer(layer: number): Promise<void> {
    for (const [i, s] of this.states.entries()) {
      if (!s.endPrefillLayer) continue;
      const t0 = performance.now();
      await s.endPrefillLayer(layer);
      this.layerBuildMs[i] = (this.layerBuildMs[i] ?? 0) + performance.now() - t0;
    }
  }

  private readonly layerBuildMs: number[] = [];

  /** Milliseconds each state spent in endPrefill (building its sparse state; with a layer-major prefill, also in endPrefillLayer). */
  readonly buildMs: number[] = [];

  async endPrefill(): Promise<void> {
    for (const s of this.states) {
      const t0 = performance.now();
      await s.endPrefill();
      this.buildMs.push(performance.now() - t0 + (this.layerBuildMs[this.buildMs.length] ?? 0));
    }
  }

  memory(): KvMemoryReport {
    return this.states[0].memory();
  }

  stats(): KvStepStats {
    return this.states[0].stats();
  }

  dispose(): void {
    for (const s of this.states) s.dispose();
  }
}
