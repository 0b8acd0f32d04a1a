// The reference backend: every op of KernelBackend in plain TypeScript over Float32Array.
// Other backends are tested against this file, so clarity of semantics beats cleverness here.
import {
  assertShape,
  BackendDestroyedError,
  f32ToBf16,
  f32ToF16,
  halfToF32,
  numel,
  ShapeError,
  validateOpArgs,
  type AttentionParams,
  type ChunkCacheUpdate,
  type ChunkCacheUpdateParams,
  type DType,
  type KernelBackend,
  type RopeSpec,
  type Shape,
  type Tensor,
} from '@shadowkv/core';
import { attentionInto } from './attention.js';
import { chunkCacheUpdateInto } from './chunk-cache-update.js';
import { CpuTensor, f32, halfBits, i32 } from './cpu-tensor.js';
import { dot, matmulHalfInto, matmulInto } from './matmul.js';
import { ropeInPlace } from './rope-table.js';
import { topKRow } from './top-k.js';


function newF32(shape: Shape): CpuTensor {
  return new CpuTensor([...shape], 'f32', new Float32Array(numel(shape)));
}

export class CpuBackend implements KernelBackend {
  readonly name = 'cpu';
  readonly capabilities = { dtypes: ['f32', 'i32'] as const, weightDtypes: ['f32', 'f16', 'bf16'] as const, maxTensorBytes: 2 ** 31 - 1 };
  private destroyed = false;

  /** Throws after destroy(), and for tensors of another backend. */
  private checkCpu(op: string, ...ts: Tensor[]): void {
    if (this.destroyed) throw new BackendDestroyedError(this.name, op);
    for (const t of ts) {
      if (t.backend !== 'cpu') throw new ShapeError(op, `tensor from backend "${t.backend}" passed to the cpu backend`);
    }
  }

  /** Host arrays are garbage-collected, so there is nothing to free: afterwards every op, read and upload throws. */
  destroy(): void {
    this.destroyed = true;
  }

  upload(
    data: Float32Array | Int32Array | Uint16Array,
    shape: Shape,
    dtype: DType = data instanceof Int32Array ? 'i32' : 'f32',
  ): Tensor {
    this.checkCpu('upload');
    validateOpArgs.upload(this, data, shape, dtype);
    // 16-bit weights are kept as their raw bits (given as bits, or narrowed here from f32, round to nearest even).
    if (dtype === 'bf16' || dtype === 'f16') {
      const bits = data instanceof Uint16Array ? data.slice() : dtype === 'bf16' ? f32ToBf16(data as Float32Array) : f32ToF16(data as Float32Array);
      return new CpuTensor([...shape], dtype, bits);
    }
    return new CpuTensor([...shape], dtype, data.slice());
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    this.checkCpu('zeros');
    validateOpArgs.dtype('zeros', this, dtype);
    return new CpuTensor([...shape], dtype, dtype === 'i32' ? new Int32Array(numel(shape)) : new Float32Array(numel(shape)));
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    this.checkCpu('read', t);
    return this.readSync(t).slice();
  }

  /** Synchronous read for code that knows it runs on the CPU backend (tests, host-side policies). */
  readSync(t: Tensor): Float32Array | Int32Array {
    this.checkCpu('readSync', t);
    const half = halfBits(t);
    // 16-bit weights widen (exactly) to a fresh array; other tensors return their own storage.
    if (half) return halfToF32(half.dtype, half.bits);
    return (t as CpuTensor).data as Float32Array | Int32Array;
  }

  dispose(_t: Tensor): void {
    // Host arrays are garbage-collected.
  }

  async sync(): Promise<void> {
    this.checkCpu('sync');
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    this.checkCpu('embedding', table, ids);
    const { vocab, hidden, m } = validateOpArgs.embedding(table, ids, this.capabilities.weightDtypes);
    const idv = i32(ids);
    validateOpArgs.tokenIds(idv, vocab);
    const out = newF32([m, hidden]);
    const o = out.data as Float32Array;
    const half = halfBits(table);
    for (let i = 0; i < m; i++) {
      const id = idv[i];
      // A 16-bit table widens only the rows looked up.
      if (half) halfToF32(half.dtype, half.bits.subarray(id * hidden, (id + 1) * hidden), o.subarray(i * hidden, (i + 1) * hidden));
      else o.set(f32(table).subarray(id * hidden, (id + 1) * hidden), i * hidden);
    }
    return out;
  }

