// One layer of ShadowKV's decode state: low-rank pre-RoPE keys, landmarks, exact local/outlier/generated K/V,
// and the offloaded values with a cache of the last selection.
import { ShapeError, type KernelBackend, type KvAppendInput, type KvCacheContext, type KvStepStats, type LayerAttentionInput, type Tensor } from '@shadowkv/core';
import { ChunkCache, ValueStore, type PendingChunkFetch } from '@shadowkv/kv-offload';
import { keyRebuildPlan } from './key-rebuild-plan.js';
import { lowRankFactors, randomizedSvd } from '@shadowkv/lowrank-svd';
import { buildLandmarkSet, chunkLandmarks, chunkSpreads, heldAndFreshCandidates, landmarkChunkIds, refineChunksKeepingKeys, selectChunks, spreadLandmarks, spreadQuery, type ChunkBounds, type LandmarkSet, type RefinedChunks } from '@shadowkv/sparse-select';
import { countFetch, type DecodeLayer } from './offloading-state.js';
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
 * Tokens after the prompt (generated tokens, and the prompts of later turns) form the exact tail. When the tail
 * holds `exactTail` tokens and one more arrives, the tail is folded (the multi-turn / long-generation rule):
 *
 * - Its oldest whole chunks, all but the last localChunks·chunkSize tokens (the recent window stays exact), join
 *   the compressed state without a new SVD: their pre-RoPE keys are projected on the existing basis
 *   (A rows a = kPre·V·S⁻¹, i.e. a_r = kPre·B_r / ‖B_r‖² with B = S·Vᵀ), each chunk gets a landmark (mean of
 *   its post-RoPE keys per head) and becomes selectable, and the values go to the ValueStore.
 * - Chunk ids are positions / chunkSize, so the first fold first pins the tokens up to the next chunk boundary
 *   (the partial chunk after the prompt) as exact static rows, for good.
 *
 * So the fast side holds, at any length, rank floats per token (A), one landmark per chunk and head, and fixed
 * buffers (budget + static + exactTail rows); no room is reserved per remaining position. The outliers are the
 * prompt's; folded chunks are never outliers. A fold is a function of the token count only, so appending tokens
 * in one call (a replay) or one at a time (decode) folds at the same points.
 *
 * The decode buffers Kd and Vd [nKvHeads, rows, headDim] hold, per KV head,
 * `[ selected chunks (budget rows, slot order) | local window + outlier chunks (exact) | exact tail ]`,
 * so one attention call over the first `budget + nStatic + generated` rows covers everything the token sees.
 * Selected keys are rebuilt into the first region every step; selected values are kept there by a ChunkCache
 * so that only chunks missed since the previous step are copied from the ValueStore.
 *
 * Backend-agnostic: per step only the selected chunk ids ([nKvHeads, nSelect] i32) come to the host
 * (`await backend.read`); misses go up with backend.upload + backend.scatterChunks, keys are rebuilt with
 * backend.rebuildKeys and copied into place with backend.scatterChunks, and attention is backend.attention.
 * Where the backend keeps the chunk cache on the device (chunkCacheUpdate) and there is no refine stage, only
 * the misses come to the host and the keys are rebuilt before the host waits for them (attendOnDevice).
 */
