// One layer of ShadowKV's decode state: low-rank pre-RoPE keys, landmarks, exact local/outlier/generated K/V,
// and the offloaded values with a cache of the last selection.
import { ShapeError, type KernelBackend, type KvCacheContext, type KvStepStats, type LayerAttentionInput, type Tensor } from '@shadowkv/core';
import { ChunkCache, ValueStore } from '@shadowkv/kv-offload';
import { lowRankFactors, randomizedSvd } from '@shadowkv/lowrank-svd';
import { buildLandmarkSet, landmarkChunkIds, refineChunks, selectChunks, type LandmarkSet } from '@shadowkv/sparse-select';
import type { DecodeLayer } from './offloading-state.js';
import type { DenseLayerData } from './dense-kv-buffer.js';
import { svdOversampleFor, type ResolvedShadowKvParams, type ShadowKvLayout } from './shadowkv-params.js';

/** Host copies of a layer's shadow state, for tests and diagnostics. */
export interface ShadowKvLayerSnapshot {
  /** U of the SVD for the tokens before the local window [localStart, rank]. */
  a: Float32Array;
  /** S·Vᵀ split per KV head [nKvHeads, rank, headDim]. */
  b: Float32Array;
  rank: number;
  landmarks: LandmarkSet;
  /** Chunk ids selected at the last decode step, ascending per head [nKvHeads, budget/chunkSize]; empty before. */
  lastSelection: Int32Array;
}

/**
 * The decode buffers Kd and Vd [nKvHeads, rows, headDim] hold, per KV head,
 * `[ selected chunks (budget rows, slot order) | local window + outlier chunks (exact) | generated tokens ]`,
 * so one attention call over the first `budget + nStatic + generated` rows covers everything the token sees.
 * Selected keys are rebuilt into the first region every step; selected values are kept there by a ChunkCache
 * so that only chunks missed since the previous step are copied from the ValueStore.
 *
 * Backend-agnostic: per step only the selected chunk ids ([nKvHeads, nSelect] i32) come to the host
 * (`await backend.read`); misses go up with backend.upload + backend.scatterChunks, keys are rebuilt with
 * backend.rebuildKeys and copied into place with backend.scatterChunks, and attention is backend.attention.
 */
export class ShadowKvLayer implements DecodeLayer {
  private readonly backend: KernelBackend;
  private a!: Tensor; // [localStart, rank], set by setRank
  private b!: Tensor; // [nKvHeads, rank, headDim], set by setRank
  private readonly landmarks: Tensor; // [nKvHeads, nLandmarks, headDim]
  private readonly set: LandmarkSet;
  private readonly store: ValueStore;
  private readonly kd: Tensor; // [nKvHeads, rows, headDim]
  private readonly vd: Tensor; // [nKvHeads, rows, headDim]
  private readonly cache: ChunkCache;
  private readonly budgetIdx: Tensor; // i32 [nKvHeads, 1] of zeros: the budget region as one chunk of `budget` rows
  private readonly rows: number;
  private readonly nStatic: number;
  private readonly selected: Int32Array; // [nKvHeads, nSelect] chunk ids of the last step, ascending
  private generated = 0;
  private stepped = false;
  private rank = 0;
  /** Singular values of this layer's pre-RoPE keys, descending (as many as the SVD computed). */
  readonly spectrum: Float64Array;
  /** Squared Frobenius norm of the pre-RoPE keys (the energy every component's share is taken of). */
  readonly keyEnergy: number;
  /** U [promptLen, svdRank] and S·Vᵀ [svdRank, width] until setRank has uploaded the kept part. */
  private factors: { a: Float32Array; b: Float32Array; rank: number } | undefined;

