// The cuda KernelBackend: checks every call on the host (ownership, liveness, core's validateOpArgs, this
// backend's own limits) and then queues the op on the native context. Ops are asynchronous on the GPU
// streams; `read` and `sync` wait. Beyond the interface: pinned host tensors for offloaded values and a side
// stream for overlapping work (the key rebuild while values are fetched), see `uploadPinned` and `sideStream`.
import {
  BackendDestroyedError,
  bytesPerElement,
  numel,
  shapeToString,
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
import { DTYPE_CODE } from './cuda-dtype.js';
import { CudaRuntimeError } from './cuda-runtime-error.js';
import { CudaTensor, type CudaLocation, type SideEvent } from './cuda-tensor.js';
import type { NativeContext, NativeDeviceInfo } from './native-binding.js';

/** Largest head dimension of the attention kernels (templated on 64/128/256). */
export const MAX_ATTENTION_HEAD_DIM = 256;
/** Element counts and sizes travel to the kernels as 32-bit ints. */
const MAX_ELEMENTS = 2 ** 31 - 1;

export class CudaBackend implements KernelBackend {
  readonly name = 'cuda';
  readonly capabilities: BackendCapabilities = {
    dtypes: ['f32', 'f16', 'bf16', 'i32'],
    weightDtypes: ['f32', 'f16', 'bf16'],
    // Index math inside the kernels is 64-bit, but sizes are passed as 32-bit element counts.
    maxTensorBytes: 2 ** 31 - 1,
  };
  /** The GPU this backend runs on (name, compute capability, multiprocessors, memory, cuBLAS). */
  readonly device: NativeDeviceInfo;
  private native: NativeContext | undefined;
  private readonly ropeTables = new WeakMap<RopeSpec, CudaTensor>();
  private readonly liveTensors = new Set<CudaTensor>();
  private readonly outstandingEvents = new Set<SideEvent>();
  private onSide = false;

  constructor(native: NativeContext) {
    this.native = native;
    this.device = native.info();
  }

  // ---- host-side checks ----

  private ctx(what: string): NativeContext {
    if (!this.native) throw new BackendDestroyedError(this.name, what);
    return this.native;
  }

  /** Checks that each tensor belongs to this backend and is not disposed; orders the stream after pending side work. */
  private own(op: string, ...ts: Tensor[]): CudaTensor[] {
    const ctx = this.ctx(op);
    const out: CudaTensor[] = [];
    for (const t of ts) {
      if (!(t instanceof CudaTensor) || t.owner !== this) {
        throw new ShapeError(op, `tensor from backend "${t.backend}"${t instanceof CudaTensor ? ' (another cuda backend instance)' : ''} passed to this cuda backend`);
      }
      if (t.ptr === 0) throw new ShapeError(op, `a ${t.dtype} tensor ${shapeToString(t.shape)} was used after dispose()`);
      out.push(t);
    }
    if (!this.onSide) {
      for (const t of out) {
        if (t.pending && !t.pending.waited) {
          ctx.waitEvent(t.pending.id);
          this.settle(t.pending);
        }
        t.pending = undefined;
      }
    }
    return out;
  }

  private settle(ev: SideEvent): void {
    ev.waited = true;
    this.outstandingEvents.delete(ev);
    this.native?.releaseEvent(ev.id);
  }

  private limit(op: string, what: string, n: number): void {
    if (n > MAX_ELEMENTS) throw new ShapeError(op, `${what} = ${n} exceeds the cuda backend's limit of 2^31 - 1 elements`);
  }

  /** Runs a native call, turning a CUDA failure into a CudaRuntimeError naming the op. */
  private call<T>(op: string, fn: (ctx: NativeContext) => T): T {
    const ctx = this.ctx(op);
    try {
      return fn(ctx);
    } catch (e) {
      const err = e as Error & { code?: string };
      throw new CudaRuntimeError(op, err.message, { cause: e });
    }
  }

  private alloc(op: string, shape: Shape, dtype: DType, location: CudaLocation = 'device'): CudaTensor {
    const n = numel(shape);
    this.limit(op, 'elements', n);
    const bytes = n * bytesPerElement(dtype);
    const ptr = this.call(op, (c) => (location === 'pinned' ? c.hostAlloc(bytes) : c.malloc(bytes)));
    const t = new CudaTensor(this, [...shape], dtype, ptr, location, bytes);
    this.liveTensors.add(t);
    return t;
  }

  /** Marks tensors written by an op issued inside `sideStream` (filled in when the block ends). */
  private sideWritten: CudaTensor[] = [];
  private wrote(...ts: CudaTensor[]): void {
    if (this.onSide) this.sideWritten.push(...ts);
  }

  private f32Out(op: string, shape: Shape): CudaTensor {
    const t = this.alloc(op, shape, 'f32');
    this.wrote(t);
    return t;
  }

  /** A device copy of rope.invFreq, uploaded once per RopeSpec object. */
  private invFreq(op: string, rope: RopeSpec): CudaTensor {
    let t = this.ropeTables.get(rope);
    if (!t || t.ptr === 0) {
      const half = Math.floor(rope.headDim / 2);
      if (rope.invFreq.length < half) throw new ShapeError(op, `rope.invFreq has ${rope.invFreq.length} entries, headDim ${rope.headDim} needs ${half}`);
      t = this.alloc(op, [half], 'f32');
      const data = Float32Array.from(rope.invFreq.subarray(0, half));
      this.call(op, (c) => c.upload(t!.ptr, data));
      this.ropeTables.set(rope, t);
    }
    return t;
  }

  private weightDtype(op: string, name: string, w: Tensor): void {
    if (!this.capabilities.weightDtypes.includes(w.dtype)) {
      throw new ShapeError(op, `${name} has dtype ${w.dtype}; the cuda backend takes ${this.capabilities.weightDtypes.join(', ')} weights`);
    }
  }

  // ---- memory ----

  upload(data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype?: DType): Tensor {
    return this.uploadTo('upload', data, shape, dtype, 'device');
  }

  /**
   * Like `upload`, but the tensor lives in page-locked host memory that kernels read over the bus (mapped,
   * zero-copy): the ShadowKV/KCache value store. gatherChunks from such a tensor moves only the selected
   * chunks to the GPU, through its gather kernel.
   */
  uploadPinned(data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype?: DType): Tensor {
    return this.uploadTo('uploadPinned', data, shape, dtype, 'pinned');
  }

  /** A zero-filled tensor in pinned host memory (see `uploadPinned`). */
  zerosPinned(shape: Shape, dtype: DType = 'f32'): Tensor {
    this.ctx('zerosPinned');
    validateOpArgs.dtype('zerosPinned', this, dtype);
    const t = this.alloc('zerosPinned', shape, dtype, 'pinned');
    this.call('zerosPinned', (c) => c.memsetZero(t.ptr, t.bytes));
    return t;
  }

  private uploadTo(op: string, data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype: DType | undefined, location: CudaLocation): Tensor {
    this.ctx(op);
    if (data instanceof Uint16Array && dtype !== 'f16' && dtype !== 'bf16') {
      throw new ShapeError(op, `a Uint16Array holds raw 16-bit floats: pass dtype 'f16' or 'bf16' (got ${dtype ?? 'none'})`);
    }
    const dt: DType = dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
    validateOpArgs.upload(this, data as Float32Array | Int32Array, shape, dt);
    const t = this.alloc(op, shape, dt, location);
    if ((dt === 'f16' || dt === 'bf16') && data instanceof Float32Array) {
      // Narrowed on the GPU (round to nearest even): upload the f32 values, convert, free the staging copy.
      const staging = this.alloc(op, shape, 'f32');
      this.call(op, (c) => {
        c.upload(staging.ptr, data);
        c.convert(t.ptr, DTYPE_CODE[dt], staging.ptr, DTYPE_CODE.f32, data.length);
      });
      this.dispose(staging);
    } else {
      this.call(op, (c) => c.upload(t.ptr, data));
    }
    this.wrote(t);
    return t;
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    this.ctx('zeros');
    validateOpArgs.dtype('zeros', this, dtype);
    const t = this.alloc('zeros', shape, dtype);
    this.call('zeros', (c) => c.memsetZero(t.ptr, t.bytes));
    this.wrote(t);
    return t;
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    const [x] = this.own('read', t);
    const n = numel(x.shape);
    if (x.dtype === 'i32') {
      const out = new Int32Array(n);
      this.call('read', (c) => c.download(x.ptr, out));
      return out;
    }
    const out = new Float32Array(n);
    if (x.dtype === 'f32') {
      this.call('read', (c) => c.download(x.ptr, out));
    } else {
      const wide = this.alloc('read', x.shape, 'f32');
      try {
        this.call('read', (c) => {
          c.convert(wide.ptr, DTYPE_CODE.f32, x.ptr, DTYPE_CODE[x.dtype], n);
          c.download(wide.ptr, out);
        });
      } finally {
        this.dispose(wide);
      }
    }
    return out;
  }

  dispose(t: Tensor): void {
    if (!(t instanceof CudaTensor) || t.owner !== this || t.ptr === 0 || !this.native) return;
    const ptr = t.ptr;
    t.ptr = 0;
    this.liveTensors.delete(t);
    this.call('dispose', (c) => (t.location === 'pinned' ? c.freeHost(ptr) : c.free(ptr)));
  }

  async sync(): Promise<void> {
    this.call('sync', (c) => c.sync());
    for (const ev of [...this.outstandingEvents]) this.settle(ev);
  }

  destroy(): void {
    const native = this.native;
    if (!native) return;
    this.native = undefined;
    for (const t of this.liveTensors) t.ptr = 0;
    this.liveTensors.clear();
    this.outstandingEvents.clear();
    native.destroy();
  }

  /**
   * Issues every op of `fn` on the backend's second CUDA stream, which first waits for the work queued so far.
   * Main-stream work issued after the block runs concurrently with it (ShadowKV: the key rebuild here while
   * the value gather runs on the main stream); the first main-stream op that uses a tensor this block
   * produced or wrote waits for the block, and `read`/`sync`/`dispose` always do. Blocks do not nest.
   */
  sideStream<T>(fn: () => T): T {
    const ctx = this.ctx('sideStream');
    if (this.onSide) throw new ShapeError('sideStream', 'side-stream blocks do not nest');
    this.call('sideStream', (c) => c.fork());
    ctx.setStream(1);
    this.onSide = true;
    this.sideWritten = [];
    try {
      return fn();
    } finally {
      this.onSide = false;
      const written = this.sideWritten;
      this.sideWritten = [];
      if (this.native) {
        const id = this.call('sideStream', (c) => c.recordEvent());
        this.native.setStream(0);
        const ev: SideEvent = { id, waited: false };
        this.outstandingEvents.add(ev);
        for (const t of written) t.pending = ev;
      }
    }
  }

  // ---- dense ops ----

  embedding(table: Tensor, ids: Tensor): Tensor {
    const [tb, id] = this.own('embedding', table, ids);
    this.weightDtype('embedding', 'table', tb);
    const { vocab, hidden, m } = validateOpArgs.embedding(asF32(tb), id);
    const out = this.f32Out('embedding', [m, hidden]);
    this.call('embedding', (c) => c.embedding(out.ptr, tb.ptr, DTYPE_CODE[tb.dtype], id.ptr, m, hidden, vocab));
    return out;
  }

  matmul(x: Tensor, w: Tensor): Tensor {
    const [xt, wt] = this.own('matmul', x, w);
    this.weightDtype('matmul', 'w', wt);
    const { m, k, n } = validateOpArgs.matmul(xt, asF32(wt));
    const out = this.f32Out('matmul', [m, n]);
    this.call('matmul', (c) => c.matmul(out.ptr, xt.ptr, wt.ptr, DTYPE_CODE[wt.dtype], m, k, n));
    return out;
  }

  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
    const [xt, wt] = this.own('rmsNorm', x, w);
    const { m, d } = validateOpArgs.rmsNorm(xt, wt);
    const out = this.f32Out('rmsNorm', [m, d]);
    this.call('rmsNorm', (c) => c.rmsNorm(out.ptr, xt.ptr, wt.ptr, m, d, eps));
    return out;
  }

  add(a: Tensor, b: Tensor): Tensor {
    const [at, bt] = this.own('add', a, b);
    validateOpArgs.elementwise('add', at, bt);
    const out = this.f32Out('add', at.shape);
    this.call('add', (c) => c.add(out.ptr, at.ptr, bt.ptr, numel(at.shape)));
    return out;
  }

  swiglu(gate: Tensor, up: Tensor): Tensor {
    const [g, u] = this.own('swiglu', gate, up);
    validateOpArgs.elementwise('swiglu', g, u);
    const out = this.f32Out('swiglu', g.shape);
    this.call('swiglu', (c) => c.swiglu(out.ptr, g.ptr, u.ptr, numel(g.shape)));
    return out;
  }

  rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
    const [xt, pos] = this.own('rope', x, positions);
    const { m, headDim } = validateOpArgs.rope(xt, pos, nHeads, rope);
    const inv = this.invFreq('rope', rope);
    const out = this.f32Out('rope', xt.shape);
    this.call('rope', (c) => c.rope(out.ptr, xt.ptr, pos.ptr, inv.ptr, m, nHeads, headDim, rope.attentionScaling));
    return out;
  }

  softmax(x: Tensor): Tensor {
    const [xt] = this.own('softmax', x);
    const { rows, n } = validateOpArgs.softmax(xt);
    const out = this.f32Out('softmax', xt.shape);
    this.call('softmax', (c) => c.softmax(out.ptr, xt.ptr, rows, n));
    return out;
  }

  // ---- KV layout ----

  writeKv(cache: Tensor, x: Tensor, start: number): void {
    const [ct, xt] = this.own('writeKv', cache, x);
    const { nKvHeads, capacity, headDim, m } = validateOpArgs.writeKv(ct, xt, start);
    this.call('writeKv', (c) => c.writeKv(ct.ptr, xt.ptr, m, nKvHeads, capacity, headDim, start));
    this.wrote(ct);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
    const [qt, kt, vt] = this.own('attention', q, k, v);
    const { m, capacity } = validateOpArgs.attention(qt, kt, vt, p);
    if (p.headDim > MAX_ATTENTION_HEAD_DIM) {
      throw new ShapeError('attention', `headDim ${p.headDim} exceeds the cuda kernels' maximum of ${MAX_ATTENTION_HEAD_DIM}`);
    }
    const out = this.f32Out('attention', [m, p.nHeads * p.headDim]);
    this.call('attention', (c) =>
      c.attention(out.ptr, qt.ptr, kt.ptr, vt.ptr, m, p.nHeads, p.nKvHeads, p.headDim, p.kvLen, capacity, p.causal, p.causal ? p.queryOffset : 0, p.scale),
    );
    return out;
  }

  // ---- sparse decode ops ----

  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor {
    const [st, it] = this.own('gatherChunks', src, idx);
    const { nKvHeads, rows, headDim, nSel } = validateOpArgs.gatherChunks(st, it, chunkSize);
    const out = this.f32Out('gatherChunks', [nKvHeads, nSel * chunkSize, headDim]);
    this.call('gatherChunks', (c) => c.gatherChunks(out.ptr, st.ptr, it.ptr, nKvHeads, rows, headDim, nSel, chunkSize));
    return out;
  }

  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void {
    const [dt, st, it] = this.own('scatterChunks', dst, src, idx);
    const { nKvHeads, rows, headDim, nSel } = validateOpArgs.scatterChunks(dt, st, it, chunkSize);
    this.call('scatterChunks', (c) => c.scatterChunks(dt.ptr, st.ptr, it.ptr, nKvHeads, rows, headDim, nSel, chunkSize));
    this.wrote(dt);
  }

  rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): Tensor {
    const [at, bt, it] = this.own('rebuildKeys', a, b, idx);
    const { seqLen, rank, nKvHeads, headDim, nSel } = validateOpArgs.rebuildKeys(at, bt, it, chunkSize, positionOffset, rope);
    const inv = this.invFreq('rebuildKeys', rope);
    const out = this.f32Out('rebuildKeys', [nKvHeads, nSel * chunkSize, headDim]);
    this.call('rebuildKeys', (c) =>
      c.rebuildKeys(out.ptr, at.ptr, bt.ptr, it.ptr, seqLen, rank, nKvHeads, headDim, nSel, chunkSize, positionOffset, inv.ptr, rope.attentionScaling),
    );
    return out;
  }

  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor {
    const [qt, lt] = this.own('landmarkScores', q, landmarks);
    const { nKvHeads, nChunks, headDim } = validateOpArgs.landmarkScores(qt, lt, nHeads);
    const out = this.f32Out('landmarkScores', [nKvHeads, nChunks]);
    this.call('landmarkScores', (c) => c.landmarkScores(out.ptr, qt.ptr, lt.ptr, nHeads, nKvHeads, nChunks, headDim, scale));
    return out;
  }

  topK(x: Tensor, k: number): Tensor {
    const [xt] = this.own('topK', x);
    const { rows, n } = validateOpArgs.topK(xt, k);
    const out = this.alloc('topK', [rows, k], 'i32');
    this.wrote(out);
    this.call('topK', (c) => c.topK(out.ptr, xt.ptr, rows, n, k));
    return out;
  }
}

/** The same tensor seen as f32, for core's checks of ops whose weight operand may be 16-bit here. */
function asF32(t: CudaTensor): Tensor {
  return { shape: t.shape, dtype: 'f32', backend: t.backend };
}