export class ShadowKvLayer implements DecodeLayer {
  private readonly backend: KernelBackend;
  private a!: Tensor; // [localStart, rank], set by setRank
  private b!: Tensor; // [nKvHeads, rank, headDim], set by setRank
  private landmarks: Tensor; // [nKvHeads, nLandmarks, headDim], or [.., 2*headDim] = [center | spread·halfWidth] with spread > 0
  private set: LandmarkSet;
  /** Host copy of the chunks' key ranges [nKvHeads, nLandmarks, headDim] each (spread > 0 only): folds append to it. */
  private bounds: ChunkBounds | undefined;
  private readonly store: ValueStore;
  private readonly kd: Tensor; // [nKvHeads, rows, headDim]
  private readonly vd: Tensor; // [nKvHeads, rows, headDim]
  private readonly cache: ChunkCache;
  private readonly budgetIdx: Tensor; // i32 [nKvHeads, 1] of zeros: the budget region as one chunk of `budget` rows
  private readonly rows: number;
  private nStatic: number;
  private readonly selected: Int32Array; // [nKvHeads, nSelect] chunk ids of the last step, ascending
  /** Chunk id whose rebuilt keys each budget slot of Kd holds [nKvHeads, nSelect] (slot order), once a step wrote them. */
  private keySlots: Int32Array | undefined;
  /** Device copy of set.chunkIds for the device-side chunk cache (attendOnDevice), with the array it copies. */
  private idMap: { ids: Int32Array; t: Tensor } | undefined;
  private generated = 0; // tokens in the exact tail
  private stepped = false;
  private rank = 0;
  /** Position of the tail's first token. */
  private tailStart: number;
  /** Tail tokens before a fold (ShadowKvParams.exactTail, or every remaining position when that is 0). */
  private readonly tailCap: number;
  /**
   * Pre-RoPE keys of the static and tail rows, token-major [1, rows - budget, width] (row r of Kd is row r - budget
   * here): a fold projects them on the basis. Written on the device each step; read back only when folding.
   */
  private readonly kPreTail: Tensor | undefined;
  /** Host copies of A [aRows, rank] and B (S·Vᵀ) [rank, width], for projecting folded keys and re-uploading A. */
  private aHost!: Float32Array;
  private bHost!: Float32Array;
  private aRows = 0;
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
    if (p.spread > 0) this.bounds = chunkSpreads(keys, this.set.chunkIds, chunkSize);
    this.landmarks = this.uploadLandmarks();

    // Every prompt value goes to slow memory, chunk-contiguous.
    this.store = new ValueStore({ nKvHeads, headDim, chunkSize, initialCapacity: promptLen, quantize: p.quantizeValues ? 'int8' : 'none' });
    this.store.appendHeadMajor(data.values, maxSeqLen, promptLen);

