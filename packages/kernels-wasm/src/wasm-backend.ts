// The wasm backend: every op of KernelBackend runs a kernel of the AssemblyScript module (assembly/) on tensors
// that live in one WebAssembly.Memory, on the calling thread or split across a ThreadPool. Host-side checks
// (ownership, validateOpArgs, id values) happen before any kernel runs, so bad calls throw ShapeError, never trap.
import {
  assertShape,
  BackendDestroyedError,
  bytesPerElement,
  f32ToBf16,
  f32ToF16,
  halfToF32,
  numel,
  ShapeError,
  validateOpArgs,
  type AttentionParams,
  type BackendCapabilities,
  type DType,
  type KernelBackend,
  type RopeSpec,
  type Shape,
  type Tensor,
} from '@shadowkv/core';
import { KERNEL_NAMES, type KernelName, type ScratchQueries } from './kernel-module.js';
import { DEFAULT_THRESHOLDS, pollingThresholds, type ParallelThresholds } from './parallel-thresholds.js';
import { RopeTables } from './rope-tables.js';
import type { KernelPool } from './thread-pool.js';
import { WasmAllocator, type KernelMemory } from './wasm-allocator.js';
import { rowsFromRows4, type WeightLayout } from './weight-layout.js';
import { WasmTensor } from './wasm-tensor.js';

type KernelFn = (...args: number[]) => void;
const DT_CODE: Record<string, number> = { f32: 0, f16: 1, bf16: 2 };
/** Or-ed into a weight's dtype code when it is stored in the rows4 layout (assembly/weight-layout.ts DT_ROWS4). */
const DT_ROWS4 = 4;
/** The dtype code the kernels take for a weight tensor: its dtype, and whether it is stored in the rows4 layout. */
function weightCode(t: WasmTensor): number {
  return DT_CODE[t.dtype] | (t.rows4 ? DT_ROWS4 : 0);
}
/** Addresses below this are never handed out (a zero address is never a tensor). */
const HEAP_BASE = 1024;

/**
 * What a backend is made of (wasm() assembles it). Memory, instance and pool are typed by the members the backend
 * uses, not as WebAssembly.Memory / Instance, so that the published declarations need no lib dom (where TypeScript
 * keeps the WebAssembly namespace): a Node project with lib es2022 and types node type-checks against them.
 */
export interface WasmBackendParts {
  /** The WebAssembly.Memory all tensors live in. */
  memory: KernelMemory;
  /** The kernel module's instance on that memory (its exports are the kernels). */
  instance: { readonly exports: object };
  /** The worker threads (ThreadPool), or null to run every op on the calling thread. */
  pool: KernelPool | null;
  limitBytes: number;
  thresholds: ParallelThresholds;
  /** Why the backend runs single-threaded when threads were asked for (null otherwise). */
  singleThreadReason: string | null;
  /** How 16-bit weight matrices are stored (weight-layout.ts; default 'rows4'). */
  weightLayout?: WeightLayout;
}

export class WasmBackend implements KernelBackend {
  readonly name = 'wasm';
  readonly capabilities: BackendCapabilities;
  /** Threads a large op runs on (the caller included). */
  readonly threads: number;
  /** Why threads were not used although asked for, or null. */
  readonly singleThreadReason: string | null;
  /** How 16-bit weight matrices are stored (weight-layout.ts). */
  readonly weightLayout: WeightLayout;
  /** The parallel thresholds given (see parallel-thresholds.ts), in force while the pool's workers sleep between jobs. */
  private readonly sleepingThresholds: ParallelThresholds;
  /** Those thresholds while the workers poll between jobs (lower: a hand-off then costs microseconds). */
  private readonly pollingThresholds: ParallelThresholds;

  private readonly memory: KernelMemory;
  private readonly fns: Record<KernelName, KernelFn>;
  private readonly sizes: ScratchQueries;
  private readonly pool: KernelPool | null;
  private readonly alloc: WasmAllocator;
  private readonly live = new Set<WasmTensor>();
  private readonly ropeTables: RopeTables;
  private scratchPtr = 0;
  private scratchBytes = 0;
  private destroyed = false;

