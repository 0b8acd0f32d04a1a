// The kernel backend interface: every op the Llama forward pass and the sparse KV caches need.
// The CPU backend (`@shadowkv/kernels-cpu`) is the specification; others are checked against it.
import type { DType, Shape, Tensor } from './tensor.js';

/** RoPE parameters, resolved from config.json (including llama3 scaling) into per-pair inverse frequencies. */
export interface RopeSpec {
  headDim: number;
  /** invFreq[i] for i in [0, headDim/2): angle of pair i at position p is p * invFreq[i]. */
  invFreq: Float32Array;
  /** Multiplier applied to cos/sin (1 unless a scaling type defines an attention factor). */
  attentionScaling: number;
}

export interface AttentionParams {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Number of valid key/value rows (per KV head) in the k/v tensors. */
  kvLen: number;
  /** Causal masking: query row i sits at key index `queryOffset + i` and sees keys `0..queryOffset+i`. */
  causal: boolean;
  queryOffset: number;
  /** Softmax scale, normally 1/sqrt(headDim). */
  scale: number;
}

export interface BackendCapabilities {
  dtypes: readonly DType[];
  /** Largest single tensor in bytes (e.g. WebGPU maxBufferSize). */
  maxTensorBytes: number;
  /**
   * Dtypes this backend takes as the weight operand of `matmul` (w) and `embedding` (table), accumulating in f32.
   * A loader keeps 16-bit checkpoint weights in 16 bits only for backends that list that dtype here and widens
   * them to f32 for the others. Always contains 'f32'.
   */
  weightDtypes: readonly DType[];
}

/**
 * Work a backend has done since it was created (monotonic totals; a benchmark diffs two snapshots around
 * a decode step). Optional: backends that count implement `KernelBackend.counters`.
 */
export interface BackendCounters {
  /** Kernel launches (GPU dispatches). */
  dispatches: number;
  /** Command submissions to the device queue. */
  submits: number;
  /** Host round trips: reads that wait for the device (one per `read`). */
  hostReads: number;
  /** Device buffers created. */
  bufferCreations: number;
  /** Bind groups (or descriptor sets) created. */
  bindGroupCreations: number;
  /** Bytes copied from the host to the device (uploads, uniforms excluded). */
  bytesUploaded: number;
  /** Bytes copied from the device back to the host. */
  bytesReadBack: number;
  /** Bytes the kernels read from device memory, as each op estimates it (weights, KV rows, activations). */
  deviceBytesRead: number;
  /** GPU execution time in ms measured by timestamp queries, or null where the device has none. */
  gpuMs: number | null;
}

/**
 * A compute backend. Ops are issued synchronously and may execute asynchronously (GPU queues);
 * only `read` waits. Every op allocates and returns a new tensor unless documented as in-place.
 * Shapes use the glossary: m rows (tokens), nHeads, nKvHeads, headDim, seqLen, chunkSize, rank.
 */
