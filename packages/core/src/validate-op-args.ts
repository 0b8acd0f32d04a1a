// The argument contract of every KernelBackend op, checked on the host before any work is queued, so that
// every backend rejects the same bad calls with the same ShapeError. A backend first checks that the
// tensors are its own (and alive), then calls the op's check here, then checks its own limits (binding
// sizes, loop lengths), which differ per backend.
import type { AttentionParams, ChunkCacheUpdateParams, KernelBackend, RopeSpec } from './backend.js';
import { ShapeError } from './errors.js';
import { numel, shapeToString, type DType, type Shape, type Tensor } from './tensor.js';
import { assertSameShape, assertShape } from './validate.js';

function assertDType(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new ShapeError(op, `${name} has dtype ${t.dtype}, expected ${dtype}`);
}

function assertChunkSize(op: string, chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ShapeError(op, `chunkSize ${chunkSize} must be a positive integer`);
}

function assertKvHeads(op: string, nHeads: number, nKvHeads: number, source: string): void {
  if (!Number.isInteger(nKvHeads) || nKvHeads <= 0) throw new ShapeError(op, `nKvHeads ${nKvHeads} (${source}) must be a positive integer`);
  if (nHeads % nKvHeads !== 0) throw new ShapeError(op, `nHeads ${nHeads} is not a multiple of nKvHeads ${nKvHeads}`);
}

/**
 * Per-op argument checks of the KernelBackend contract, keyed by op name. Each throws a ShapeError naming
 * the op, the argument and the offending value, and returns the sizes the arguments imply. Float inputs
 * must be f32 (no backend computes in f16 yet); ids, positions and chunk indices i32.
 * `tokenIds` and `chunkIds` check values, for backends that hold the ids on the host.
 */
