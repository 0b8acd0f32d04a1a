// One layer of KCache's decode state: every key on the fast side, values offloaded, top-N (or mass) values fetched.
import type { KernelBackend, KvAppendInput, KvCacheContext, KvStepStats, LayerAttentionInput, Tensor } from '@shadowkv/core';
import { ChunkCache, ValueStore, type PendingChunkFetch } from '@shadowkv/kv-offload';
import { massCount, selectTokens, tokenScores } from '@shadowkv/sparse-select';
import { countFetch, type DecodeLayer } from './offloading-state.js';
import type { ResolvedKcacheParams } from './kcache-params.js';

/** Working-set slots reserved first in mass mode; doubled when a step needs more. */
const MASS_INITIAL_SLOTS = 256;

/**
 * Keys stay in the [nKvHeads, maxSeqLen, headDim] cache filled during prefill; values of the prompt and of every
 * generated token go to a ValueStore with one token per chunk. A step scores all keys exactly, keeps the top-N
 * tokens per KV head, brings their values into a slot buffer through a ChunkCache (only tokens not fetched
 * at the previous step move) and gathers their keys in the same slot order.
 *
 * Values are fetched per token (a ValueStore chunk of 1), as KCache selects tokens, not chunks: top-N tokens
 * rarely form runs, and per-token slots keep every moved byte one that attention uses. Backend-agnostic: per
 * step the new token's value row ([1, nKvHeads*headDim], for the host store) and the top-N token ids
 * ([nKvHeads, n] i32) are read back with `backend.read` — or, where the backend keeps the chunk cache on the
 * device (chunkCacheUpdate), only the misses (attendOnDevice); mass mode also reads the scores ([nKvHeads,
 * kvLen]) to size the set. Misses go up through upload + scatterChunks inside the ChunkCache.
 */
export class KcacheLayer implements DecodeLayer {
  private readonly backend: KernelBackend;
  private readonly store: ValueStore;
  private slots: number;
  private vf: Tensor; // [nKvHeads, slots, headDim] fetched values, slot order
  private cache: ChunkCache;
  private length: number;

  constructor(
    private readonly ctx: KvCacheContext,
    private readonly p: ResolvedKcacheParams,
    private readonly keys: Tensor, // [nKvHeads, maxSeqLen, headDim], rows 0..length valid
    values: Float32Array, // [nKvHeads, maxSeqLen, headDim] head-major, read back from prefill
    promptLen: number,
  ) {
    const { backend, model, maxSeqLen } = ctx;
    this.backend = backend;
    this.length = promptLen;
    this.store = new ValueStore({ nKvHeads: model.nKvHeads, headDim: model.headDim, chunkSize: 1, initialCapacity: maxSeqLen, quantize: p.quantizeValues ? 'int8' : 'none' });
    this.store.appendHeadMajor(values, maxSeqLen, promptLen);
    this.slots = Math.min(p.topN ?? MASS_INITIAL_SLOTS, maxSeqLen);
    this.vf = backend.zeros([model.nKvHeads, this.slots, model.headDim]);
    this.cache = new ChunkCache(backend, this.store, this.vf, { slots: this.slots });
  }

  async attend(input: LayerAttentionInput, stats: KvStepStats): Promise<Tensor> {
    const { backend, model } = this.ctx;
    const { nHeads, nKvHeads, headDim } = model;
    const scale = 1 / Math.sqrt(headDim);

    // The new token: key to the fast-side cache, value to slow memory, then it competes like any other token.
    backend.writeKv(this.keys, input.k, input.start);
    const newValue = backend.read(input.v); // [1, nKvHeads*headDim], awaited with the ids below
    this.length++;
    const kvLen = this.length;

    // The value row and the ids are read back together; on a queued backend (WebGPU) the reads also wait for
    // the work queued before them, which selectMs then includes.
    let t = performance.now();
    const scores = tokenScores(backend, input.q, this.keys, kvLen, nHeads, scale); // [nKvHeads, kvLen]
    const n = this.p.mass !== undefined ? massCount((await backend.read(scores)) as Float32Array, nKvHeads, this.p.mass) : Math.min(this.p.topN as number, kvLen);
    const sel = selectTokens(backend, scores, n); // i32 [nKvHeads, n]
    backend.dispose(scores);
    if (this.cache.onDevice) return this.attendOnDevice(input, stats, sel, n, newValue, t);
    const [v, ids] = await Promise.all([newValue, backend.read(sel)]);
    backend.dispose(sel);
    this.store.appendTokenMajor(v as Float32Array, 1);
    stats.selectMs += performance.now() - t;

    t = performance.now();
    if (n > this.slots) this.grow(n);
    const fetch = this.cache.update(ids as Int32Array, n);
    countFetch(stats, fetch, t);

    // Keys of the kept tokens in slot order; attention needs k and v of one shape, so unused slots gather token 0.
    t = performance.now();
    const idx = new Int32Array(nKvHeads * this.slots); // [nKvHeads, slots]
    for (let h = 0; h < nKvHeads; h++) idx.set(fetch.slots.subarray(h * n, (h + 1) * n), h * this.slots);
    const idxT = backend.upload(idx, [nKvHeads, this.slots]);
    const k = backend.gatherChunks(this.keys, idxT, 1); // [nKvHeads, slots, headDim]
    backend.dispose(idxT);
    stats.rebuildMs += performance.now() - t;

    t = performance.now();
    const out = backend.attention(input.q, k, this.vf, { nHeads, nKvHeads, headDim, kvLen: n, causal: false, queryOffset: 0, scale });
    backend.dispose(k);
    stats.attentionMs += performance.now() - t;
    return out;
  }