  constructor(
    private readonly ctx: KvCacheContext,
    private readonly p: ResolvedShadowKvParams,
    private readonly layout: ShadowKvLayout,
    data: DenseLayerData,
    promptLen: number,
    svdRank = p.rank,
  ) {
    const { backend, model, maxSeqLen } = ctx;
    const { nKvHeads, headDim } = model;
    const { chunkSize } = p;
    this.backend = backend;
    const width = nKvHeads * headDim;

    // Low-rank pre-RoPE keys: kPre [promptLen, nKvHeads*headDim] ≈ A·B, A = U [promptLen, rank], B = S·Vᵀ [rank, width].
    // With rankAllocation 'energy' the SVD goes up to the largest rank a layer may get; the state picks this
    // layer's rank once every layer's spectrum is known (setRank).
    const svd = randomizedSvd(data.kPre as Float32Array, promptLen, width, {
      rank: svdRank,
      oversample: svdOversampleFor(p, width),
      powerIterations: p.svdPowerIterations,
      seed: p.svdSeed,
    });
    this.spectrum = svd.s;
    let energy = 0;
    for (let i = 0; i < promptLen * width; i++) energy += (data.kPre as Float32Array)[i] ** 2;
    this.keyEnergy = energy;
    this.factors = { ...lowRankFactors(svd), rank: svd.rank };
    if (p.rankAllocation === 'uniform') this.setRank(svd.rank);

    // Landmarks and outliers over the chunks before the local window (post-RoPE keys).
    const keys = { data: data.keys, nKvHeads, rowStride: maxSeqLen, headDim };
    this.set = buildLandmarkSet(keys, chunkSize, layout.nChunks, p.outliers);
    this.landmarks = backend.upload(this.set.landmarks, [nKvHeads, layout.nLandmarks, headDim]);

    // Every prompt value goes to slow memory, chunk-contiguous.
    this.store = new ValueStore({ nKvHeads, headDim, chunkSize, initialCapacity: promptLen, quantize: p.quantizeValues ? 'int8' : 'none' });
    this.store.appendHeadMajor(data.values, maxSeqLen, promptLen);

    // Decode buffers: budget rows | static rows | room for every token that can still be generated.
    this.nStatic = layout.nLocal + p.outliers * chunkSize;
    this.rows = p.budget + this.nStatic + (maxSeqLen - promptLen);
    this.kd = backend.zeros([nKvHeads, this.rows, headDim]);
    this.vd = backend.zeros([nKvHeads, this.rows, headDim]);
    this.writeStatic(data);
    this.cache = new ChunkCache(backend, this.store, this.vd, { slots: layout.nSelect });
    this.budgetIdx = backend.upload(new Int32Array(nKvHeads), [nKvHeads, 1]);
    this.selected = new Int32Array(nKvHeads * layout.nSelect);
  }

  /**
   * Uploads the first `rank` components of the SVD as A [localStart, rank] and B [nKvHeads, rank, headDim] and
   * drops the host factors. Called once, before the first decode step.
   */
  setRank(rank: number): void {
    const f = this.factors;
    if (!f) throw new ShapeError('ShadowKvLayer.setRank', 'the rank is already set');
    if (!Number.isInteger(rank) || rank < 1 || rank > f.rank) throw new ShapeError('ShadowKvLayer.setRank', `rank ${rank} is outside [1, ${f.rank}] (the SVD's rank)`);
    const { backend, model } = this.ctx;
    const { nKvHeads, headDim } = model;
    const width = nKvHeads * headDim;
    const { localStart } = this.layout;
    // Only chunks before the local window are ever rebuilt, so A keeps just their rows.
    const a = new Float32Array(localStart * rank); // [localStart, rank]
    for (let t = 0; t < localStart; t++) a.set(f.a.subarray(t * f.rank, t * f.rank + rank), t * rank);
    // rebuildKeys wants B per head: bh[h, r, :] = b[r, h*headDim .. (h+1)*headDim].
    const bh = new Float32Array(nKvHeads * rank * headDim); // [nKvHeads, rank, headDim]
    for (let h = 0; h < nKvHeads; h++) {
      for (let r = 0; r < rank; r++) bh.set(f.b.subarray(r * width + h * headDim, r * width + (h + 1) * headDim), (h * rank + r) * headDim);
    }
    this.a = backend.upload(a, [localStart, rank]);
    this.b = backend.upload(bh, [nKvHeads, rank, headDim]);
    this.rank = rank;
    this.factors = undefined;
  }

  /** Local window then outlier chunks, token-major [nStatic, nKvHeads*headDim] (each head its own outliers), into the static rows. */
  private writeStatic(data: DenseLayerData): void {
    if (this.nStatic === 0) return; // no local window, no tail, no outliers
    const { backend, model, maxSeqLen } = this.ctx;
    const { nKvHeads, headDim } = model;
    const { chunkSize, outliers } = this.p;
    const { nLocal, localStart } = this.layout;
    const width = nKvHeads * headDim;
    const k = new Float32Array(this.nStatic * width);
    const v = new Float32Array(this.nStatic * width);
    for (let i = 0; i < this.nStatic; i++) {
      for (let h = 0; h < nKvHeads; h++) {
        let token: number;
        if (i < nLocal) token = localStart + i;
        else {
          const j = i - nLocal;
          token = this.set.outlierChunkIds[h * outliers + Math.floor(j / chunkSize)] * chunkSize + (j % chunkSize);
        }
        const from = (h * maxSeqLen + token) * headDim;
        k.set(data.keys.subarray(from, from + headDim), i * width + h * headDim);
        v.set(data.values.subarray(from, from + headDim), i * width + h * headDim);
      }
    }
    for (const [dst, src] of [[this.kd, k], [this.vd, v]] as const) {
      const t = backend.upload(src, [this.nStatic, width]);
      backend.writeKv(dst, t, this.p.budget);
      backend.dispose(t);
    }
  }