  constructor(parts: WasmBackendParts) {
    this.memory = parts.memory;
    const ex = parts.instance.exports as Record<string, unknown>;
    this.fns = Object.fromEntries(KERNEL_NAMES.map((n) => [n, ex[n] as KernelFn])) as Record<KernelName, KernelFn>;
    this.sizes = ex as unknown as ScratchQueries;
    this.pool = parts.pool;
    this.threads = parts.pool ? parts.pool.threads : 1;
    this.singleThreadReason = parts.singleThreadReason;
    this.weightLayout = parts.weightLayout ?? 'rows4';
    this.sleepingThresholds = parts.thresholds;
    this.pollingThresholds = pollingThresholds(parts.thresholds);
    this.alloc = new WasmAllocator(parts.memory, HEAP_BASE, parts.limitBytes);
    this.ropeTables = new RopeTables(this.alloc, (p, n) => this.f32View(p, n));
    this.capabilities = { dtypes: ['f32', 'i32'], weightDtypes: ['f32', 'f16', 'bf16'], maxTensorBytes: parts.limitBytes - HEAP_BASE };
  }

  /** Parallel thresholds in force now (see parallel-thresholds.ts): lower while the pool's workers poll between jobs. */
  get thresholds(): ParallelThresholds {
    return this.pool?.polling ? this.pollingThresholds : this.sleepingThresholds;
  }

  /**
   * Bytes held by live tensors and caches, and the size the memory has grown to; the peaks (high-water marks
   * since creation or resetMemoryPeaks()) are of bytes held and of addresses used, which the limit applies to.
   */
  memoryStats(): { bytesInUse: number; bytesReserved: number; limitBytes: number; liveTensors: number; peakBytesInUse: number; peakBytesAddressed: number } {
    const a = this.alloc;
    return { bytesInUse: a.bytesInUse, bytesReserved: a.bytesReserved, limitBytes: a.limitBytes, liveTensors: this.live.size, peakBytesInUse: a.peakBytesInUse, peakBytesAddressed: a.peakBytesAddressed };
  }

  /** Starts memoryStats()'s peaks again from the current use (to measure one phase, e.g. a prefill). */
  resetMemoryPeaks(): void {
    this.alloc.resetPeaks();
  }

  // ---- memory ----