    // Decode buffers: budget rows | static rows | the exact tail (with folding: exactTail rows plus the chunk
    // that the first fold pins; without: every position that can still come).
    this.nStatic = layout.nLocal + p.outliers * chunkSize;
    const remaining = maxSeqLen - promptLen;
    const exactTail = p.exactTail;
    this.tailCap = exactTail > 0 && exactTail < remaining ? exactTail : remaining;
    this.rows = p.budget + this.nStatic + Math.min(remaining, this.tailCap + chunkSize);
    this.tailStart = promptLen;
    this.kPreTail = this.tailCap < remaining ? backend.zeros([1, this.rows - p.budget, width]) : undefined;
    this.kd = backend.zeros([nKvHeads, this.rows, headDim]);
    this.vd = backend.zeros([nKvHeads, this.rows, headDim]);
    this.writeStatic(data);
    this.cache = new ChunkCache(backend, this.store, this.vd, { slots: layout.nSelect });
    this.budgetIdx = backend.upload(new Int32Array(nKvHeads), [nKvHeads, 1]);
    this.selected = new Int32Array(nKvHeads * layout.nSelect);
  }

  /** Groups of dimensions of the spread term (headDim: one per dimension). */
  private get spreadGroups(): number {
    const { headDim } = this.ctx.model;
    const g = this.p.spreadGroups || headDim;
    if (headDim % g !== 0) throw new ShapeError('shadowkv', `spreadGroups ${g} does not divide headDim ${headDim}; use a divisor of ${headDim} (or 0 for one group per dimension)`);
    return g;
  }

  /** The device tensor selection scores: the landmarks, or with spread > 0 the chunks' centers and weighted half widths. */
  private uploadLandmarks(): Tensor {
    const { nKvHeads, headDim } = this.ctx.model;
    const { landmarks, nLandmarks } = this.set;
    if (!this.bounds) return this.backend.upload(landmarks, [nKvHeads, nLandmarks, headDim]);
    const g = this.spreadGroups;
    return this.backend.upload(spreadLandmarks(this.bounds.centers, this.bounds.halfWidths, headDim, this.p.spread, g), [nKvHeads, nLandmarks, headDim + g]);
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
    this.aHost = a;
    this.aRows = localStart;
    this.bHost = f.b.slice(0, rank * width);
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
    const { nSelect } = this.layout;
    const scale = 1 / Math.sqrt(headDim);

    // 1. The new token's exact K/V join the exact tail (it attends to itself); a full tail is folded first.
    await this.store1(input);
    const { nLandmarks } = this;

    // 2. Select budget/chunkSize chunks per KV head by landmark scores; only the ids come to the host. On a queued
    // backend (WebGPU) the read also waits for the work queued before it, which selectMs then includes.
    let t = performance.now();
    // With refine > 1 the landmarks only nominate candidates and their rebuilt keys choose among them.
    const nCand = Math.min(nLandmarks, Math.ceil(this.p.refine * nSelect));
    const qSel = this.bounds ? await spreadQuery(backend, input.q, nHeads, this.spreadGroups) : input.q;
    // refineFresh: once Kd holds the last selection's keys, the candidates are that selection plus the landmarks'
    // `fresh` best others, so only those are rebuilt (the held ones are scored from Kd).
    const held = nCand > nSelect && this.p.refineFresh > 0 ? this.keySlots : undefined;
    const fresh = held ? Math.ceil(this.p.refineFresh * nSelect) : 0;
    const sticky = held !== undefined && nSelect + fresh <= nLandmarks;
    let positions: Int32Array;
    let landmarkScores: Float32Array | undefined;
    if (sticky) {
      const scores = backend.landmarkScores(qSel, this.landmarks, nHeads, scale); // [nKvHeads, nLandmarks]
      const top = backend.topK(scores, nSelect + fresh);
      if (qSel !== input.q) backend.dispose(qSel);
      [landmarkScores, positions] = (await Promise.all([backend.read(scores), backend.read(top)])) as [Float32Array, Int32Array];
      backend.dispose(scores);
      backend.dispose(top);
    } else {
      const sel = selectChunks(backend, qSel, this.landmarks, nHeads, nCand, scale); // i32 [nKvHeads, nCand]
      if (qSel !== input.q) backend.dispose(qSel);
      // A backend that keeps the chunk cache on the device gets the selection there: steps 3-4 without reading it.
      if (nCand === nSelect && this.cache.onDevice) return this.attendOnDevice(input, stats, sel, t);
      positions = (await backend.read(sel)) as Int32Array;
      backend.dispose(sel);
    }
    // The refine stage's rebuilt candidate keys hold the chosen chunks' keys: step 4 gathers them from there.
    let refined: RefinedChunks | undefined;
    if (nCand === nSelect) landmarkChunkIds(positions, this.set.chunkIds, nKvHeads, nLandmarks, this.selected);
    else {
      const candidates = sticky
        ? heldAndFreshCandidates(landmarkScores as Float32Array, positions, this.set.chunkIds, held as Int32Array, nKvHeads, fresh)
        : landmarkChunkIds(positions, this.set.chunkIds, nKvHeads, nLandmarks);
      // Candidates selected last step are copied from Kd's budget rows (step 4 wrote their keys), not rebuilt.
      const resident = this.keySlots ? { keys: this.kd, slots: this.keySlots } : undefined;
      refined = await refineChunksKeepingKeys(backend, input.q, { a: this.a, b: this.b, rope }, candidates, nKvHeads, nHeads, chunkSize, nSelect, scale, this.selected, resident);
    }
    stats.selectMs += performance.now() - t;

    // 3. Values: the chunk cache copies the misses into the budget rows of Vd and reports the slot order.
    t = performance.now();
    const fetch = this.cache.update(this.selected, nSelect);
    countFetch(stats, fetch, t);

    // 4. Keys of the selected tokens from A·B with RoPE at their own positions, in the same slot order.
    t = performance.now();
    let rebuilt: Tensor | undefined; // [nKvHeads, budget, headDim]
    if (refined && backend.copyChunkPairs) {
      // Kd's slots that keep their chunk (the chunk cache's hits) already hold its keys: copy only the others'.
      const pairs = new Int32Array(nKvHeads * nSelect * 2);
      const nCand = refined.candidates.length / nKvHeads;
      for (let h = 0; h < nKvHeads; h++) {
        const cands = refined.candidates.subarray(h * nCand, (h + 1) * nCand);
        for (let s = 0; s < nSelect; s++) {
          const i = h * nSelect + s;
          const c = fetch.slots[i];
          pairs[2 * i] = this.keySlots?.[i] === c ? -1 : cands.indexOf(c);
          pairs[2 * i + 1] = s;
        }
      }
      const idx = backend.upload(pairs, [nKvHeads, nSelect, 2], 'i32');
      try {
        backend.copyChunkPairs(this.kd, refined.rebuilt, idx, chunkSize);
      } finally {
        backend.dispose(idx);
        backend.dispose(refined.rebuilt);
      }
    } else if (refined) {
      const at = new Int32Array(nKvHeads * nSelect); // candidate index of each slot's chunk
      for (let h = 0; h < nKvHeads; h++) for (let s = 0; s < nSelect; s++) at[h * nSelect + s] = refined.candidateIndex[h].get(fetch.slots[h * nSelect + s]) as number;
      const idx = backend.upload(at, [nKvHeads, nSelect], 'i32');
      rebuilt = backend.gatherChunks(refined.rebuilt, idx, chunkSize);
      backend.dispose(idx);
      backend.dispose(refined.rebuilt);
    } else {
      // Only the slots whose chunk changed since last step (key-rebuild-plan.ts): the others hold their keys.
      const plan = keyRebuildPlan(fetch.slots, this.keySlots, nKvHeads, nSelect);
      if (plan === 'all') {
        const idx = backend.upload(fetch.slots, [nKvHeads, nSelect]);
        rebuilt = backend.rebuildKeys(this.a, this.b, idx, chunkSize, 0, rope);
        backend.dispose(idx);
      } else if (plan) {
        const idx = backend.upload(plan.chunks, [nKvHeads, plan.n], 'i32');
        const to = backend.upload(plan.slots, [nKvHeads, plan.n], 'i32');
        const part = backend.rebuildKeys(this.a, this.b, idx, chunkSize, 0, rope);
        backend.scatterChunks(this.kd, part, to, chunkSize);
        for (const x of [idx, to, part]) backend.dispose(x);
      }
    }
    if (rebuilt) {
      backend.scatterChunks(this.kd, rebuilt, this.budgetIdx, budget); // rows 0..budget of every head
      backend.dispose(rebuilt);
    }
    (this.keySlots ??= new Int32Array(nKvHeads * nSelect)).set(fetch.slots); // for step 2's refine of the next step
    stats.rebuildMs += performance.now() - t;

    // 5. One attention over selected + local + outliers + generated.
    return this.attendRows(input, stats);
  }

  /**
   * Steps 3-4 when the chunk cache lives on the device (ChunkCache.onDevice) and there is no refine stage:
   * the selected landmark positions `sel` (i32 [nKvHeads, nSelect], on the device) go through the device-side
   * bookkeeping, which starts the read of the misses; the key rebuild and its scatter are queued on the slot
   * order it leaves on the device and submitted (backend.flush) before the host waits, so the device rebuilds
   * while the misses travel. Then the misses' values go up and attention follows. One host round trip, of
   * (nKvHeads + capacity) ints, instead of the [nKvHeads, nSelect] ids; the same slots, hits, misses and
   * bytes as the host path, so the same keys and values in the same rows.
   */
  private async attendOnDevice(input: LayerAttentionInput, stats: KvStepStats, sel: Tensor, t: number): Promise<Tensor> {
    const { backend, model, rope } = this.ctx;
    const { nKvHeads } = model;
    const { budget, chunkSize } = this.p;
    const pending = this.cache.queueUpdate(sel, { map: this.chunkIdMap() }) as PendingChunkFetch;
    backend.dispose(sel);
    this.keySlots = undefined; // the slot order stays on the device: the host path may not reuse Kd's keys after this
    stats.selectMs += performance.now() - t;

    // 4. Keys, in the slot order the device just wrote, into Kd's budget rows (one launch where the backend has
    // rebuildKeysInto): queued and submitted before anything is awaited.
    t = performance.now();
    if (backend.rebuildKeysInto) backend.rebuildKeysInto(this.kd, this.a, this.b, pending.order, chunkSize, 0, rope);
    else {
      const rebuilt = backend.rebuildKeys(this.a, this.b, pending.order, chunkSize, 0, rope); // [nKvHeads, budget, headDim]
      backend.scatterChunks(this.kd, rebuilt, this.budgetIdx, budget);
      backend.dispose(rebuilt);
    }
    backend.flush?.();
    stats.rebuildMs += performance.now() - t;

    // 3. Values: wait for the misses (the one round trip; on a queued backend it includes the work queued before
    // the read), copy them into Vd's budget rows.
    t = performance.now();
    const fetch = await pending.settle();
    countFetch(stats, fetch, t);
    const n = this.layout.nSelect;
    for (let h = 0; h < nKvHeads; h++) this.selected.set(fetch.slots.subarray(h * n, (h + 1) * n).slice().sort(), h * n); // ascending, as the host path keeps it

    return this.attendRows(input, stats);
  }

  /** The landmark → chunk id map on the device (i32 [nKvHeads, nLandmarks]), uploaded again after a fold. */
  private chunkIdMap(): Tensor {
    const ids = this.set.chunkIds;
    if (this.idMap?.ids !== ids) {
      if (this.idMap) this.backend.dispose(this.idMap.t);
      this.idMap = { ids, t: this.backend.upload(ids, [this.ctx.model.nKvHeads, this.set.nLandmarks], 'i32') };
    }
    return this.idMap.t;
  }

  /** Step 5: one attention over selected + local + outliers + generated; order does not matter without a causal mask. */
  private attendRows(input: LayerAttentionInput, stats: KvStepStats): Tensor {
    const { backend, model } = this.ctx;
    const { nHeads, nKvHeads, headDim } = model;
    const t = performance.now();
    const out = backend.attention(input.q, this.kd, this.vd, {
      nHeads,
      nKvHeads,
      headDim,
      kvLen: this.p.budget + this.nStatic + this.generated,
      causal: false,
      queryOffset: 0,
      scale: 1 / Math.sqrt(headDim),
    });
    stats.attentionMs += performance.now() - t;
    this.stepped = true;
    return out;
  }

  /** Landmarks (selectable chunks) per KV head: the prompt's non-outlier chunks plus every folded chunk. */
  get nLandmarks(): number {
    return this.set.nLandmarks;
  }

  /** Stores one token (m = 1) at the end of the tail, folding a full tail first. No host round trip. */
  private async store1(input: KvAppendInput): Promise<void> {
    const { backend } = this.ctx;
    if (this.generated === this.tailCap) await this.fold();
    const row = this.p.budget + this.nStatic + this.generated;
    if (backend.writeKvPair) backend.writeKvPair(this.kd, this.vd, input.k, input.v, row);
    else {
      backend.writeKv(this.kd, input.k, row);
      backend.writeKv(this.vd, input.v, row);
    }
    if (this.kPreTail) backend.writeKv(this.kPreTail, input.kPre, row - this.p.budget);
    this.generated++;
  }

  /**
   * Stores m tokens without attention (a replayed turn or decode steps): the same rows and folds as m decode steps
   * would leave, since a step's attention output is not part of the state.
   */
  async append(input: KvAppendInput): Promise<void> {
    const { backend } = this.ctx;
    const width = this.ctx.model.nKvHeads * this.ctx.model.headDim;
    const [k, v, kPre] = (await Promise.all([backend.read(input.k), backend.read(input.v), backend.read(input.kPre)])) as Float32Array[];
    let i = 0;
    while (i < input.m) {
      if (this.generated === this.tailCap) await this.fold();
      const n = Math.min(input.m - i, this.tailCap - this.generated);
      this.writeTail(this.generated, n, k.subarray(i * width), v.subarray(i * width), kPre.subarray(i * width));
      this.generated += n;
      i += n;
    }
  }

  /** Uploads n token-major rows of k/v/kPre into tail rows first..first+n. */
  private writeTail(first: number, n: number, k: Float32Array, v: Float32Array, kPre: Float32Array): void {
    if (n <= 0) return;
    const { backend } = this.ctx;
    const width = this.ctx.model.nKvHeads * this.ctx.model.headDim;
    const row = this.p.budget + this.nStatic + first;
    if (row + n > this.rows) throw new ShapeError('ShadowKvLayer', `the exact tail is full (${this.rows} rows); the cache capacity is exhausted`);
    const targets: [Tensor | undefined, Float32Array, number][] = [[this.kd, k, row], [this.vd, v, row], [this.kPreTail, kPre, row - this.p.budget]];
    for (const [dst, src, at] of targets) {
      if (!dst) continue;
      const t = backend.upload(src.slice(0, n * width), [n, width]);
      backend.writeKv(dst, t, at);
      backend.dispose(t);
    }
  }

  /** Reads the tail's rows back, token-major [generated, width] each (only when folding). */
  private async readTail(): Promise<{ k: Float32Array; v: Float32Array; kPre: Float32Array }> {
    const { backend, model } = this.ctx;
    const { nKvHeads, headDim } = model;
    const width = nKvHeads * headDim;
    const g = this.generated;
    const row0 = this.p.budget + this.nStatic;
    const [kd, vd, kp] = (await Promise.all([backend.read(this.kd), backend.read(this.vd), backend.read(this.kPreTail as Tensor)])) as Float32Array[];
    const k = new Float32Array(g * width);
    const v = new Float32Array(g * width);
    for (let t = 0; t < g; t++) {
      for (let h = 0; h < nKvHeads; h++) {
        const from = (h * this.rows + row0 + t) * headDim;
        k.set(kd.subarray(from, from + headDim), t * width + h * headDim);
        v.set(vd.subarray(from, from + headDim), t * width + h * headDim);
      }
    }
    const kPre = kp.slice((row0 - this.p.budget) * width, (row0 - this.p.budget + g) * width);
    return { k, v, kPre };
  }

  /** Folds the tail's oldest whole chunks into A, the landmarks and the ValueStore (the rule in the class comment). */
  private async fold(): Promise<void> {
    const { backend, model } = this.ctx;
    const { nKvHeads, headDim } = model;
    const width = nKvHeads * headDim;
    const { chunkSize, localChunks } = this.p;
    let tail = await this.readTail();
    const drop = (n: number) => {
      tail = { k: tail.k.subarray(n * width), v: tail.v.subarray(n * width), kPre: tail.kPre.subarray(n * width) };
      this.generated -= n;
      this.tailStart += n;
    };
    // Pin the partial chunk after the prompt: those tail rows become static rows where they are.
    const pin = Math.min((chunkSize - (this.tailStart % chunkSize)) % chunkSize, this.generated);
    if (pin > 0) {
      this.store.appendTokenMajor(tail.v.subarray(0, pin * width), pin);
      this.nStatic += pin;
      drop(pin);
    }
    const keep = localChunks * chunkSize;
    const n = Math.floor(Math.max(0, this.generated - keep) / chunkSize) * chunkSize;
    if (n === 0) throw new ShapeError('ShadowKvLayer.fold', `exactTail ${this.tailCap} leaves no whole chunk to fold beyond the ${keep}-token local window`);
    const first = this.tailStart; // position of the first folded token, a chunk boundary
    if (this.store.length !== first) throw new ShapeError('ShadowKvLayer.fold', `value store holds ${this.store.length} tokens, expected ${first}`);

    // Values to slow memory, in position order (store chunk id = position / chunkSize).
    this.store.appendTokenMajor(tail.v.subarray(0, n * width), n);

    // Low-rank rows: A grows to cover positions 0..first+n; the rows between the old end and `first` (the local
    // window and pinned tokens, always exact) are zeros that no landmark points at.
    const r = this.rank;
    const rows = first + n;
    const a = new Float32Array(rows * r);
    a.set(this.aHost.subarray(0, this.aRows * r));
    const norm2 = new Float64Array(r);
    for (let j = 0; j < r; j++) {
      let acc = 0;
      for (let e = 0; e < width; e++) acc += this.bHost[j * width + e] ** 2;
      norm2[j] = acc;
    }
    for (let t = 0; t < n; t++) {
      const kp = tail.kPre.subarray(t * width, (t + 1) * width);
      for (let j = 0; j < r; j++) {
        let acc = 0;
        const bj = j * width;
        for (let e = 0; e < width; e++) acc += kp[e] * this.bHost[bj + e];
        a[(first + t) * r + j] = norm2[j] > 0 ? acc / norm2[j] : 0;
      }
    }
    backend.dispose(this.a);
    this.a = backend.upload(a, [rows, r]);
    this.aHost = a;
    this.aRows = rows;

    // Landmarks of the folded chunks (head-major copy of their post-RoPE keys), appended per head.
    const nNew = n / chunkSize;
    const hm = new Float32Array(nKvHeads * n * headDim);
    for (let t = 0; t < n; t++) for (let h = 0; h < nKvHeads; h++) hm.set(tail.k.subarray(t * width + h * headDim, t * width + (h + 1) * headDim), (h * n + t) * headDim);
    const fresh = chunkLandmarks({ data: hm, nKvHeads, rowStride: n, headDim }, chunkSize, nNew);
    const old = this.set;
    const nL = old.nLandmarks + nNew;
    const landmarks = new Float32Array(nKvHeads * nL * headDim);
    const chunkIds = new Int32Array(nKvHeads * nL);
    for (let h = 0; h < nKvHeads; h++) {
      landmarks.set(old.landmarks.subarray(h * old.nLandmarks * headDim, (h + 1) * old.nLandmarks * headDim), h * nL * headDim);
      landmarks.set(fresh.subarray(h * nNew * headDim, (h + 1) * nNew * headDim), (h * nL + old.nLandmarks) * headDim);
      chunkIds.set(old.chunkIds.subarray(h * old.nLandmarks, (h + 1) * old.nLandmarks), h * nL);
      for (let c = 0; c < nNew; c++) chunkIds[h * nL + old.nLandmarks + c] = first / chunkSize + c;
    }
    this.set = { ...old, landmarks, chunkIds, nLandmarks: nL };
    if (this.bounds) {
      const freshIds = new Int32Array(nKvHeads * nNew);
      for (let h = 0; h < nKvHeads; h++) for (let c = 0; c < nNew; c++) freshIds[h * nNew + c] = first / chunkSize + c;
      const add = chunkSpreads({ data: hm, nKvHeads, rowStride: n, headDim }, freshIds, chunkSize, first / chunkSize);
      const grow = (old_: Float32Array, fresh_: Float32Array) => {
        const out = new Float32Array(nKvHeads * nL * headDim);
        for (let h = 0; h < nKvHeads; h++) {
          out.set(old_.subarray(h * old.nLandmarks * headDim, (h + 1) * old.nLandmarks * headDim), h * nL * headDim);
          out.set(fresh_.subarray(h * nNew * headDim, (h + 1) * nNew * headDim), (h * nL + old.nLandmarks) * headDim);
        }
        return out;
      };
      this.bounds = { centers: grow(this.bounds.centers, add.centers), halfWidths: grow(this.bounds.halfWidths, add.halfWidths) };
    }
    backend.dispose(this.landmarks);
    this.landmarks = this.uploadLandmarks();

    // The rest of the tail moves to the front of the tail region.
    drop(n);
    this.writeTail(0, this.generated, tail.k, tail.v, tail.kPre);
  }

  fastBytes(): number {
    const { nKvHeads, headDim } = this.ctx.model;
    const f32 = 4;
    const lowRank = (this.aRows * this.rank + nKvHeads * this.rank * headDim) * f32;
    const landmarks = nKvHeads * this.nLandmarks * (headDim + (this.bounds ? this.spreadGroups : 0)) * f32;
    const used = this.p.budget + this.nStatic + this.generated; // rows of Kd/Vd in use
    // With folding, the pre-RoPE keys of the tail rows are kept too (the fold projects them).
    const preRope = this.kPreTail ? nKvHeads * this.generated * headDim * f32 : 0;
    return lowRank + landmarks + 2 * nKvHeads * used * headDim * f32 + preRope;
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
    for (const t of [this.a, this.b, this.landmarks, this.kd, this.vd, this.budgetIdx, this.kPreTail]) if (t) this.backend.dispose(t); // a, b unset if setRank never ran
    if (this.idMap) this.backend.dispose(this.idMap.t);
    this.cache.dispose();
  }
}