  matmul(x: Tensor, w: Tensor): Tensor {
    this.checkCpu('matmul', x, w);
    const { m, k, n } = validateOpArgs.matmul(x, w, this.capabilities.weightDtypes);
    const out = newF32([m, n]);
    const half = halfBits(w);
    // 16-bit weights are widened block by block (exact) and accumulated exactly as f32 weights would be.
    if (half) matmulHalfInto(out.data as Float32Array, f32(x), half.bits, (src, dst) => halfToF32(half.dtype, src, dst), m, n, k);
    else matmulInto(out.data as Float32Array, f32(x), f32(w), m, n, k);
    return out;
  }

  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
    this.checkCpu('rmsNorm', x, w);
    const { m, d } = validateOpArgs.rmsNorm(x, w);
    const xv = f32(x);
    const wv = f32(w);
    const out = newF32([m, d]);
    const o = out.data as Float32Array;
    for (let i = 0; i < m; i++) {
      const base = i * d;
      let ss = 0;
      for (let c = 0; c < d; c++) ss += xv[base + c] * xv[base + c];
      const r = 1 / Math.sqrt(ss / d + eps);
      for (let c = 0; c < d; c++) o[base + c] = xv[base + c] * r * wv[c];
    }
    return out;
  }

  /** The optional fused op, specified as exactly the separate ops: add(residual, matmul(x, w)). */
  matmulAdd(x: Tensor, w: Tensor, residual: Tensor): Tensor {
    this.checkCpu('matmulAdd', x, w);
    this.checkCpu('matmulAdd', residual);
    const { m, n } = validateOpArgs.matmul(x, w, this.capabilities.weightDtypes);
    assertShape('matmulAdd', 'residual', residual, [m, n], 'f32');
    return this.add(residual, this.matmul(x, w));
  }

  /** The optional fused op, specified as exactly the separate ops: swiglu(matmul(x, wGate), matmul(x, wUp)). */
  matmulSwiglu(x: Tensor, wGate: Tensor, wUp: Tensor): Tensor {
    this.checkCpu('matmulSwiglu', x, wGate);
    this.checkCpu('matmulSwiglu', wUp);
    const { k, n } = validateOpArgs.matmul(x, wGate, this.capabilities.weightDtypes);
    assertShape('matmulSwiglu', 'wUp', wUp, [n, k], wGate.dtype);
    return this.swiglu(this.matmul(x, wGate), this.matmul(x, wUp));
  }

  /** The optional fused op, specified as exactly the separate ops: ws.map((w) => matmul(rmsNorm(x, norm, eps), w)). */
  rmsNormMatmuls(x: Tensor, norm: Tensor, eps: number, ws: readonly Tensor[]): Tensor[] {
    this.checkCpu('rmsNormMatmuls', x, norm, ...ws);
    validateOpArgs.rmsNormMatmuls(x, norm, ws, this.capabilities.weightDtypes);
    const h = this.rmsNorm(x, norm, eps);
    return ws.map((w) => this.matmul(h, w));
  }

  /** The optional fused op, specified as exactly the separate ops: matmulSwiglu(rmsNorm(x, norm, eps), wGate, wUp). */
  rmsNormMatmulSwiglu(x: Tensor, norm: Tensor, eps: number, wGate: Tensor, wUp: Tensor): Tensor {
    this.checkCpu('rmsNormMatmulSwiglu', x, norm, wGate, wUp);
    return this.matmulSwiglu(this.rmsNorm(x, norm, eps), wGate, wUp);
  }

  /** The optional fused op, specified as exactly the separate ops: the two ropes. */
  ropeQk(q: Tensor, k: Tensor, positions: Tensor, nHeads: number, nKvHeads: number, rope: RopeSpec): [Tensor, Tensor] {
    this.checkCpu('ropeQk', q, k, positions);
    validateOpArgs.rope(k, positions, nKvHeads, rope);
    return [this.rope(q, positions, nHeads, rope), this.rope(k, positions, nKvHeads, rope)];
  }

  /** The optional fused op, specified as exactly the separate ops: the two writeKv calls. */
  writeKvPair(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, start: number): void {
    this.checkCpu('writeKvPair', kCache, vCache, k, v);
    validateOpArgs.writeKv(kCache, k, start);
    validateOpArgs.writeKv(vCache, v, start);
    this.writeKv(kCache, k, start);
    this.writeKv(vCache, v, start);
  }

  /** The optional row copy, specified here: dst rows start..start+m become src's rows, exactly. */
  writeRows(dst: Tensor, src: Tensor, start: number): void {
    this.checkCpu('writeRows', dst, src);
    const { n } = validateOpArgs.writeRows(dst, src, start);
    f32(dst).set(f32(src), start * n);
  }

  add(a: Tensor, b: Tensor): Tensor {
    this.checkCpu('add', a, b);
    validateOpArgs.elementwise('add', a, b);
    const av = f32(a);
    const bv = f32(b);
    const out = newF32(a.shape);
    const o = out.data as Float32Array;
    for (let i = 0; i < av.length; i++) o[i] = av[i] + bv[i];
    return out;
  }

  swiglu(gate: Tensor, up: Tensor): Tensor {
    this.checkCpu('swiglu', gate, up);
    validateOpArgs.elementwise('swiglu', gate, up);
    const g = f32(gate);
    const u = f32(up);
    const out = newF32(gate.shape);
    const o = out.data as Float32Array;
    for (let i = 0; i < g.length; i++) {
      const x = g[i];
      o[i] = (x / (1 + Math.exp(-x))) * u[i];
    }
    return out;
  }

  rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
    this.checkCpu('rope', x, positions);
    const { m, headDim: d } = validateOpArgs.rope(x, positions, nHeads, rope);
    const pos = i32(positions);
    const out = new CpuTensor([...x.shape], 'f32', f32(x).slice());
    const o = out.data as Float32Array;
    for (let i = 0; i < m; i++) {
      for (let h = 0; h < nHeads; h++) ropeInPlace(o, (i * nHeads + h) * d, pos[i], rope);
    }
    return out;
  }

  softmax(x: Tensor): Tensor {
    this.checkCpu('softmax', x);
    const { rows, n } = validateOpArgs.softmax(x);
    const xv = f32(x);
    const out = newF32(x.shape);
    const o = out.data as Float32Array;
    for (let r = 0; r < rows; r++) softmaxRow(xv, o, r * n, n);
    return out;
  }

  writeKv(cache: Tensor, x: Tensor, start: number): void {
    this.checkCpu('writeKv', cache, x);
    const { nKvHeads: nKv, capacity: cap, headDim: d, m } = validateOpArgs.writeKv(cache, x, start);
    const c = f32(cache);
    const xv = f32(x);
    for (let i = 0; i < m; i++) {
      for (let g = 0; g < nKv; g++) {
        c.set(xv.subarray((i * nKv + g) * d, (i * nKv + g + 1) * d), (g * cap + start + i) * d);
      }
    }
  }

  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
    this.checkCpu('attention', q, k, v);
    const { m, capacity } = validateOpArgs.attention(q, k, v, p);
    const out = newF32([m, p.nHeads * p.headDim]);
    attentionInto(out.data as Float32Array, f32(q), f32(k), f32(v), m, capacity, p);
    return out;
  }

  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor {
    this.checkCpu('gatherChunks', src, idx);
    const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.gatherChunks(src, idx, chunkSize);
    const iv = i32(idx);
    validateOpArgs.chunkIds('gatherChunks', iv, nSel, chunkSize, rows, 'src');
    const sv = f32(src);
    const out = newF32([nKv, nSel * chunkSize, d]);
    const o = out.data as Float32Array;
    const chunkFloats = chunkSize * d;
    for (let g = 0; g < nKv; g++) {
      for (let s = 0; s < nSel; s++) {
        const c = iv[g * nSel + s];
        const from = (g * rows + c * chunkSize) * d;
        o.set(sv.subarray(from, from + chunkFloats), (g * nSel + s) * chunkFloats);
      }
    }
    return out;
  }

  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void {
    this.checkCpu('scatterChunks', dst, src, idx);
    const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.scatterChunks(dst, src, idx, chunkSize);
    const iv = i32(idx);
    validateOpArgs.chunkIds('scatterChunks', iv, nSel, chunkSize, rows, 'dst');
    const sv = f32(src);
    const dv = f32(dst);
    const chunkFloats = chunkSize * d;
    for (let g = 0; g < nKv; g++) {
      for (let s = 0; s < nSel; s++) {
        const c = iv[g * nSel + s];
        const from = (g * nSel + s) * chunkFloats;
        dv.set(sv.subarray(from, from + chunkFloats), (g * rows + c * chunkSize) * d);
      }
    }
  }

  rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): Tensor {
    this.checkCpu('rebuildKeys', a, b, idx);
    const { seqLen, rank, nKvHeads: nKv, headDim: d, nSel } = validateOpArgs.rebuildKeys(a, b, idx, chunkSize, positionOffset, rope);
    const av = f32(a);
    const iv = i32(idx);
    validateOpArgs.chunkIds('rebuildKeys', iv, nSel, chunkSize, seqLen, 'a');
    const bt = transposedHeads(b, nKv, rank, d); // [nKvHeads, headDim, rank]
    const n = nSel * chunkSize;
    const out = newF32([nKv, n, d]);
    const o = out.data as Float32Array;
    for (let g = 0; g < nKv; g++) {
      const keys = o.subarray(g * n * d, (g + 1) * n * d);
      rebuildHeadInto(keys, av, bt.subarray(g * d * rank, (g + 1) * d * rank), iv.subarray(g * nSel, (g + 1) * nSel), chunkSize, positionOffset, rope);
    }
    return out;
  }

  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor {
    this.checkCpu('landmarkScores', q, landmarks);
    const { nKvHeads: nKv, nChunks, headDim: d, group } = validateOpArgs.landmarkScores(q, landmarks, nHeads);
    const qv = f32(q);
    const lv = f32(landmarks);
    const out = newF32([nKv, nChunks]);
    const o = out.data as Float32Array;
    o.fill(-Infinity);
    const row = new Float32Array(nChunks);
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / group);
      for (let c = 0; c < nChunks; c++) row[c] = dot(qv, h * d, lv, (g * nChunks + c) * d, d) * scale;
      softmaxRow(row, row, 0, nChunks);
      for (let c = 0; c < nChunks; c++) if (row[c] > o[g * nChunks + c]) o[g * nChunks + c] = row[c];
    }
    return out;
  }

  topK(x: Tensor, k: number): Tensor {
    this.checkCpu('topK', x);
    const { rows, n } = validateOpArgs.topK(x, k);
    const xv = f32(x);
    const out = new CpuTensor([rows, k], 'i32', new Int32Array(rows * k));
    const o = out.data as Int32Array;
    const scratch = new Float32Array(n);
    for (let r = 0; r < rows; r++) topKRow(xv, r * n, n, k, o, r * k, scratch);
    return out;
  }

  /** rebuildKeys, then its rows copied into the first rows of each head of dst. */
  rebuildKeysInto(dst: Tensor, a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): void {
    this.checkCpu('rebuildKeysInto', dst, a, b, idx);
    const { nKvHeads: nKv, headDim: d, nSel, rows } = validateOpArgs.rebuildKeysInto(dst, a, b, idx, chunkSize, positionOffset, rope);
    const keys = f32(this.rebuildKeys(a, b, idx, chunkSize, positionOffset, rope));
    const dv = f32(dst);
    const n = nSel * chunkSize * d;
    for (let g = 0; g < nKv; g++) dv.set(keys.subarray(g * n, (g + 1) * n), g * rows * d);
  }

  /**
   * The reference of the fused refine scoring: per KV head the held candidates' chunks copied from `held`, the others
   * rebuilt as rebuildKeys rebuilds them (each row's sums do not depend on the other rows), then landmarkScores.
   */
  candidateScores(q: Tensor, a: Tensor, b: Tensor, held: Tensor, plan: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec, nHeads: number, scale: number): [Tensor, Tensor] {
    this.checkCpu('candidateScores', q, a, b, held, plan);
    const { seqLen, rank, nKvHeads: nKv, headDim: d, nCand, rows } = validateOpArgs.candidateScores(q, a, b, held, plan, chunkSize, positionOffset, rope, nHeads);
    const pv = i32(plan);
    validateOpArgs.candidatePlan(pv, nKv, nCand, chunkSize, seqLen, rows);
    const av = f32(a);
    const hv = f32(held);
    const bt = transposedHeads(b, nKv, rank, d);
    const cf = chunkSize * d;
    const keys = newF32([nKv, nCand * chunkSize, d]);
    const kv = keys.data as Float32Array;
    for (let g = 0; g < nKv; g++) {
      const ids = pv.subarray(2 * g * nCand, (2 * g + 1) * nCand);
      const slots = pv.subarray((2 * g + 1) * nCand, (2 * g + 2) * nCand);
      const fresh: number[] = [];
      for (let k = 0; k < nCand; k++) {
        const from = (g * rows + slots[k] * chunkSize) * d;
        if (slots[k] >= 0) kv.set(hv.subarray(from, from + cf), (g * nCand + k) * cf);
        else fresh.push(k);
      }
      if (fresh.length === 0) continue;
      const rebuilt = new Float32Array(fresh.length * cf);
      rebuildHeadInto(rebuilt, av, bt.subarray(g * d * rank, (g + 1) * d * rank), Int32Array.from(fresh, (k) => ids[k]), chunkSize, positionOffset, rope);
      fresh.forEach((k, i) => kv.set(rebuilt.subarray(i * cf, (i + 1) * cf), (g * nCand + k) * cf));
    }
    return [keys, this.landmarkScores(q, keys, nHeads, scale)];
  }

  /** Chunk copies from src to dst per (from, to) pair; from < 0 skips. */
  copyChunkPairs(dst: Tensor, src: Tensor, pairs: Tensor, chunkSize: number): void {
    this.checkCpu('copyChunkPairs', dst, src, pairs);
    const { nKvHeads: nKv, rowsDst, rowsSrc, headDim: d, n } = validateOpArgs.copyChunkPairs(dst, src, pairs, chunkSize);
    const pv = i32(pairs);
    validateOpArgs.chunkPairs(pv, nKv, n, chunkSize, rowsSrc, rowsDst);
    const sv = f32(src);
    const dv = f32(dst);
    const cf = chunkSize * d;
    for (let g = 0; g < nKv; g++) {
      for (let i = 0; i < n; i++) {
        const from = pv[(g * n + i) * 2];
        if (from < 0) continue;
        const at = (g * rowsSrc + from * chunkSize) * d;
        dv.set(sv.subarray(at, at + cf), (g * rowsDst + pv[(g * n + i) * 2 + 1] * chunkSize) * d);
      }
    }
  }

  /** Nothing is queued on the CPU: ops have run when they return. */
  flush(): void {
    this.checkCpu('flush');
  }

  /** ChunkCache's bookkeeping over the table (chunk-cache-update.ts); the reference of the device-side versions. */
  chunkCacheUpdate(table: Tensor, sel: Tensor, p: ChunkCacheUpdateParams): ChunkCacheUpdate {
    this.checkCpu('chunkCacheUpdate', table, sel, ...(p.map ? [p.map] : []));
    const { nKvHeads, n, chunkCapacity, nMap } = validateOpArgs.chunkCacheUpdate(table, sel, p);
    const order = new CpuTensor([nKvHeads, p.slots], 'i32', new Int32Array(nKvHeads * p.slots));
    const misses = new CpuTensor([nKvHeads + p.capacity], 'i32', new Int32Array(nKvHeads + p.capacity));
    const sizes = { nKvHeads, n, slots: p.slots, chunkCapacity, fullChunks: p.fullChunks, capacity: p.capacity, nMap };
    chunkCacheUpdateInto(i32(table), i32(sel), p.map ? i32(p.map) : undefined, sizes, order.data as Int32Array, misses.data as Int32Array);
    return { order, misses };
  }
}

