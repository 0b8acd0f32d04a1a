// The KV cache policy interface: how attention state is kept between forward calls.
// Dense keeps everything; ShadowKV and KCache keep a compressed fast side and offload values.
import type { KernelBackend, RopeSpec } from './backend.js';
import type { Tensor } from './tensor.js';

export interface KvModelShape {
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

export interface KvCacheContext {
  backend: KernelBackend;
  model: KvModelShape;
  rope: RopeSpec;
  /** Upper bound on prompt + generated tokens for this sequence (buffers may be sized from it). */
  maxSeqLen: number;
}

/** Inputs of one layer's attention for m new tokens at positions start..start+m. */
export interface LayerAttentionInput {
  layer: number;
  /** Position of the first new token. */
  start: number;
  /** Number of new tokens. */
  m: number;
  /** Post-RoPE queries [m, nHeads*headDim]. */
  q: Tensor;
  /** Pre-RoPE keys [m, nKvHeads*headDim] (ShadowKV builds its low-rank copy from these). */
  kPre: Tensor;
  /** Post-RoPE keys [m, nKvHeads*headDim]. */
  k: Tensor;
  /** Values [m, nKvHeads*headDim]. */
  v: Tensor;
}

/** What `append` records: the layer inputs without queries (no attention is computed). */
export type KvAppendInput = Omit<LayerAttentionInput, 'q'>;

export interface KvMemoryReport {
  /** Bytes of KV state kept on the fast device (GPU buffers, or the compute side on CPU). */
  fastBytes: number;
  /** Bytes kept in slow memory (host RAM value store). */
  slowBytes: number;
  /** Bytes full attention would hold for the same number of tokens (K and V, f32). */
  denseBytes: number;
}

/**
 * Upper bounds of one sequence's fast-side KV bytes, known before its state exists: what a scheduler admits a
 * request by (a batch fits a memory budget when the sums of these fit).
 */
export interface KvMemoryProjection {
  /**
   * Most fast-side bytes while the prompt is prefilled the way the engine runs it: layer-major where the state
   * offers `endPrefillLayer` (one layer's dense buffer beside the decode layers converted so far, conversions
   * included), otherwise token-major (every layer's dense buffer until endPrefill).
   */
  prefillFastBytes: number;
  /**
   * Most fast-side bytes when the prompt is run token-major instead (every layer's dense buffer held until
   * endPrefill: a state without `endPrefillLayer` support in its caller, e.g. a session recording its history);
   * absent: prefillFastBytes.
   */
  tokenMajorPrefillFastBytes?: number;
  /** Most fast-side bytes from the end of prefill until the sequence holds ctx.maxSeqLen tokens. */
  decodeFastBytes: number;
  /**
   * Most fast-side bytes while endPrefill turns the prefill buffer into the decode state (layer by layer, the dense
   * buffers not yet released beside the decode layers built so far); absent: max(prefill, decode) bounds it.
   */
  transitionFastBytes?: number;
  /** Most slow-tier (host) bytes the offloaded values take up to ctx.maxSeqLen tokens; 0 or absent: nothing offloaded. */
  slowBytes?: number;
}

/** Per-step timings (ms) and transfer counters that sparse policies report; all optional. */
export interface KvStepStats {
  selectMs: number;
  rebuildMs: number;
  fetchMs: number;
  attentionMs: number;
  hits: number;
  misses: number;
  bytesMoved: number;
  steps: number;
}

/** One forward call over a sequence: m new tokens at positions start..start+m-1. */
export interface KvStep {
  start: number;
  m: number;
  /**
   * Layer-major prefill (prefill phase only): the step spans the whole prompt and each layer's tokens arrive in
   * consecutive pieces (attend/append with sub-ranges start'..start'+m' in order, tiling start..start+m), layer
   * after layer; `endPrefillLayer(layer)` may follow a layer's last piece. Default false: one call per layer.
   */
  layerMajor?: boolean;
}

/**
 * The KV state of one sequence. Created by a policy. The forward pass owns the positions: it announces each
 * step (`beginStep`), calls `attend` (or `append`) once per layer with that step's tokens, then `endStep`;
 * a state never infers where a step ends from the layer index.
 */
export interface KvCacheState {
  /** Tokens stored so far (the positions of every ended step). */
  readonly seqLen: number;
  /**
   * Starts a step of `m` tokens at `start` (at most seqLen: a smaller start overwrites from there on, where the
   * policy allows it). Throws KvCapacityError when start + m exceeds the capacity the state was created for.
   */
  beginStep(step: KvStep): void;
  /** Ends the step begun last, after every layer has been attended or appended: seqLen becomes start + m. */
  endStep(): void;
  /** Whether attention for new tokens is in the prefill (dense) or decode phase. */
  readonly phase: 'prefill' | 'decode';
  /**
   * Stores the new tokens' K/V and returns the attention output [m, nHeads*headDim]. May return a promise:
   * an offloading policy reads the selected chunk ids back to fetch their values from slow memory.
   */
  attend(input: LayerAttentionInput): Tensor | Promise<Tensor>;
  /**
   * Prefill only: stores the new tokens' K/V like `attend` but computes no attention. Used when several
   * states share one prefill (benchmarks comparing policies): prefill attention is dense for every policy,
   * so one state computes the output and the others only record.
   */
  append(input: KvAppendInput): void;
  /** Called once after the whole prompt is in: sparse policies build their compressed state here. */
  endPrefill(): Promise<void> | void;
  /**
   * Optional, inside a `layerMajor` step after the last piece of `layer` (layers in order 0, 1, ...): the prompt
   * ends at the step's end, so the state may build that layer's decode state now and free its prefill buffer
   * (the fast side then never holds more than one layer's dense buffer). endStep and endPrefill still follow.
   */
  endPrefillLayer?(layer: number): Promise<void> | void;
  memory(): KvMemoryReport;
  stats(): KvStepStats;
  dispose(): void;
}

/** A cache policy: a named factory of per-sequence KV states, with its parameters validated up front. */
export interface KvCachePolicy {
  readonly name: string;
  /** Parameters as given (for reports). */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** Throws InvalidOptionError if the parameters cannot work for this prompt length / model. */
  validate(ctx: KvCacheContext, promptLen: number): void;
  create(ctx: KvCacheContext): KvCacheState;
  /** The fast-side bytes a state of this policy will hold for a prompt of `promptLen` tokens (upper bounds). */
  projectMemory?(ctx: KvCacheContext, promptLen: number): KvMemoryProjection;
}

export function emptyStepStats(): KvStepStats {
  return { selectMs: 0, rebuildMs: 0, fetchMs: 0, attentionMs: 0, hits: 0, misses: 0, bytesMoved: 0, steps: 0 };
}