export const validateOpArgs = {
  /** A dtype the backend stores (its `capabilities.dtypes`); `op` is 'upload' or 'zeros'. */
  dtype(op: string, backend: Pick<KernelBackend, 'name' | 'capabilities'>, dtype: DType): void {
    const { dtypes } = backend.capabilities;
    if (dtypes.includes(dtype)) return;
    const instead = dtype !== 'i32' && dtypes.includes('f32') ? '; use f32' : '';
    throw new ShapeError(op, `the ${backend.name} backend stores ${dtypes.join(' and ')} tensors only, not ${dtype}${instead}`);
  },

  /**
   * upload: the data fills the shape exactly and its array type matches a dtype the backend stores (its
   * `capabilities.dtypes`, or a 16-bit weight dtype of `capabilities.weightDtypes`). A Uint16Array carries raw
   * f16/bf16 bits and needs dtype 'f16' or 'bf16'.
   */
  upload(backend: Pick<KernelBackend, 'name' | 'capabilities'>, data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype: DType): void {
    const n = numel(shape);
    if (data.length !== n) throw new ShapeError('upload', `data has ${data.length} elements, shape ${shapeToString(shape)} needs ${n}`);
    if (!backend.capabilities.weightDtypes?.includes(dtype)) validateOpArgs.dtype('upload', backend, dtype);
    if ((dtype === 'i32') !== data instanceof Int32Array) throw new ShapeError('upload', `dtype ${dtype} does not match ${data.constructor.name}`);
    if (data instanceof Uint16Array && dtype !== 'f16' && dtype !== 'bf16') {
      throw new ShapeError('upload', `a Uint16Array holds raw 16-bit float bits and needs dtype f16 or bf16, not ${dtype}`);
    }
  },

  /**
   * The weight operand of matmul (w) or embedding (table): f32, or a 16-bit dtype listed in the backend's
   * `capabilities.weightDtypes` (pass them; default f32 only).
   */
  weightDType(op: 'matmul' | 'embedding' | 'rmsNormMatmuls', name: string, t: Tensor, weightDtypes: readonly DType[] = ['f32']): void {
    if (t.dtype === 'f32' || (t.dtype !== 'i32' && weightDtypes.includes(t.dtype))) return;
    throw new ShapeError(op, `${name} has dtype ${t.dtype}, expected ${weightDtypes.filter((d) => d !== 'i32').join(' or ')} (the backend's weightDtypes)`);
  },

  /** table [vocab, hidden] (f32, or a dtype of `weightDtypes`), ids i32 [m]. */
  embedding(table: Tensor, ids: Tensor, weightDtypes?: readonly DType[]): { vocab: number; hidden: number; m: number } {
    assertShape('embedding', 'table', table, [-1, -1]);
    validateOpArgs.weightDType('embedding', 'table', table, weightDtypes);
    assertShape('embedding', 'ids', ids, [-1], 'i32');
    return { vocab: table.shape[0], hidden: table.shape[1], m: ids.shape[0] };
  },

  /** embedding's values: every id in [0, vocab). */
  tokenIds(ids: ArrayLike<number>, vocab: number): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < vocab)) throw new ShapeError('embedding', `token id ${id} at index ${i} is outside the vocabulary [0, ${vocab})`);
    }
  },

  /** x [m, k] f32, w [n, k] (f32, or a dtype of `weightDtypes`). */
  matmul(x: Tensor, w: Tensor, weightDtypes?: readonly DType[]): { m: number; k: number; n: number } {
    assertShape('matmul', 'x', x, [-1, -1], 'f32');
    assertShape('matmul', 'w', w, [-1, x.shape[1]]);
    validateOpArgs.weightDType('matmul', 'w', w, weightDtypes);
    return { m: x.shape[0], k: x.shape[1], n: w.shape[0] };
  },

  /** x [m, d], w [d]. */
  rmsNorm(x: Tensor, w: Tensor): { m: number; d: number } {
    assertShape('rmsNorm', 'x', x, [-1, -1], 'f32');
    const [m, d] = x.shape;
    assertShape('rmsNorm', 'w', w, [d], 'f32');
    return { m, d };
  },

  /** rmsNormMatmuls: x [m, k] f32, norm f32 [k], ws non-empty, each [n_i, k] of one weight dtype. */
  rmsNormMatmuls(x: Tensor, norm: Tensor, ws: readonly Tensor[], weightDtypes?: readonly DType[]): { m: number; k: number; ns: number[] } {
    const { m, d: k } = validateOpArgs.rmsNorm(x, norm);
    if (ws.length === 0) throw new ShapeError('rmsNormMatmuls', 'ws is empty; pass at least one weight');
    const ns = ws.map((w, i) => {
      assertShape('rmsNormMatmuls', `ws[${i}]`, w, [-1, k]);
      validateOpArgs.weightDType('rmsNormMatmuls', `ws[${i}]`, w, weightDtypes);
      if (w.dtype !== ws[0].dtype) throw new ShapeError('rmsNormMatmuls', `ws[${i}] has dtype ${w.dtype} but ws[0] ${ws[0].dtype}; pass weights of one dtype`);
      return w.shape[0];
    });
    return { m, k, ns };
  },

  /** add and swiglu: two f32 tensors of one shape. */
  elementwise(op: 'add' | 'swiglu', a: Tensor, b: Tensor): void {
    assertSameShape(op, a, b);
    assertDType(op, 'a', a, 'f32');
    assertDType(op, 'b', b, 'f32');
  },

  /** x [m, nHeads*headDim], positions i32 [m]. */
  rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): { m: number; headDim: number } {
    const headDim = rope.headDim;
    assertShape('rope', 'x', x, [-1, nHeads * headDim], 'f32');
    const m = x.shape[0];
    assertShape('rope', 'positions', positions, [m], 'i32');
    return { m, headDim };
  },

  /** x [..., n] f32: `rows` rows of n (a scalar is one row of one). */
  softmax(x: Tensor): { rows: number; n: number } {
    assertDType('softmax', 'x', x, 'f32');
    if (x.shape.length === 0) return { rows: 1, n: 1 };
    return { rows: numel(x.shape.slice(0, -1)), n: x.shape[x.shape.length - 1] };
  },

  /** cache [nKvHeads, capacity, headDim], x [m, nKvHeads*headDim], rows start..start+m inside the capacity. */
  writeKv(cache: Tensor, x: Tensor, start: number): { nKvHeads: number; capacity: number; headDim: number; m: number } {
    assertShape('writeKv', 'cache', cache, [-1, -1, -1], 'f32');
    const [nKvHeads, capacity, headDim] = cache.shape;
    assertShape('writeKv', 'x', x, [-1, nKvHeads * headDim], 'f32');
    const m = x.shape[0];
    if (!Number.isInteger(start) || start < 0) throw new ShapeError('writeKv', `start ${start} must be an integer >= 0`);
    if (start + m > capacity) throw new ShapeError('writeKv', `rows ${start}..${start + m} exceed the cache capacity ${capacity}`);
    return { nKvHeads, capacity, headDim, m };
  },

  /** dst [rows, n], src [m, n] f32, rows start..start+m inside dst. */
  writeRows(dst: Tensor, src: Tensor, start: number): { rows: number; n: number; m: number } {
    assertShape('writeRows', 'dst', dst, [-1, -1], 'f32');
    const [rows, n] = dst.shape;
    assertShape('writeRows', 'src', src, [-1, n], 'f32');
    const m = src.shape[0];
    if (!Number.isInteger(start) || start < 0) throw new ShapeError('writeRows', `start ${start} must be an integer >= 0`);
    if (start + m > rows) throw new ShapeError('writeRows', `rows ${start}..${start + m} exceed dst's ${rows} rows`);
    return { rows, n, m };
  },

  /** q [m, nHeads*headDim], k and v [nKvHeads, capacity, headDim] with kvLen <= capacity. */
  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): { m: number; capacity: number; group: number } {
    const { nHeads, nKvHeads, headDim, kvLen } = p;
    assertKvHeads('attention', nHeads, nKvHeads, 'AttentionParams');
    assertShape('attention', 'q', q, [-1, nHeads * headDim], 'f32');
    assertShape('attention', 'k', k, [nKvHeads, -1, headDim], 'f32');
    assertSameShape('attention', k, v);
    assertDType('attention', 'v', v, 'f32');
    const capacity = k.shape[1];
    if (kvLen > capacity) throw new ShapeError('attention', `kvLen ${kvLen} exceeds the ${capacity} rows of k`);
    if (!Number.isInteger(kvLen) || kvLen < 0) throw new ShapeError('attention', `kvLen ${kvLen} must be a non-negative integer`);
    if (p.causal && !Number.isInteger(p.queryOffset)) throw new ShapeError('attention', `queryOffset ${p.queryOffset} must be an integer`);
    return { m: q.shape[0], capacity, group: nHeads / nKvHeads };
  },

  /** src [nKvHeads, rows, headDim], idx i32 [nKvHeads, nSel]. */
  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): { nKvHeads: number; rows: number; headDim: number; nSel: number } {
    assertShape('gatherChunks', 'src', src, [-1, -1, -1], 'f32');
    const [nKvHeads, rows, headDim] = src.shape;
    assertShape('gatherChunks', 'idx', idx, [nKvHeads, -1], 'i32');
    assertChunkSize('gatherChunks', chunkSize);
    return { nKvHeads, rows, headDim, nSel: idx.shape[1] };
  },

  /** dst [nKvHeads, rows, headDim], src [nKvHeads, nSel*chunkSize, headDim], idx i32 [nKvHeads, nSel]. */
  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): { nKvHeads: number; rows: number; headDim: number; nSel: number } {
    assertShape('scatterChunks', 'dst', dst, [-1, -1, -1], 'f32');
    const [nKvHeads, rows, headDim] = dst.shape;
    assertShape('scatterChunks', 'idx', idx, [nKvHeads, -1], 'i32');
    assertChunkSize('scatterChunks', chunkSize);
    const nSel = idx.shape[1];
    assertShape('scatterChunks', 'src', src, [nKvHeads, nSel * chunkSize, headDim], 'f32');
    return { nKvHeads, rows, headDim, nSel };
  },

  /** a [seqLen, rank], b [nKvHeads, rank, headDim], idx i32 [nKvHeads, nSel], an integer positionOffset. */
  rebuildKeys(
    a: Tensor,
    b: Tensor,
    idx: Tensor,
    chunkSize: number,
    positionOffset: number,
    rope: RopeSpec,
  ): { seqLen: number; rank: number; nKvHeads: number; headDim: number; nSel: number } {
    assertShape('rebuildKeys', 'a', a, [-1, -1], 'f32');
    const [seqLen, rank] = a.shape;
    const headDim = rope.headDim;
    assertShape('rebuildKeys', 'b', b, [-1, rank, headDim], 'f32');
    const nKvHeads = b.shape[0];
    assertShape('rebuildKeys', 'idx', idx, [nKvHeads, -1], 'i32');
    assertChunkSize('rebuildKeys', chunkSize);
    if (!Number.isInteger(positionOffset)) throw new ShapeError('rebuildKeys', `positionOffset ${positionOffset} must be an integer`);
    return { seqLen, rank, nKvHeads, headDim, nSel: idx.shape[1] };
  },

  /**
   * The values of a chunk-id tensor of gatherChunks, scatterChunks or rebuildKeys: every id picks a whole
   * chunk of the `rows` rows per KV head of `name` (src, dst or a). ids [nKvHeads, nSel] row-major.
   */
  chunkIds(op: string, ids: ArrayLike<number>, nSel: number, chunkSize: number, rows: number, name: string): void {
    const nChunks = Math.floor(rows / chunkSize);
    for (let i = 0; i < ids.length; i++) {
      const c = ids[i];
      if (c >= 0 && c < nChunks) continue;
      throw new ShapeError(
        op,
        `chunk id ${c} at idx[${Math.floor(i / nSel)}, ${i % nSel}] (rows ${c * chunkSize}..${(c + 1) * chunkSize}) is outside [0, ${nChunks}): ${name} holds ${rows} rows, ${nChunks} whole chunks of ${chunkSize}`,
      );
    }
  },

  /** q [nHeads*headDim] (any shape of that size), landmarks [nKvHeads, nChunks, headDim]. */
  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number): { nKvHeads: number; nChunks: number; headDim: number; group: number } {
    assertShape('landmarkScores', 'landmarks', landmarks, [-1, -1, -1], 'f32');
    const [nKvHeads, nChunks, headDim] = landmarks.shape;
    if (numel(q.shape) !== nHeads * headDim) {
      throw new ShapeError('landmarkScores', `q has ${numel(q.shape)} elements, expected nHeads*headDim = ${nHeads * headDim}`);
    }
    assertDType('landmarkScores', 'q', q, 'f32');
    assertKvHeads('landmarkScores', nHeads, nKvHeads, 'dim 0 of landmarks');
    return { nKvHeads, nChunks, headDim, group: nHeads / nKvHeads };
  },

  /** x [rows, n], k an integer in [0, n]. */
  topK(x: Tensor, k: number): { rows: number; n: number } {
    assertShape('topK', 'x', x, [-1, -1], 'f32');
    const [rows, n] = x.shape;
    if (!Number.isInteger(k) || k < 0 || k > n) throw new ShapeError('topK', `k = ${k} must be an integer in [0, ${n}]`);
    return { rows, n };
  },

  /** rebuildKeys' arguments, and dst f32 [nKvHeads, rows >= nSel*chunkSize, headDim]. */
  rebuildKeysInto(
    dst: Tensor,
    a: Tensor,
    b: Tensor,
    idx: Tensor,
    chunkSize: number,
    positionOffset: number,
    rope: RopeSpec,
  ): { seqLen: number; rank: number; nKvHeads: number; headDim: number; nSel: number; rows: number } {
    const s = validateOpArgs.rebuildKeys(a, b, idx, chunkSize, positionOffset, rope);
    assertShape('rebuildKeysInto', 'dst', dst, [s.nKvHeads, -1, s.headDim], 'f32');
    const rows = dst.shape[1];
    if (rows < s.nSel * chunkSize) throw new ShapeError('rebuildKeysInto', `dst holds ${rows} rows per head, fewer than the ${s.nSel} x ${chunkSize} rebuilt ones`);
    return { ...s, rows };
  },

  /**
   * a, b as rebuildKeys, held f32 [nKvHeads, rows, headDim], plan i32 [nKvHeads, 2, nCand], q of nHeads*headDim
   * elements; the plan's values are checked by candidatePlan.
   */
  candidateScores(
    q: Tensor,
    a: Tensor,
    b: Tensor,
    held: Tensor,
    plan: Tensor,
    chunkSize: number,
    positionOffset: number,
    rope: RopeSpec,
    nHeads: number,
  ): { seqLen: number; rank: number; nKvHeads: number; headDim: number; nCand: number; rows: number } {
    const op = 'candidateScores';
    assertShape(op, 'a', a, [-1, -1], 'f32');
    const [seqLen, rank] = a.shape;
    const headDim = rope.headDim;
    assertShape(op, 'b', b, [-1, rank, headDim], 'f32');
    const nKvHeads = b.shape[0];
    assertShape(op, 'held', held, [nKvHeads, -1, headDim], 'f32');
    assertShape(op, 'plan', plan, [nKvHeads, 2, -1], 'i32');
    assertChunkSize(op, chunkSize);
    if (!Number.isInteger(positionOffset)) throw new ShapeError(op, `positionOffset ${positionOffset} must be an integer`);
    if (numel(q.shape) !== nHeads * headDim) throw new ShapeError(op, `q has ${numel(q.shape)} elements, expected nHeads*headDim = ${nHeads * headDim}`);
    assertDType(op, 'q', q, 'f32');
    assertKvHeads(op, nHeads, nKvHeads, 'dim 0 of b');
    return { seqLen, rank, nKvHeads, headDim, nCand: plan.shape[2], rows: held.shape[1] };
  },

  /** The values of a candidateScores plan [nKvHeads, 2, nCand]: chunk ids whole chunks of a's rows, slots whole chunks of held's. */
  candidatePlan(plan: ArrayLike<number>, nKvHeads: number, nCand: number, chunkSize: number, seqLen: number, heldRows: number): void {
    const nChunks = Math.floor(seqLen / chunkSize);
    const nSlots = Math.floor(heldRows / chunkSize);
    for (let h = 0; h < nKvHeads; h++) {
      for (let k = 0; k < nCand; k++) {
        const c = plan[(2 * h) * nCand + k];
        const s = plan[(2 * h + 1) * nCand + k];
        if (!(c >= 0 && c < nChunks)) throw new ShapeError('candidateScores', `chunk id ${c} at plan[${h}, 0, ${k}] is outside [0, ${nChunks}): a holds ${seqLen} rows, ${nChunks} whole chunks of ${chunkSize}`);
        if (s >= nSlots) throw new ShapeError('candidateScores', `slot ${s} at plan[${h}, 1, ${k}] is outside [0, ${nSlots}): held holds ${heldRows} rows, ${nSlots} whole chunks of ${chunkSize}`);
      }
    }
  },

  /** dst, src f32 [nKvHeads, rows, headDim] (different tensors), pairs i32 [nKvHeads, n, 2]; values by chunkPairs. */
  copyChunkPairs(dst: Tensor, src: Tensor, pairs: Tensor, chunkSize: number): { nKvHeads: number; rowsDst: number; rowsSrc: number; headDim: number; n: number } {
    const op = 'copyChunkPairs';
    assertShape(op, 'dst', dst, [-1, -1, -1], 'f32');
    const [nKvHeads, rowsDst, headDim] = dst.shape;
    assertShape(op, 'src', src, [nKvHeads, -1, headDim], 'f32');
    assertShape(op, 'pairs', pairs, [nKvHeads, -1, 2], 'i32');
    assertChunkSize(op, chunkSize);
    if (dst === src) throw new ShapeError(op, 'dst and src must be different tensors');
    return { nKvHeads, rowsDst, rowsSrc: src.shape[1], headDim, n: pairs.shape[1] };
  },

  /** The values of copyChunkPairs' pairs [nKvHeads, n, 2]: from < 0 (skipped) or a whole chunk of src, to a whole chunk of dst, distinct per head. */
  chunkPairs(pairs: ArrayLike<number>, nKvHeads: number, n: number, chunkSize: number, rowsSrc: number, rowsDst: number): void {
    const nSrc = Math.floor(rowsSrc / chunkSize);
    const nDst = Math.floor(rowsDst / chunkSize);
    const tos = new Int32Array(n); // the written chunks of one head, sorted to find a repeat
    for (let h = 0; h < nKvHeads; h++) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const from = pairs[(h * n + i) * 2];
        const to = pairs[(h * n + i) * 2 + 1];
        if (from < 0) continue;
        if (from >= nSrc) throw new ShapeError('copyChunkPairs', `from ${from} at pairs[${h}, ${i}] is outside [0, ${nSrc}): src holds ${rowsSrc} rows, ${nSrc} whole chunks of ${chunkSize}`);
        if (!(to >= 0 && to < nDst)) throw new ShapeError('copyChunkPairs', `to ${to} at pairs[${h}, ${i}] is outside [0, ${nDst}): dst holds ${rowsDst} rows, ${nDst} whole chunks of ${chunkSize}`);
        tos[m++] = to;
      }
      const sorted = tos.subarray(0, m).sort();
      for (let i = 1; i < m; i++) if (sorted[i] === sorted[i - 1]) throw new ShapeError('copyChunkPairs', `chunk ${sorted[i]} of dst is written twice for head ${h}`);
    }
  },

  /** table i32 [nKvHeads, slots + chunkCapacity], sel i32 [nKvHeads, n <= slots], map i32 [nKvHeads, nMap] if given. */
  chunkCacheUpdate(table: Tensor, sel: Tensor, p: ChunkCacheUpdateParams): { nKvHeads: number; n: number; chunkCapacity: number; nMap: number } {
    const op = 'chunkCacheUpdate';
    assertShape(op, 'table', table, [-1, -1], 'i32');
    const [nKvHeads, width] = table.shape;
    assertShape(op, 'sel', sel, [nKvHeads, -1], 'i32');
    const n = sel.shape[1];
    const { slots, fullChunks, capacity } = p;
    if (!Number.isInteger(slots) || slots < 1 || slots >= width) throw new ShapeError(op, `slots ${slots} must be an integer in [1, ${width}) (table holds slots + chunkCapacity entries per head)`);
    if (n > slots) throw new ShapeError(op, `sel selects ${n} chunks per head, more than the ${slots} slots`);
    if (!Number.isInteger(fullChunks) || fullChunks < 0) throw new ShapeError(op, `fullChunks ${fullChunks} must be a non-negative integer`);
    if (!Number.isInteger(capacity) || capacity < 0) throw new ShapeError(op, `capacity ${capacity} must be a non-negative integer`);
    if (p.map) assertShape(op, 'map', p.map, [nKvHeads, -1], 'i32');
    // A miss is listed as one i32, chunk id · slots + slot.
    if ((width - slots) * slots > 2 ** 31 - 1) throw new ShapeError(op, `chunkCapacity ${width - slots} x slots ${slots} must stay below 2^31 (misses are listed as chunk·slots + slot); use fewer slots or chunks`);
    return { nKvHeads, n, chunkCapacity: width - slots, nMap: p.map ? p.map.shape[1] : 0 };
  },
};
