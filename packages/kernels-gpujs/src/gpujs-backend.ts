// The gpu.js backend: every op of KernelBackend as gpu.js kernels over flat float outputs (textures in the
// GL modes). Each op validates its arguments like the CPU reference, picks a cached kernel and dispatches.
import {
  BackendDestroyedError,
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
import { attentionBlocks, SCORE_BUDGET_ELEMENTS } from './attention-blocks.js';
import { rowStats } from './row-stats.js';
import { TOPK_COUNTING_MAX_N, topKIndices } from './top-k.js';
import { GpujsTensor, type GpujsData } from './gpujs-tensor.js';
import { KernelRunner, type DataArg } from './kernel-runner.js';
import type { GpujsInstance } from './load-gpujs.js';

/** The gpu.js kernel implementations this backend can run on. */
export type GpujsKernelMode = 'headlessgl' | 'webgl2' | 'webgl' | 'webasm' | 'cpu';

const KERNEL_CLASS_MODES: Record<string, GpujsKernelMode> = {
  HeadlessGLKernel: 'headlessgl',
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
  WebAssemblyKernel: 'webasm',
  CPUKernel: 'cpu',
};

/**
 * Largest tensor in the GL modes: shaders compute flat indices in f32, and the kernels' index math
 * (floor((t + 0.5) / n)) needs t + 0.5 to be exact, which holds below 2^23. The JS modes (cpu, webasm)
 * index with doubles and allow 2^31 - 1 bytes like the CPU backend.
 */
export const GL_MAX_ELEMENTS = 2 ** 23;

/**
 * Longest loop a GL kernel may run: Mesa's software rasterizer (llvmpipe) stops any shader loop after
 * 65535 iterations and returns garbage. Long rows are split into blocks instead; the remaining loops
 * (matmul k, rmsNorm d, attention capacity) throw a ShapeError beyond it.
 */
export const GL_MAX_LOOP = 65535;

function isGpujsData(d: unknown): d is { toArray(): Float32Array | number[]; delete(): void } {
  return typeof d === 'object' && d !== null && 'toArray' in d;
}

export class GpujsBackend implements KernelBackend {
  readonly name = 'gpujs';
  readonly capabilities: BackendCapabilities;
  /** The kernel implementation gpu.js chose (e.g. 'headlessgl' under X, 'webasm' without GL). */
  readonly mode: GpujsKernelMode;
  private readonly runner: KernelRunner;
  private readonly maxElements: number;
  /** Rows of topK up to this length use counting, longer ones a bitonic sort (tests lower it to cover both). */
  topKCountingMaxN = TOPK_COUNTING_MAX_N;

  /**
   * @param gpu a gpu.js instance (its chosen kernel class sets `mode`)
   * @param scoreBudget elements of the per-block attention score buffer (see `SCORE_BUDGET_ELEMENTS`)
   * @param specializeShapes compile per shape (fast kernels) or per loop bucket (few compiles); see KernelRunner
   */
  constructor(
    private readonly gpu: GpujsInstance,
    private readonly scoreBudget = SCORE_BUDGET_ELEMENTS,
    specializeShapes = true,
  ) {
    const kernelName = gpu.Kernel?.name ?? 'CPUKernel';
    this.mode = KERNEL_CLASS_MODES[kernelName] ?? 'cpu';
    const gl = this.mode === 'headlessgl' || this.mode === 'webgl' || this.mode === 'webgl2';
    this.maxElements = gl ? GL_MAX_ELEMENTS : Math.floor((2 ** 31 - 1) / 4);
    this.capabilities = { dtypes: ['f32', 'i32'], weightDtypes: ['f32'], maxTensorBytes: this.maxElements * 4 };
    this.runner = new KernelRunner(gpu, specializeShapes, gl ? GL_MAX_LOOP : Infinity);
  }

  /** Distinct kernels compiled so far (a recompile on every decode step would show up here). */
  get compiledKernels(): number {
    return this.runner.compiledCount;
  }

  private destroyed = false;

  /**
   * Releases the gpu.js instance and its GL context (idempotent); afterwards every op, read and upload throws
   * BackendDestroyedError, and dispose() of an old tensor does nothing (its texture went with the context).
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.gpu.destroy();
  }

  private checkAlive(op: string): void {
    if (this.destroyed) throw new BackendDestroyedError(this.name, op);
  }

  // ---- helpers ----

  private own(op: string, ...ts: Tensor[]): GpujsTensor[] {
    this.checkAlive(op);
    return ts.map((t) => {
      if (!(t instanceof GpujsTensor)) throw new ShapeError(op, `tensor from backend "${t.backend}" passed to the gpujs backend`);
      if (t.owner !== this) throw new ShapeError(op, 'tensor from another gpujs backend instance (GL textures cannot cross contexts)');
      return t;
    });
  }

  private checkSize(op: string, shape: Shape): number {
    this.checkAlive(op);
    const n = numel(shape);
    if (n > this.maxElements) {
      throw new ShapeError(op, `shape [${shape.join(', ')}] has ${n} elements; the gpujs backend in ${this.mode} mode holds at most ${this.maxElements} per tensor — split the tensor or use another backend`);
    }
    return n;
  }

  private arg(t: GpujsTensor): DataArg {
    return { data: t.data, length: numel(t.shape) };
  }

  private make(shape: Shape, dtype: DType, data: GpujsData): GpujsTensor {
    return new GpujsTensor([...shape], dtype, data, this);
  }

  private release(data: GpujsData): void {
    if (isGpujsData(data)) data.delete();
  }

  // ---- memory ----

  upload(data: Float32Array | Int32Array, shape: Shape, dtype: DType = data instanceof Int32Array ? 'i32' : 'f32'): Tensor {
    const n = this.checkSize('upload', shape);
    validateOpArgs.upload(this, data, shape, dtype);
    // i32 values are stored as floats: exact for |v| <= 2^24, which covers ids, positions and indices.
    const host = data instanceof Int32Array ? Float32Array.from(data) : data.slice();
    return this.make(shape, dtype, this.runner.run('copy', n, {}, [host]));
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    const n = this.checkSize('zeros', shape);
    validateOpArgs.dtype('zeros', this, dtype);
    return this.make(shape, dtype, this.runner.run('fillZero', n, {}, []));
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    const [g] = this.own('read', t);
    const raw = isGpujsData(g.data) ? g.data.toArray() : g.data;
    const n = numel(g.shape);
    if (g.dtype === 'i32') {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.round(raw[i]);
      return out;
    }
    return raw instanceof Float32Array && raw.length === n && raw !== g.data ? raw : Float32Array.from(raw).subarray(0, n);
  }

  dispose(t: Tensor): void {
    if (this.destroyed) return;
    const [g] = this.own('dispose', t);
    this.release(g.data);
    g.data = new Float32Array(0);
  }

  async sync(): Promise<void> {
    this.checkAlive('sync');
    // gpu.js kernel calls complete before they return (GL reads block); nothing is queued here.
  }

  // ---- dense ops ----

  embedding(table: Tensor, ids: Tensor): Tensor {
    const [tt, it] = this.own('embedding', table, ids);
    const { hidden, m } = validateOpArgs.embedding(table, ids);
    const shape = [m, hidden];
    const n = this.checkSize('embedding', shape);
    return this.make(shape, 'f32', this.runner.run('embedding', n, {}, [this.arg(tt), this.arg(it), hidden]));
  }

  matmul(x: Tensor, w: Tensor): Tensor {
    const [xt, wt] = this.own('matmul', x, w);
    const { m, k, n } = validateOpArgs.matmul(x, w);
    const shape = [m, n];
    const size = this.checkSize('matmul', shape);
    return this.make(shape, 'f32', this.runner.run('matmul', size, { kMax: k }, [this.arg(xt), this.arg(wt), n, k]));
  }

  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
    const [xt, wt] = this.own('rmsNorm', x, w);
    const { m, d } = validateOpArgs.rmsNorm(x, w);
    const r = this.runner.run('rmsStats', m, { dMax: d }, [this.arg(xt), eps, d]);
    const out = this.runner.run('rmsApply', m * d, {}, [this.arg(xt), this.arg(wt), { data: r, length: m }, d]);
    this.release(r);
    return this.make(x.shape, 'f32', out);
  }

  add(a: Tensor, b: Tensor): Tensor {
    const [at, bt] = this.own('add', a, b);
    validateOpArgs.elementwise('add', a, b);
    return this.make(a.shape, 'f32', this.runner.run('add', numel(a.shape), {}, [this.arg(at), this.arg(bt)]));
  }

  swiglu(gate: Tensor, up: Tensor): Tensor {
    const [gt, ut] = this.own('swiglu', gate, up);
    validateOpArgs.elementwise('swiglu', gate, up);
    return this.make(gate.shape, 'f32', this.runner.run('swiglu', numel(gate.shape), {}, [this.arg(gt), this.arg(ut)]));
  }

  rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
    const [xt, pt] = this.own('rope', x, positions);
    const { headDim: d } = validateOpArgs.rope(x, positions, nHeads, rope);
    const args = [this.arg(xt), this.arg(pt), rope.invFreq, rope.attentionScaling, nHeads * d, d];
    const out = this.runner.run('rope', numel(x.shape), {}, args);
    return this.make(x.shape, 'f32', out);
  }

  softmax(x: Tensor): Tensor {
    const [xt] = this.own('softmax', x);
    const { rows, n } = validateOpArgs.softmax(x);
    const stats = rowStats(this.runner, this.arg(xt), rows, n);
    const out = this.runner.run('softmaxApply', rows * n, {}, [this.arg(xt), { data: stats, length: rows * 2 }, n]);
    this.release(stats);
    return this.make(x.shape, 'f32', out);
  }

  // ---- KV layout ----

  writeKv(cache: Tensor, x: Tensor, start: number): void {
    const [ct, xt] = this.own('writeKv', cache, x);
    const { nKvHeads: nKv, capacity: cap, headDim: d, m } = validateOpArgs.writeKv(cache, x, start);
    // Textures are immutable outputs: "in place" is a copy of the cache with the new rows, swapped in.
    const next = this.runner.run('writeKv', numel(cache.shape), {}, [this.arg(ct), this.arg(xt), start, cap, d, nKv, m]);
    this.release(ct.data);
    ct.data = next;
  }

  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
    const [qt, kt, vt] = this.own('attention', q, k, v);
    const { m, capacity } = validateOpArgs.attention(q, k, v, p);
    const out = attentionBlocks(this.runner, this.arg(qt), this.arg(kt), this.arg(vt), m, capacity, p, this.scoreBudget);
    return this.make(q.shape, 'f32', out);
  }

  // ---- sparse decode ops ----

  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor {
    const [st, it] = this.own('gatherChunks', src, idx);
    const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.gatherChunks(src, idx, chunkSize);
    const shape = [nKv, nSel * chunkSize, d];
    const n = this.checkSize('gatherChunks', shape);
    const out = this.runner.run('gatherChunks', n, {}, [this.arg(st), this.arg(it), nSel, chunkSize, d, rows]);
    return this.make(shape, 'f32', out);
  }

  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void {
    const [dt, st, it] = this.own('scatterChunks', dst, src, idx);
    const { nKvHeads: nKv, rows, headDim: d, nSel } = validateOpArgs.scatterChunks(dst, src, idx, chunkSize);
    // Textures cannot be written at scattered places: invert the ids per head, then rebuild dst as a gather.
    const nChunks = Math.floor(rows / chunkSize);
    if (nChunks === 0 || nSel === 0) return;
    const inverse = this.runner.run('scatterInverse', nKv * nChunks, { selMax: nSel }, [this.arg(it), nChunks, nSel]);
    const args = [this.arg(dt), this.arg(st), { data: inverse, length: nKv * nChunks }, rows, nChunks, nSel, chunkSize, d];
    const next = this.runner.run('scatterChunks', numel(dst.shape), {}, args);
    this.release(inverse);
    this.release(dt.data);
    dt.data = next;
  }

  rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, rope: RopeSpec): Tensor {
    const [at, bt, it] = this.own('rebuildKeys', a, b, idx);
    const { rank, nKvHeads: nKv, headDim: d, nSel } = validateOpArgs.rebuildKeys(a, b, idx, chunkSize, positionOffset, rope);
    const shape = [nKv, nSel * chunkSize, d];
    const n = this.checkSize('rebuildKeys', shape);
    const args = [this.arg(at), this.arg(bt), this.arg(it), rope.invFreq, positionOffset, rope.attentionScaling, nSel, chunkSize, rank, d];
    return this.make(shape, 'f32', this.runner.run('rebuildKeys', n, { rankMax: rank }, args));
  }

  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor {
    const [qt, lt] = this.own('landmarkScores', q, landmarks);
    const { nKvHeads: nKv, nChunks, headDim: d, group } = validateOpArgs.landmarkScores(q, landmarks, nHeads);
    const logits = this.runner.run('landmarkLogits', nHeads * nChunks, { dMax: d }, [this.arg(qt), this.arg(lt), scale, nChunks, d, group]);
    const logitsArg = { data: logits, length: nHeads * nChunks };
    const stats = rowStats(this.runner, logitsArg, nHeads, nChunks);
    const out = this.runner.run('landmarkMax', nKv * nChunks, { groupMax: group }, [logitsArg, { data: stats, length: nHeads * 2 }, nChunks, group]);
    this.release(logits);
    this.release(stats);
    return this.make([nKv, nChunks], 'f32', out);
  }

  topK(x: Tensor, k: number): Tensor {
    const [xt] = this.own('topK', x);
    const { rows, n } = validateOpArgs.topK(x, k);
    const out = topKIndices(this.runner, this.arg(xt), rows, n, k, this.topKCountingMaxN);
    return this.make([rows, k], 'i32', out);
  }
}