  /**
   * The rest of a step when the chunk cache lives on the device (ChunkCache.onDevice): the top-n token ids
   * `sel` stay there; the device-side bookkeeping starts the read of the misses, the keys are gathered in the
   * slot order it wrote and submitted (backend.flush) before the host waits, and the misses' values go up once
   * the new token's value (read concurrently) is in the store. The same slots, hits, misses and bytes as the
   * host path (the new token counts as stored, fullChunks = kvLen, as there).
   */
  private async attendOnDevice(input: LayerAttentionInput, stats: KvStepStats, sel: Tensor, n: number, newValue: Promise<Float32Array | Int32Array>, t: number): Promise<Tensor> {
    const { backend, model } = this.ctx;
    const { nHeads, nKvHeads, headDim } = model;
    if (n > this.slots) this.grow(n);
    const pending = this.cache.queueUpdate(sel, { fullChunks: this.length }) as PendingChunkFetch;
    backend.dispose(sel);
    stats.selectMs += performance.now() - t;

    // Keys of the kept tokens in slot order (slots past n gather token 0), queued before anything is awaited.
    t = performance.now();
    const k = backend.gatherChunks(this.keys, pending.order, 1); // [nKvHeads, slots, headDim]
    backend.flush?.();
    stats.rebuildMs += performance.now() - t;

    // The round trip: the new value row and the misses (two reads in flight together), then the misses' values.
    t = performance.now();
    this.store.appendTokenMajor((await newValue) as Float32Array, 1);
    const fetch = await pending.settle();
    countFetch(stats, fetch, t);

    t = performance.now();
    const out = backend.attention(input.q, k, this.vf, { nHeads, nKvHeads, headDim, kvLen: n, causal: false, queryOffset: 0, scale: 1 / Math.sqrt(headDim) });
    backend.dispose(k);
    stats.attentionMs += performance.now() - t;
    return out;
  }

  /**
   * Stores m tokens after the prompt as m decode steps would (a replay, or a session's new turn stored without
   * attention): keys to the fast-side cache, values to the store. KCache has no exact tail to fold: every key is
   * kept exact on the fast side by design, and every value after the prompt already goes to slow memory.
   */
  async append(input: KvAppendInput): Promise<void> {
    const { backend } = this.ctx;
    backend.writeKv(this.keys, input.k, input.start);
    const v = (await backend.read(input.v)) as Float32Array;
    this.store.appendTokenMajor(v, input.m);
    this.length += input.m;
  }

  /** Mass mode needed more slots than reserved: a bigger buffer, whose cache starts empty. */
  private grow(n: number): void {
    const { backend, model, maxSeqLen } = this.ctx;
    this.slots = Math.min(Math.max(2 * this.slots, n), maxSeqLen);
    backend.dispose(this.vf);
    this.cache.dispose();
    this.vf = backend.zeros([model.nKvHeads, this.slots, model.headDim]);
    this.cache = new ChunkCache(backend, this.store, this.vf, { slots: this.slots });
  }

  fastBytes(): number {
    const { nKvHeads, headDim } = this.ctx.model;
    return (this.length + this.slots) * nKvHeads * headDim * 4;
  }

  slowBytes(): number {
    return this.store.bytes;
  }

  dispose(): void {
    this.backend.dispose(this.keys);
    this.backend.dispose(this.vf);
    this.cache.dispose();
  }
}