  async attend(input: LayerAttentionInput, stats: KvStepStats): Promise<Tensor> {
    const { backend, model, rope } = this.ctx;
    const { nHeads, nKvHeads, headDim } = model;
    const { budget, chunkSize } = this.p;
    const { nSelect, nLandmarks } = this.layout;
    const scale = 1 / Math.sqrt(headDim);

    // 1. The new token's exact K/V join the generated region (it attends to itself).
    const row = budget + this.nStatic + this.generated;
    backend.writeKv(this.kd, input.k, row);
    backend.writeKv(this.vd, input.v, row);
    this.generated++;

    // 2. Select budget/chunkSize chunks per KV head by landmark scores; only the ids come to the host. On a queued
    // backend (WebGPU) the read also waits for the work queued before it, which selectMs then includes.
    let t = performance.now();
    // With refine > 1 the landmarks only nominate candidates and their rebuilt keys choose among them.
    const nCand = Math.min(nLandmarks, this.p.refine * nSelect);
    const sel = selectChunks(backend, input.q, this.landmarks, nHeads, nCand, scale); // i32 [nKvHeads, nCand]
    const positions = (await backend.read(sel)) as Int32Array;
    backend.dispose(sel);
    if (nCand === nSelect) landmarkChunkIds(positions, this.set.chunkIds, nKvHeads, nLandmarks, this.selected);
    else {
      const candidates = landmarkChunkIds(positions, this.set.chunkIds, nKvHeads, nLandmarks);
      await refineChunks(backend, input.q, { a: this.a, b: this.b, rope }, candidates, nKvHeads, nHeads, chunkSize, nSelect, scale, this.selected);
    }
    stats.selectMs += performance.now() - t;

    // 3. Values: the chunk cache copies the misses into the budget rows of Vd and reports the slot order.
    t = performance.now();
    const fetch = this.cache.update(this.selected, nSelect);
    stats.fetchMs += performance.now() - t;
    stats.hits += fetch.hits;
    stats.misses += fetch.misses;
    stats.bytesMoved += fetch.bytesMoved;

    // 4. Keys of the selected tokens from A·B with RoPE at their own positions, in the same slot order.
    t = performance.now();
    const idx = backend.upload(fetch.slots, [nKvHeads, nSelect]);
    const rebuilt = backend.rebuildKeys(this.a, this.b, idx, chunkSize, 0, rope); // [nKvHeads, budget, headDim]
    backend.scatterChunks(this.kd, rebuilt, this.budgetIdx, budget); // rows 0..budget of every head
    backend.dispose(idx);
    backend.dispose(rebuilt);
    stats.rebuildMs += performance.now() - t;

    // 5. One attention over selected + local + outliers + generated; order does not matter without a causal mask.
    t = performance.now();
    const out = backend.attention(input.q, this.kd, this.vd, {
      nHeads,
      nKvHeads,
      headDim,
      kvLen: budget + this.nStatic + this.generated,
      causal: false,
      queryOffset: 0,
      scale,
    });
    stats.attentionMs += performance.now() - t;
    this.stepped = true;
    return out;
  }

  fastBytes(): number {
    const { nKvHeads, headDim } = this.ctx.model;
    const f32 = 4;
    const lowRank = (this.layout.localStart * this.rank + nKvHeads * this.rank * headDim) * f32;
    const landmarks = nKvHeads * this.layout.nLandmarks * headDim * f32;
    const used = this.p.budget + this.nStatic + this.generated; // rows of Kd/Vd in use
    return lowRank + landmarks + 2 * nKvHeads * used * headDim * f32;
  }

  slowBytes(): number {
    return this.store.bytes;
  }

  /** Host copies of the shadow state (reads the device). */
  async snapshot(): Promise<ShadowKvLayerSnapshot> {
    const { backend } = this.ctx;
    return {
      a: (await backend.read(this.a)) as Float32Array,
      b: (await backend.read(this.b)) as Float32Array,
      rank: this.rank,
      landmarks: this.set,
      lastSelection: this.stepped ? this.selected.slice() : new Int32Array(0),
    };
  }

  dispose(): void {
    for (const t of [this.a, this.b, this.landmarks, this.kd, this.vd, this.budgetIdx]) if (t) this.backend.dispose(t); // a, b unset if setRank never ran
  }
}