/** B [nKvHeads, rank, headDim] transposed per head to [nKvHeads, headDim, rank], cached per tensor (B is fixed after prefill). */
const transposedCache = new WeakMap<Tensor, Float32Array>();
/**
 * One KV head of rebuildKeys: keys[s*chunkSize + j, :] = rope(a[t, :] · B_g, t + positionOffset), t = ids[s]*chunkSize + j,
 * as a blocked product of the gathered A rows against B_gᵀ (btg [headDim, rank]).
 */
function rebuildHeadInto(keys: Float32Array, av: Float32Array, btg: Float32Array, ids: Int32Array, chunkSize: number, positionOffset: number, rope: RopeSpec): void {
  const d = rope.headDim;
  const rank = btg.length / d;
  const n = ids.length * chunkSize;
  const rows = new Float32Array(n * rank); // gathered A rows of the head's selected tokens [n, rank]
  for (let s = 0; s < ids.length; s++) {
    const t0 = ids[s] * chunkSize;
    rows.set(av.subarray(t0 * rank, (t0 + chunkSize) * rank), s * chunkSize * rank);
  }
  matmulInto(keys, rows, btg, n, d, rank);
  for (let s = 0; s < ids.length; s++) {
    for (let j = 0; j < chunkSize; j++) ropeInPlace(keys, (s * chunkSize + j) * d, ids[s] * chunkSize + j + positionOffset, rope);
  }
}

function transposedHeads(b: Tensor, nKv: number, rank: number, d: number): Float32Array {
  let t = transposedCache.get(b);
  if (!t) {
    const bv = f32(b);
    t = new Float32Array(bv.length);
    for (let g = 0; g < nKv; g++) {
      for (let r = 0; r < rank; r++) for (let e = 0; e < d; e++) t[(g * d + e) * rank + r] = bv[(g * rank + r) * d + e];
    }
    transposedCache.set(b, t);
  }
  return t;
}

function softmaxRow(x: Float32Array, o: Float32Array, base: number, n: number): void {
  let max = -Infinity;
  for (let c = 0; c < n; c++) if (x[base + c] > max) max = x[base + c];
  let sum = 0;
  for (let c = 0; c < n; c++) {
    const e = Math.exp(x[base + c] - max);
    o[base + c] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let c = 0; c < n; c++) o[base + c] *= inv;
}

/** Creates the reference CPU backend. */
export function cpu(): CpuBackend {
  return new CpuBackend();
}