  upload(data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype?: DType): Tensor {
    this.alive('upload');
    const dt: DType = dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint16Array ? 'bf16' : 'f32');
    validateOpArgs.upload(this, data, shape, dt);
    const t = this.newTensor(shape, dt, 'upload', this.rows4Eligible(shape, dt));
    const n = numel(shape);
    if (dt === 'i32') this.i32View(t.ptr, n).set(data as Int32Array);
    else if (dt === 'f32') this.f32View(t.ptr, n).set(data as Float32Array);
    else {
      const bits = data instanceof Uint16Array ? data : dt === 'bf16' ? f32ToBf16(data as Float32Array) : f32ToF16(data as Float32Array);
      new Uint16Array(this.memory.buffer, t.ptr, n).set(bits);
      if (t.rows4) {
        // A temporary group buffer (8k bytes), released at once: the kernel scratch is sized by the ops, and after
        // loading a model only its weights are held (bench capacity counts them exactly).
        const bytes = shape[1] * 8;
        const tmp = this.alloc.alloc(bytes, 'the rows4 interleave buffer');
        try {
          this.exec('interleaveRows4', [t.ptr, shape[0], shape[1], tmp, bytes], false);
        } finally {
          this.alloc.release(tmp, bytes);
        }
      }
    }
    return t;
  }

  /**
   * Whether a tensor of this shape and dtype is stored in the rows4 layout: 16-bit tensors are weights here (the
   * backend's activations and KV are f32), and a [n, k] weight with n % 4 == 0 and k % 8 == 0 is, unless the
   * backend was created with `weightLayout: 'rows'`.
   */
  private rows4Eligible(shape: Shape, dtype: DType): boolean {
    return this.weightLayout === 'rows4' && (dtype === 'bf16' || dtype === 'f16') && shape.length === 2 && shape[0] % 4 === 0 && shape[1] % 8 === 0 && shape[0] > 0 && shape[1] > 0;
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    this.alive('zeros');
    if (!this.capabilities.weightDtypes.includes(dtype)) validateOpArgs.dtype('zeros', this, dtype);
    const t = this.newTensor(shape, dtype, 'zeros', this.rows4Eligible(shape, dtype));
    new Uint8Array(this.memory.buffer, t.ptr, t.bytes).fill(0);
    return t;
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    return this.readSync(t);
  }

  /** Synchronous read (a copy) for code that knows it runs on this backend; f16/bf16 are widened. */
  readSync(t: Tensor): Float32Array | Int32Array {
    const w = this.own('read', t);
    const n = numel(w.shape);
    if (w.dtype === 'i32') return this.i32View(w.ptr, n).slice();
    if (w.dtype === 'f32') return this.f32View(w.ptr, n).slice();
    const bits = new Uint16Array(this.memory.buffer, w.ptr, n).slice();
    return halfToF32(w.dtype as 'f16' | 'bf16', w.rows4 ? rowsFromRows4(bits, w.shape[0], w.shape[1]) : bits);
  }

  dispose(t: Tensor): void {
    if (this.destroyed) return;
    if (!(t instanceof WasmTensor) || t.owner !== this || t.ptr < 0) return;
    this.alloc.release(t.ptr, t.bytes);
    t.ptr = -1;
    this.live.delete(t);
  }

  async sync(): Promise<void> {
    this.alive('sync');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const t of this.live) t.ptr = -1;
    this.live.clear();
    this.alloc.reset(HEAP_BASE);
    this.pool?.close();
  }

  // ---- dense ops ----

  embedding(table: Tensor, ids: Tensor): Tensor {
    const tb = this.own('embedding', table);
    const id = this.own('embedding', ids);
    const { vocab, hidden, m } = validateOpArgs.embedding(table, ids, this.capabilities.weightDtypes);
    validateOpArgs.tokenIds(this.i32View(id.ptr, m), vocab);
    const out = this.newTensor([m, hidden], 'f32', 'embedding');
    this.run('embedding', [out.ptr, tb.ptr, weightCode(tb), id.ptr, m, hidden], m * hidden, this.thresholds.elementwise);
    return out;
  }

  matmul(x: Tensor, w: Tensor): Tensor {
    const xt = this.own('matmul', x);
    const wt = this.own('matmul', w);
    const { m, k, n } = validateOpArgs.matmul(x, w, this.capabilities.weightDtypes);
    const out = this.newTensor([m, n], 'f32', 'matmul');
    this.project(out, xt, wt, 0, m, n, k);
    return out;
  }

  /** residual + x · wᵀ in one pass: the GEMV adds the residual as it stores, the GEMM starts from it. */
  matmulAdd(x: Tensor, w: Tensor, residual: Tensor): Tensor {
    const xt = this.own('matmulAdd', x);
    const wt = this.own('matmulAdd', w);
    const rt = this.own('matmulAdd', residual);
    const { m, k, n } = validateOpArgs.matmul(x, w, this.capabilities.weightDtypes);
    assertShape('matmulAdd', 'residual', residual, [m, n], 'f32');
    const out = this.newTensor([m, n], 'f32', 'matmulAdd');
    this.project(out, xt, wt, rt.ptr, m, n, k);
    return out;
  }

  /** silu(x · wGateᵀ) * (x · wUpᵀ): for decode one GEMV pass over both weights; for prefill two GEMMs and SwiGLU in place. */
  matmulSwiglu(x: Tensor, wGate: Tensor, wUp: Tensor): Tensor {
    const xt = this.own('matmulSwiglu', x);
    const gt = this.own('matmulSwiglu', wGate);
    const ut = this.own('matmulSwiglu', wUp);
    const { m, k, n } = validateOpArgs.matmul(x, wGate, this.capabilities.weightDtypes);
    assertShape('matmulSwiglu', 'wUp', wUp, [n, k], wGate.dtype);
    return this.projectSwiglu(xt, gt, ut, m, n, k, null, 0);
  }

  /**
   * rmsNorm(x, norm, eps) · wᵀ for each w: for decode each GEMV normalises x itself as it prepares its copy of the
   * row (the rmsNorm kernel on one row, so the values equal the separate ops'); for prefill one rmsNorm, then GEMMs.
   */
  rmsNormMatmuls(x: Tensor, norm: Tensor, eps: number, ws: readonly Tensor[]): Tensor[] {
    const xt = this.own('rmsNormMatmuls', x);
    const nt = this.own('rmsNormMatmuls', norm);
    const wts = ws.map((w) => this.own('rmsNormMatmuls', w));
    const { m, k, ns } = validateOpArgs.rmsNormMatmuls(x, norm, ws, this.capabilities.weightDtypes);
    const outs = ns.map((n) => this.newTensor([m, n], 'f32', 'rmsNormMatmuls'));
    if (m < 4) {
      for (let i = 0; i < wts.length; i++) this.project(outs[i], xt, wts[i], 0, m, ns[i], k, nt, eps);
      return outs;
    }
    const h = this.normed(xt, nt, m, k, eps);
    try {
      for (let i = 0; i < wts.length; i++) this.project(outs[i], h, wts[i], 0, m, ns[i], k);
    } finally {
      this.dispose(h);
    }
    return outs;
  }

  /** matmulSwiglu(rmsNorm(x, norm, eps), wGate, wUp): for decode the GEMV normalises x itself (as rmsNormMatmuls). */
  rmsNormMatmulSwiglu(x: Tensor, norm: Tensor, eps: number, wGate: Tensor, wUp: Tensor): Tensor {
    const xt = this.own('rmsNormMatmulSwiglu', x);
    const nt = this.own('rmsNormMatmulSwiglu', norm);
    const gt = this.own('rmsNormMatmulSwiglu', wGate);
    const ut = this.own('rmsNormMatmulSwiglu', wUp);
    validateOpArgs.rmsNorm(x, norm);
    const { m, k, n } = validateOpArgs.matmul(x, wGate, this.capabilities.weightDtypes);
    assertShape('rmsNormMatmulSwiglu', 'wUp', wUp, [n, k], wGate.dtype);
    if (m < 4) return this.projectSwiglu(xt, gt, ut, m, n, k, nt, eps);
    const h = this.normed(xt, nt, m, k, eps);
    try {
      return this.projectSwiglu(h, gt, ut, m, n, k, null, 0);
    } finally {
      this.dispose(h);
    }
  }

  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
    const xt = this.own('rmsNorm', x);
    const wt = this.own('rmsNorm', w);
    const { m, d } = validateOpArgs.rmsNorm(x, w);
    const out = this.newTensor([m, d], 'f32', 'rmsNorm');
    this.run('rmsNorm', [out.ptr, xt.ptr, wt.ptr, m, d, eps], m * d, this.thresholds.elementwise);
    return out;
  }

  add(a: Tensor, b: Tensor): Tensor {
    const at = this.own('add', a);
    const bt = this.own('add', b);
    validateOpArgs.elementwise('add', a, b);
    const out = this.newTensor(a.shape, 'f32', 'add');
    const n = numel(a.shape);
    this.run('add', [out.ptr, at.ptr, bt.ptr, n], n, this.thresholds.elementwise);
    return out;
  }

  swiglu(gate: Tensor, up: Tensor): Tensor {
    const gt = this.own('swiglu', gate);
    const ut = this.own('swiglu', up);
    validateOpArgs.elementwise('swiglu', gate, up);
    const out = this.newTensor(gate.shape, 'f32', 'swiglu');
    const n = numel(gate.shape);
    this.run('swiglu', [out.ptr, gt.ptr, ut.ptr, n], n, this.thresholds.elementwise);
    return out;
  }

  rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
    const xt = this.own('rope', x);
    const pt = this.own('rope', positions);
    const { m, headDim } = validateOpArgs.rope(x, positions, nHeads, rope);
    const out = this.newTensor(x.shape, 'f32', 'rope');
    this.rotate([[out, xt, nHeads, headDim]], pt, m, rope);
    return out;
  }

  /** rope of q and of k at the same positions: one scan of the positions and one cos/sin table for both. */
  ropeQk(q: Tensor, k: Tensor, positions: Tensor, nHeads: number, nKvHeads: number, rope: RopeSpec): [Tensor, Tensor] {
    const qt = this.own('ropeQk', q);
    const kt = this.own('ropeQk', k);
    const pt = this.own('ropeQk', positions);
    const { m, headDim } = validateOpArgs.rope(q, positions, nHeads, rope);
    const kDim = validateOpArgs.rope(k, positions, nKvHeads, rope).headDim;
    const qo = this.newTensor(q.shape, 'f32', 'ropeQk');
    const ko = this.newTensor(k.shape, 'f32', 'ropeQk');
    this.rotate([[qo, qt, nHeads, headDim], [ko, kt, nKvHeads, kDim]], pt, m, rope);
    return [qo, ko];
  }

  softmax(x: Tensor): Tensor {
    const xt = this.own('softmax', x);
    const { rows, n } = validateOpArgs.softmax(x);
    const out = this.newTensor(x.shape, 'f32', 'softmax');
    this.run('softmaxRows', [out.ptr, xt.ptr, rows, n], rows * n, this.thresholds.elementwise);
    return out;
  }

  // ---- KV layout ----

  writeKv(cache: Tensor, x: Tensor, start: number): void {
    const ct = this.own('writeKv', cache);
    const xt = this.own('writeKv', x);
    const { nKvHeads, capacity, headDim, m } = validateOpArgs.writeKv(cache, x, start);
    this.fns.writeKv(ct.ptr, xt.ptr, m, nKvHeads, capacity, headDim, start);
  }

  /** The optional row copy: one memmove inside the module's memory (no host round trip). */
  writeRows(dst: Tensor, src: Tensor, start: number): void {
    const dt = this.own('writeRows', dst);
    const st = this.own('writeRows', src);
    const { n, m } = validateOpArgs.writeRows(dst, src, start);
    this.f32View(dt.ptr + start * n * 4, m * n).set(this.f32View(st.ptr, m * n));
  }

  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
    const qt = this.own('attention', q);
    const kt = this.own('attention', k);
    const vt = this.own('attention', v);
    const { m, capacity, group } = validateOpArgs.attention(q, k, v, p);
    const out = this.newTensor([m, p.nHeads * p.headDim], 'f32', 'attention');
    const parallel = this.parallel(m * group * p.nKvHeads * p.kvLen * p.headDim, this.thresholds.attention);
    const { ptr, stride } = this.scratch(this.sizes.attentionScratchBytes(p.kvLen), parallel);
    this.exec(
      'attention',
      [out.ptr, qt.ptr, kt.ptr, vt.ptr, m, p.nHeads, p.nKvHeads, p.headDim, capacity, p.kvLen, p.causal ? 1 : 0, p.causal ? p.queryOffset : 0, p.scale, ptr, stride],
      parallel,
    );
    return out;
  }

  // ---- sparse decode ops ----

  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor {
    const st = this.own('gatherChunks', src);
    const it = this.own('gatherChunks', idx);
    const { nKvHeads, rows, headDim, nSel } = validateOpArgs.gatherChunks(src, idx, chunkSize);
    validateOpArgs.chunkIds('gatherChunks', this.i32View(it.ptr, nKvHeads * nSel), nSel, chunkSize, rows, 'src');
    const out = this.newTensor([nKvHeads, nSel * chunkSize, headDim], 'f32', 'gatherChunks');
    // Chunk copies are a few hundred KiB of memory.copy: under the sparse threshold (elements) they stay on the calling thread.
    this.run('copyChunks', [st.ptr, out.ptr, it.ptr, nKvHeads, rows, headDim, nSel, chunkSize, 1], nKvHeads * nSel * chunkSize * headDim, this.thresholds.sparse);
    return out;
  }

  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void {
    const dt = this.own('scatterChunks', dst);
    const st = this.own('scatterChunks', src);
    const it = this.own('scatterChunks', idx);
    const { nKvHeads, rows, headDim, nSel } = validateOpArgs.scatterChunks(dst, src, idx, chunkSize);
    validateOpArgs.chunkIds('scatterChunks', this.i32View(it.ptr, nKvHeads * nSel), nSel, chunkSize, rows, 'dst');
    this.run('copyChunks', [dt.ptr, st.ptr, it.ptr, nKvHeads, rows, headDim, nSel, chunkSize, 0], nKvHeads * nSel * chunkSize * headDim, this.thresholds.sparse);
  }

  rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): Tensor {
    const at = this.own('rebuildKeys', a);
    const bt = this.own('rebuildKeys', b);
    const it = this.own('rebuildKeys', idx);
    const { seqLen, rank, nKvHeads, headDim, nSel } = validateOpArgs.rebuildKeys(a, b, idx, chunkSize, positionOffset, rope);
    // A copy: allocating the output may grow (and, unshared, detach) the memory under a view.
    const ids = this.i32View(it.ptr, nKvHeads * nSel).slice();
    validateOpArgs.chunkIds('rebuildKeys', ids, nSel, chunkSize, seqLen, 'a');
    const out = this.newTensor([nKvHeads, nSel * chunkSize, headDim], 'f32', 'rebuildKeys');
    if (ids.length === 0) return out;
    let lo = ids[0];
    let hi = ids[0];
    for (let i = 1; i < ids.length; i++) {
      if (ids[i] < lo) lo = ids[i];
      if (ids[i] > hi) hi = ids[i];
    }
    const rows = ids.length * chunkSize;
    const rowPositions = (): Int32Array => {
      const pos = new Int32Array(rows);
      for (let u = 0; u < ids.length; u++) for (let j = 0; j < chunkSize; j++) pos[u * chunkSize + j] = ids[u] * chunkSize + j + positionOffset;
      return pos;
    };
    const table = this.ropeTables.get(rope, lo * chunkSize + positionOffset, (hi + 1) * chunkSize - 1 + positionOffset, rows, rowPositions);
    try {
      this.run(
        'rebuildKeys',
        [out.ptr, at.ptr, bt.ptr, it.ptr, rank, nKvHeads, headDim, nSel, chunkSize, positionOffset, table.cos, table.sin, table.base, table.rowIndexed ? 1 : 0],
        nKvHeads * nSel * chunkSize * rank * headDim,
        this.thresholds.sparse,
      );
    } finally {
      this.ropeTables.done(table);
    }
    return out;
  }

  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor {
    const qt = this.own('landmarkScores', q);
    const lt = this.own('landmarkScores', landmarks);
    const { nKvHeads, nChunks, headDim } = validateOpArgs.landmarkScores(q, landmarks, nHeads);
    const out = this.newTensor([nKvHeads, nChunks], 'f32', 'landmarkScores');
    const parallel = this.parallel(nHeads * nChunks * headDim, this.thresholds.sparse);
    const { ptr, stride } = this.scratch(this.sizes.landmarkScratchBytes(nChunks), parallel);
    this.exec('landmarkScores', [out.ptr, qt.ptr, lt.ptr, nHeads, nKvHeads, nChunks, headDim, scale, ptr, stride], parallel);
    return out;
  }

  /**
   * The refine stage's candidate keys and scores in one call: held chunks are copied with one memmove each, runs of
   * candidates to rebuild go to the rebuildKeys kernel one head at a time (the plan's ids row is the kernel's idx),
   * written straight to their candidate rows, then landmarkScores. The same kernels and arithmetic as gatherChunks,
   * rebuildKeys, scatterChunks and landmarkScores, so the same bits, without the padding, the two packed copies and
   * the uploads of the separate ops.
   */
  candidateScores(q: Tensor, a: Tensor, b: Tensor, held: Tensor, plan: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec, nHeads: number, scale: number): [Tensor, Tensor] {
    const op = 'candidateScores';
    this.own(op, q);
    const at = this.own(op, a);
    const bt = this.own(op, b);
    const ht = this.own(op, held);
    const pt = this.own(op, plan);
    const { seqLen, rank, nKvHeads, headDim, nCand, rows } = validateOpArgs.candidateScores(q, a, b, held, plan, chunkSize, positionOffset, rope, nHeads);
    const pv = this.i32View(pt.ptr, 2 * nKvHeads * nCand).slice(); // a copy: allocations below may grow the memory
    validateOpArgs.candidatePlan(pv, nKvHeads, nCand, chunkSize, seqLen, rows);
    let lo = Infinity;
    let hi = -1;
    let fresh = 0;
    for (let g = 0; g < nKvHeads; g++) {
      for (let k = 0; k < nCand; k++) {
        if (pv[(2 * g + 1) * nCand + k] >= 0) continue;
        const c = pv[2 * g * nCand + k];
        if (c < lo) lo = c;
        if (c > hi) hi = c;
        fresh++;
      }
    }
    const keys = this.newTensor([nKvHeads, nCand * chunkSize, headDim], 'f32', op);
    try {
      // A per-call RoPE table is indexed by rebuilt row, in the order the runs below rebuild them.
      const table = fresh > 0 ? this.ropeTables.get(rope, lo * chunkSize + positionOffset, (hi + 1) * chunkSize - 1 + positionOffset, fresh * chunkSize, () => this.freshRowPositions(pv, nKvHeads, nCand, chunkSize, positionOffset, fresh)) : null;
      try {
        const { copyChunks, rebuildKeys } = this.fns;
        const rb = headDim * 4;
        const chunkBytes = chunkSize * rb;
        const rowBytes = (headDim / 2) * 4;
        let row = 0;
        for (let g = 0; g < nKvHeads; g++) {
          const ids = 2 * g * nCand;
          const slots = ids + nCand;
          const heldHead = ht.ptr + g * rows * rb;
          const bHead = bt.ptr + g * rank * rb;
          let k = 0;
          // Alternating runs: held chunks copied (copyChunks, the plan's slot row as its index), the others rebuilt
          // (rebuildKeys, the plan's id row as its index), each straight into its candidate rows.
          while (k < nCand) {
            const k0 = k;
            const isHeld = pv[slots + k] >= 0;
            while (k < nCand && pv[slots + k] >= 0 === isHeld) k++;
            const out = keys.ptr + (g * nCand + k0) * chunkBytes;
            if (isHeld) copyChunks(heldHead, out, pt.ptr + (slots + k0) * 4, 1, rows, headDim, k - k0, chunkSize, 1, 0, 1);
            else {
              const t = table as NonNullable<typeof table>;
              const shift = t.rowIndexed ? row * rowBytes : 0;
              rebuildKeys(out, at.ptr, bHead, pt.ptr + (ids + k0) * 4, rank, 1, headDim, k - k0, chunkSize, positionOffset, t.cos + shift, t.sin + shift, t.base, t.rowIndexed ? 1 : 0, 0, 1);
              row += (k - k0) * chunkSize;
            }
          }
        }
      } finally {
        if (table) this.ropeTables.done(table);
      }
      return [keys, this.landmarkScores(q, keys, nHeads, scale)];
    } catch (e) {
      this.dispose(keys);
      throw e;
    }
  }

  /** Positions of the rows candidateScores rebuilds (plan [nKvHeads, 2, nCand], slot < 0), head by head in candidate order. */
  private freshRowPositions(pv: Int32Array, nKvHeads: number, nCand: number, chunkSize: number, positionOffset: number, fresh: number): Int32Array {
    const pos = new Int32Array(fresh * chunkSize);
    let r = 0;
    for (let g = 0; g < nKvHeads; g++) {
      for (let k = 0; k < nCand; k++) {
        if (pv[(2 * g + 1) * nCand + k] >= 0) continue;
        for (let j = 0; j < chunkSize; j++) pos[r++] = pv[2 * g * nCand + k] * chunkSize + j + positionOffset;
      }
    }
    return pos;
  }

  /** One memmove per (from, to) pair (chunk copies are far below any threading threshold). */
  copyChunkPairs(dst: Tensor, src: Tensor, pairs: Tensor, chunkSize: number): void {
    const dt = this.own('copyChunkPairs', dst);
    const st = this.own('copyChunkPairs', src);
    const pt = this.own('copyChunkPairs', pairs);
    const { nKvHeads, rowsDst, rowsSrc, headDim, n } = validateOpArgs.copyChunkPairs(dst, src, pairs, chunkSize);
    const pv = this.i32View(pt.ptr, 2 * nKvHeads * n);
    validateOpArgs.chunkPairs(pv, nKvHeads, n, chunkSize, rowsSrc, rowsDst);
    const mem = new Uint8Array(this.memory.buffer);
    const rb = headDim * 4;
    const chunkBytes = chunkSize * rb;
    for (let g = 0; g < nKvHeads; g++) {
      for (let i = 0; i < n; i++) {
        const from = pv[(g * n + i) * 2];
        if (from < 0) continue;
        const at = st.ptr + (g * rowsSrc + from * chunkSize) * rb;
        mem.copyWithin(dt.ptr + (g * rowsDst + pv[(g * n + i) * 2 + 1] * chunkSize) * rb, at, at + chunkBytes);
      }
    }
  }

  topK(x: Tensor, k: number): Tensor {
    const xt = this.own('topK', x);
    const { rows, n } = validateOpArgs.topK(x, k);
    const out = this.newTensor([rows, k], 'i32', 'topK');
    const parallel = rows > 1 && this.parallel(rows * n, this.thresholds.sparse);
    const { ptr, stride } = this.scratch(this.sizes.topKScratchBytes(n), parallel);
    this.exec('topK', [out.ptr, xt.ptr, rows, n, k, ptr, stride], parallel);
    return out;
  }

  // ---- internals ----

  private alive(what: string): void {
    if (this.destroyed) throw new BackendDestroyedError(this.name, what);
  }

  /** The tensor as this backend's, alive; ShapeError otherwise. */
  private own(op: string, t: Tensor): WasmTensor {
    this.alive(op);
    if (!(t instanceof WasmTensor) || t.owner !== this) {
      const from = t instanceof WasmTensor ? 'another wasm backend instance' : `backend "${t.backend}"`;
      throw new ShapeError(op, `a tensor from ${from} was passed to this wasm backend`);
    }
    if (t.ptr < 0) throw new ShapeError(op, `a tensor of shape [${t.shape.join(', ')}] was used after dispose()`);
    return t;
  }

  private newTensor(shape: Shape, dtype: DType, op: string, rows4 = false): WasmTensor {
    const bytes = numel(shape) * bytesPerElement(dtype);
    const ptr = this.alloc.alloc(bytes, () => `a ${dtype} tensor [${shape.join(', ')}] (${op})`);
    const t = new WasmTensor([...shape], dtype, ptr, bytes, this, rows4);
    this.live.add(t);
    return t;
  }

  /** A view of the memory; valid until the next allocation (growing an unshared memory detaches its buffer). */
  private f32View(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  private i32View(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  /** Per-thread scratch of `perThread` bytes (64-aligned stride), kept between calls and grown on demand. */
  private scratch(perThread: number, parallel: boolean): { ptr: number; stride: number } {
    const stride = Math.ceil(perThread / 64) * 64;
    const bytes = stride * (parallel ? this.threads : 1);
    if (bytes > this.scratchBytes) {
      if (this.scratchBytes > 0) this.alloc.release(this.scratchPtr, this.scratchBytes);
      this.scratchBytes = 0;
      this.scratchPtr = this.alloc.alloc(bytes, 'kernel scratch');
      this.scratchBytes = bytes;
    }
    return { ptr: this.scratchPtr, stride };
  }

  /**
   * out = x · wᵀ (+ init, when init is an address: matmulAdd's residual), GEMV for m < 4, else blocked GEMM. With
   * `norm` (GEMV only) x's rows are RMS-normalised by the GEMV first (rmsNormMatmuls).
   */
  private project(out: WasmTensor, xt: WasmTensor, wt: WasmTensor, init: number, m: number, n: number, k: number, norm: WasmTensor | null = null, eps = 0): void {
    const parallel = this.parallel(m * n * k, this.thresholds.matmul);
    const dt = weightCode(wt);
    if (m < 4) {
      const { ptr, stride } = this.scratch(this.sizes.gemvScratchBytes(k), parallel);
      if (init) this.exec('gemvAdd', [out.ptr, xt.ptr, wt.ptr, init, dt, m, n, k, ptr, stride], parallel);
      else this.exec('gemv', [out.ptr, xt.ptr, wt.ptr, dt, m, n, k, norm ? norm.ptr : 0, eps, ptr, stride], parallel);
    } else {
      const { ptr, stride } = this.scratch(this.sizes.gemmScratchBytes(), parallel);
      this.exec('gemm', [out.ptr, xt.ptr, wt.ptr, dt, m, n, k, init, ptr, stride], parallel);
    }
  }

  /** silu(x · gᵀ) * (x · uᵀ) into a new tensor: one GEMV pass (normalising x first with `norm`), or two GEMMs + SwiGLU. */
  private projectSwiglu(xt: WasmTensor, gt: WasmTensor, ut: WasmTensor, m: number, n: number, k: number, norm: WasmTensor | null, eps: number): WasmTensor {
    const out = this.newTensor([m, n], 'f32', 'matmulSwiglu');
    if (m < 4) {
      const parallel = this.parallel(2 * m * n * k, this.thresholds.matmul);
      const { ptr, stride } = this.scratch(this.sizes.gemvScratchBytes(k), parallel);
      this.exec('gemvSwiglu', [out.ptr, xt.ptr, gt.ptr, ut.ptr, weightCode(gt), m, n, k, norm ? norm.ptr : 0, eps, ptr, stride], parallel);
      return out;
    }
    const gate = this.newTensor([m, n], 'f32', 'matmulSwiglu');
    try {
      this.project(gate, xt, gt, 0, m, n, k);
      this.project(out, xt, ut, 0, m, n, k);
      this.run('swiglu', [out.ptr, gate.ptr, out.ptr, m * n], m * n, this.thresholds.elementwise);
    } finally {
      this.dispose(gate);
    }
    return out;
  }

  /** out = RoPE(x) for each [out, x, nHeads, headDim] job, m rows at the positions of pt, with one table for all. */
  private rotate(jobs: [WasmTensor, WasmTensor, number, number][], pt: WasmTensor, m: number, rope: RopeSpec): void {
    if (m === 0) return;
    const pos = this.i32View(pt.ptr, m);
    let lo = pos[0];
    let hi = pos[0];
    for (let i = 1; i < m; i++) {
      if (pos[i] < lo) lo = pos[i];
      if (pos[i] > hi) hi = pos[i];
    }
    const table = this.ropeTables.get(rope, lo, hi, m, () => pos.slice());
    try {
      for (const [out, xt, nHeads, headDim] of jobs) {
        this.run('rope', [out.ptr, xt.ptr, pt.ptr, m, nHeads, headDim / 2, table.cos, table.sin, table.base, table.rowIndexed ? 1 : 0], m * nHeads * headDim, this.thresholds.elementwise);
      }
    } finally {
      this.ropeTables.done(table);
    }
  }

  /** rmsNorm(x, norm, eps) of m rows of d into a new tensor (the prefill side of the norm-fused ops). */
  private normed(xt: WasmTensor, nt: WasmTensor, m: number, d: number, eps: number): WasmTensor {
    const h = this.newTensor([m, d], 'f32', 'rmsNorm');
    this.run('rmsNorm', [h.ptr, xt.ptr, nt.ptr, m, d, eps], m * d, this.thresholds.elementwise);
    return h;
  }

  private parallel(work: number, threshold: number): boolean {
    return this.pool !== null && work >= threshold;
  }

  private run(name: KernelName, argv: number[], work: number, threshold: number): void {
    this.exec(name, argv, this.parallel(work, threshold));
  }

  private exec(name: KernelName, argv: number[], parallel: boolean): void {
    if (parallel && this.pool) this.pool.run(KERNEL_NAMES.indexOf(name), argv);
    else this.fns[name](...argv, 0, 1);
  }
}