export interface KernelBackend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;

  // ---- memory ----
  /**
   * Copies host data into a new tensor. `i32` takes Int32Array; float dtypes take Float32Array (narrowed to
   * the dtype), and `f16` / `bf16` also take a Uint16Array of raw 16-bit patterns (stored as they are).
   */
  upload(data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype?: DType): Tensor;
  /** New zero-filled tensor. */
  zeros(shape: Shape, dtype?: DType): Tensor;
  /** Reads a tensor back to the host (f16 is widened to f32). */
  read(t: Tensor): Promise<Float32Array | Int32Array>;
  dispose(t: Tensor): void;
  /** Waits for queued work (no-op on synchronous backends). */
  sync(): Promise<void>;
  /**
   * Frees every tensor and device resource of this backend. Idempotent. Afterwards every op, `read` and
   * `upload` throws `BackendDestroyedError` (never a crash or a silent result).
   */
  destroy(): void;
  /** Work counters (see BackendCounters); absent on backends that do not count. */
  counters?(): BackendCounters;

  // ---- dense ops ----
  /** out[m, hidden] = table[ids[i], :]. table [vocab, hidden], ids i32 [m]. */
  embedding(table: Tensor, ids: Tensor): Tensor;
  /** out[m, n] = x[m, k] · w[n, k]ᵀ (Hugging Face Linear layout). */
  matmul(x: Tensor, w: Tensor): Tensor;
  /** out[m, d] = x / rms(x) * w. x [m, d], w [d]. */
  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor;
  /** Elementwise a + b, same shapes. */
  add(a: Tensor, b: Tensor): Tensor;
  /** out[m, f] = silu(gate) * up. */
  swiglu(gate: Tensor, up: Tensor): Tensor;
  /**
   * Rotary embedding (rotate-half convention, as in Hugging Face Llama) of x [m, nHeads*headDim],
   * row i at position positions[i] (i32 [m]).
   */
  rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor;
  /** Row-wise softmax over the last dim of x [m, n]. */
  softmax(x: Tensor): Tensor;

  // ---- optional fused ops: a backend that has them saves launches and memory passes; callers fall back ----
  // ---- to the separate ops when absent. Results equal the separate ops up to f32 summation order.     ----
  /** out[m, n] = residual[m, n] + x[m, k] · w[n, k]ᵀ: a projection and the residual add (w as in matmul). */
  matmulAdd?(x: Tensor, w: Tensor, residual: Tensor): Tensor;
  /** out[m, f] = silu(x · wGateᵀ) * (x · wUpᵀ): the MLP's gate and up projections and SwiGLU (wGate, wUp [f, k], one dtype). */
  matmulSwiglu?(x: Tensor, wGate: Tensor, wUp: Tensor): Tensor;
  /**
   * outs[i][m, n_i] = rmsNorm(x, norm, eps) · ws[i]ᵀ: a layer's input RMSNorm fused into the projections that
   * follow it (attention: q, k, v), one output per weight. x [m, k] f32, norm f32 [k], ws[i] [n_i, k] in one
   * weight dtype (as in matmul). Equals the separate rmsNorm and matmuls up to f32 summation order.
   */
  rmsNormMatmuls?(x: Tensor, norm: Tensor, eps: number, ws: readonly Tensor[]): Tensor[];
  /** out[m, f] = matmulSwiglu(rmsNorm(x, norm, eps), wGate, wUp): the MLP's input RMSNorm fused in as well. */
  rmsNormMatmulSwiglu?(x: Tensor, norm: Tensor, eps: number, wGate: Tensor, wUp: Tensor): Tensor;
  /** [rope(q, positions, nHeads, rope), rope(k, positions, nKvHeads, rope)]: the query and key rotations together. */
  ropeQk?(q: Tensor, k: Tensor, positions: Tensor, nHeads: number, nKvHeads: number, rope: RopeSpec): [Tensor, Tensor];
  /** In place: writeKv(kCache, k, start) and writeKv(vCache, v, start) (caches of one shape, k and v of one shape). */
  writeKvPair?(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, start: number): void;
  /**
   * In place: src [m, n] into rows start..start+m of dst [M, n] (f32; other rows untouched). Stacks per-sequence
   * rows into one batch matrix on the device (continuous batching); callers without it copy through the host.
   */
  writeRows?(dst: Tensor, src: Tensor, start: number): void;

  // ---- KV layout ----
  /**
   * In place: writes rows x [m, nKvHeads*headDim] into cache [nKvHeads, capacity, headDim] at rows start..start+m.
   */
  writeKv(cache: Tensor, x: Tensor, start: number): void;
  /**
   * Attention of q [m, nHeads*headDim] over k, v [nKvHeads, >=kvLen, headDim] (GQA: query head h uses
   * KV head floor(h / (nHeads/nKvHeads))). Tiled / online softmax: no [m, kvLen] matrix is required.
   * Returns [m, nHeads*headDim].
   */
  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor;

  // ---- sparse decode ops (ShadowKV / KCache) ----
  /**
   * Gathers chunks: src [nKvHeads, nChunks*chunkSize, headDim], idx i32 [nKvHeads, nSel] chunk ids
   * → out [nKvHeads, nSel*chunkSize, headDim].
   */
  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor;
  /**
   * In place, the inverse of gatherChunks: chunk s of src [nKvHeads, nSel*chunkSize, headDim] is written to
   * chunk idx[h, s] of dst [nKvHeads, nChunks*chunkSize, headDim] for each KV head h (idx i32 [nKvHeads, nSel]).
   * Chunk ids within a head must be distinct.
   */
  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void;
  /**
   * Low-rank key rebuild fused with RoPE: for each KV head h and each selected chunk s with id c,
   * token t = c*chunkSize + j: out[h, s*chunkSize + j, :] = rope(a[t, :] · b[h, :, :], position t + positionOffset).
   * a [seqLen, rank], b [nKvHeads, rank, headDim], idx i32 [nKvHeads, nSel] → [nKvHeads, nSel*chunkSize, headDim].
   */
  rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): Tensor;
  /**
   * Landmark scores for chunk selection: q [nHeads*headDim], landmarks [nKvHeads, nChunks, headDim];
   * per query head softmax(q·landmarkᵀ·scale) over chunks, then max over the query heads of each KV
   * head → [nKvHeads, nChunks].
   */
  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor;
  /** Indices of the k largest values in each row of x [rows, n], ascending index order → i32 [rows, k]. */
  topK(x: Tensor, k: number): Tensor;

  // ---- optional: device-side chunk cache and early submit (ShadowKV / KCache with few host round trips) ----
  /**
   * In place on `table`, the chunk-cache bookkeeping of `ChunkCache` (@shadowkv/kv-offload) on the device, so
   * only the misses come back to the host. table i32 [nKvHeads, slots + chunkCapacity] holds per KV head
   * slotChunk[slots] (the chunk in each slot) then chunkSlot[chunkCapacity] (the slot of each chunk), -1 for
   * none; only chunks that were full (id < fullChunks) when fetched are recorded, so a partial chunk never hits.
   * sel i32 [nKvHeads, n], n <= slots: the selection, chunk ids in [0, chunkCapacity), distinct per head, or
   * with `map` i32 [nKvHeads, nMap] positions into it (chunk id = map[h, sel[h, s]]). Per head: a selected
   * chunk recorded in a slot below n is a hit and stays there; the misses, in selection order, take the slots
   * below n that no hit holds, in ascending order, evicting what those held. Returns ChunkCacheUpdate.
   */
  chunkCacheUpdate?(table: Tensor, sel: Tensor, p: ChunkCacheUpdateParams): ChunkCacheUpdate;
  /**
   * In place: rebuildKeys(a, b, idx, chunkSize, positionOffset, rope) written into rows 0..nSel*chunkSize of
   * every KV head of dst [nKvHeads, rows, headDim] (f32; other rows untouched): the rebuild and the scatter of
   * its output into the decode key buffer in one pass.
   */
  rebuildKeysInto?(dst: Tensor, a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): void;
  /**
   * Two-stage chunk selection's scoring in one call (ShadowKV's refine stage): the candidates' post-RoPE keys and
   * their landmarkScores. plan i32 [nKvHeads, 2, nCand]: per KV head, the candidates' chunk ids c_k, then where each
   * one's keys are, s_k: s_k >= 0 copies chunk s_k of `held` [nKvHeads, rows, headDim] (which must hold rebuildKeys'
   * rows of chunk c_k), s_k < 0 rebuilds chunk c_k (rebuildKeys with a, b, positionOffset, rope). Returns [keys,
   * scores]: keys f32 [nKvHeads, nCand*chunkSize, headDim] in candidate order, scores = landmarkScores(q, keys, nHeads,
   * scale) [nKvHeads, nCand*chunkSize]. The same numbers as those separate ops (the CPU and wasm backends: bit for
   * bit), without the gather/scatter passes and with one upload; callers fall back to the separate ops when absent.
   */
  candidateScores?(q: Tensor, a: Tensor, b: Tensor, held: Tensor, plan: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec, nHeads: number, scale: number): [Tensor, Tensor];
  /**
   * In place: for each KV head h and pair i of pairs i32 [nKvHeads, n, 2] = (from, to), chunk `from` of src
   * [nKvHeads, rowsSrc, headDim] is copied to chunk `to` of dst [nKvHeads, rowsDst, headDim] (f32, different
   * tensors); pairs with from < 0 are skipped (heads may copy different numbers of chunks). `to` distinct within a head.
   */
  copyChunkPairs?(dst: Tensor, src: Tensor, pairs: Tensor, chunkSize: number): void;
  /**
   * Submits the work queued so far without waiting (queued backends; absent or a no-op elsewhere): a caller
   * that has started a read and queued work that does not feed it calls this so the device runs that work
   * while the read travels.
   */
  flush?(): void;
}

/** Sizes of KernelBackend.chunkCacheUpdate. */
export interface ChunkCacheUpdateParams {
  /** Slots per KV head (table's first `slots` entries per head). */
  slots: number;
  /** Chunks below this id are complete: only they are recorded as resident (the others are fetched again). */
  fullChunks: number;
  /** Misses the `misses` tensor lists (the host reads it whole; more misses are counted but not listed). */
  capacity: number;
  /** i32 [nKvHeads, nMap]: sel holds positions into this map instead of chunk ids. */
  map?: Tensor;
}

/** Result of KernelBackend.chunkCacheUpdate, written on the device. */
export interface ChunkCacheUpdate {
  /** i32 [nKvHeads, slots]: chunk id of each slot after the update, slots n.. hold 0 (rebuildKeys / gatherChunks order). */
  order: Tensor;
  /**
   * i32 [nKvHeads + capacity]: the misses of each head, then one entry chunk id · slots + slot per miss, head by
   * head, each head's in selection order; entries past `capacity` are left out (the counts are complete).
   */
  misses: Tensor;
}

export type BackendFactory = () => KernelBackend | Promise<KernelBackend>;
