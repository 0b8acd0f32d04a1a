// The WebGPU backend: KernelBackend over GPU buffers. Ops validate on the host, record dispatches and
// return at once; only read() and sync() wait for the GPU. Semantics follow @shadowkv/kernels-cpu.
import {
  bf16ToF32,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  numel,
  validateOpArgs,
  type AttentionParams,
  type BackendCapabilities,
  type BackendCounters,
  type ChunkCacheUpdate,
  type ChunkCacheUpdateParams,
  type DType,
  type KernelBackend,
  type RopeSpec,
  type Shape,
  type Tensor,
} from '@shadowkv/core';
import { GpuContext } from './gpu-context.js';
import type { WebGpuDevice } from './public-gpu-types.js';
import type { GpuTensor } from './gpu-tensor.js';
import { attention } from './kernels/attention.js';
import { chunkCacheUpdate } from './kernels/chunk-cache-update.js';
import { elementwise } from './kernels/elementwise.js';
import { embedding } from './kernels/embedding.js';
import { gatherChunks } from './kernels/gather-chunks.js';
import { landmarkScores } from './kernels/landmark-scores.js';
import { matmul, matmulAdd, matmulSwiglu, rmsNormMatmuls, rmsNormMatmulSwiglu } from './kernels/matmul.js';
import { rebuildKeys } from './kernels/rebuild-keys.js';
import { rmsNorm } from './kernels/rms-norm.js';
import { rope, ropeQk } from './kernels/rope.js';
import { scatterChunks } from './kernels/scatter-chunks.js';
import { softmax } from './kernels/softmax.js';
import { topK } from './kernels/top-k.js';
import { writeKv, writeKvPair } from './kernels/write-kv.js';
import { ropeTable } from './rope-table.js';

export class WebGpuBackend implements KernelBackend {
  readonly name = 'webgpu';
  readonly capabilities: BackendCapabilities;
  /** Whether the adapter offers shader-f16 (requested on the device; kernels compute in f32 for now). */
  readonly f16: boolean;
  /** Adapter description, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  readonly adapterName: string;
  private readonly ctx: GpuContext;
  // RoPE frequency tables on the device, one per RopeSpec object (specs are built once per model).
  private readonly ropeTables = new WeakMap<RopeSpec, { invFreq: Float32Array; table: GpuTensor }>();

  /** Use webgpu() to create one; the device must outlive the backend's tensors. */
  constructor(
    deviceIn: WebGpuDevice,
    opts: { adapterName: string; maxBindingBytes: number; keepAlive?: unknown; poisonReusedBuffers?: boolean },
  ) {
    // The public signature is structural (public-gpu-types.ts); inside, it is WebGPU's GPUDevice.
    const device = deviceIn as unknown as GPUDevice;
    this.ctx = new GpuContext(device, opts.maxBindingBytes);
    this.ctx.poisonReused = opts.poisonReusedBuffers ?? false;
    this.f16 = device.features.has('shader-f16');
    this.adapterName = opts.adapterName;
    // 16-bit weights are read as u32 words and widened in core WGSL (unpack2x16float, a shift for bf16), so
    // every adapter takes them, with or without shader-f16; bf16 stays bf16 (exact, no conversion at load).
    this.capabilities = { dtypes: ['f32', 'i32'], weightDtypes: this.ctx.weightDtypes, maxTensorBytes: device.limits.maxBufferSize };
    this.keepAlive = opts.keepAlive;
  }

  /** The Dawn instance in Node: held so it cannot be collected while this device is in use. */
  private readonly keepAlive: unknown;

  /** The per-binding size this backend splits at (maxStorageBufferBindingSize unless lowered). */
  get maxBindingBytes(): number {
    return this.ctx.limits.maxBindingBytes;
  }

  /** Work counters since creation (a snapshot): dispatches, submits, host reads, buffer and bind group creations, bytes. */
  counters(): BackendCounters {
    return { ...this.ctx.counters };
  }

  /** Compiled pipelines so far; constant across decode steps once the first step ran. */
  get pipelineCount(): number {
    return this.ctx.pipelineCount;
  }

  /**
   * f16/bf16 weights stay 16-bit on the device (half the bytes per decode step); a Float32Array given for a
   * 16-bit dtype is rounded on the host (round to nearest even, as core's converters).
   */
  upload(data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype: DType = data instanceof Int32Array ? 'i32' : 'f32'): Tensor {
    this.ctx.checkAlive('upload');
    validateOpArgs.upload(this, data, shape, dtype);
    if (data instanceof Float32Array && (dtype === 'f16' || dtype === 'bf16')) data = dtype === 'f16' ? f32ToF16(data) : f32ToBf16(data);
    return this.ctx.upload('upload', data, shape, dtype);
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    this.ctx.checkAlive('zeros');
    validateOpArgs.dtype('zeros', this, dtype);
    return this.ctx.alloc('zeros', shape, dtype, { zero: true, longLived: true });
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    const g = this.ctx.own('read', 't', t);
    this.ctx.checkAlive('read');
    const bytes = await this.ctx.readBuffer(g.buffer, g.byteLength);
    if (g.dtype === 'f16' || g.dtype === 'bf16') {
      const bits = new Uint16Array(bytes, 0, numel(g.shape));
      return g.dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits);
    }
    return g.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  dispose(t: Tensor): void {
    const g = this.ctx.own('dispose', 't', t);
    g.disposed = true;
    this.ctx.release(g.buffer);
  }

  async sync(): Promise<void> {
    this.ctx.checkAlive('sync');
    await this.ctx.drain();
  }

  /** Releases the GPU device; the backend and its tensors are unusable afterwards. */
  destroy(): void {
    this.ctx.destroy();
  }

  embedding(table: Tensor, ids: Tensor): Tensor {
    this.ctx.checkAlive('embedding');
    return embedding(this.ctx, table, ids);
  }

  matmul(x: Tensor, w: Tensor): Tensor {
    this.ctx.checkAlive('matmul');
    return matmul(this.ctx, x, w);
  }

  /** One GEMV dispatch for decode-sized x (the residual is added as the sums are stored). */
  matmulAdd(x: Tensor, w: Tensor, residual: Tensor): Tensor {
    this.ctx.checkAlive('matmulAdd');
    return matmulAdd(this.ctx, x, w, residual);
  }

  /** One GEMV dispatch for decode-sized x, reading the gate and up weights for the same x. */
  matmulSwiglu(x: Tensor, wGate: Tensor, wUp: Tensor): Tensor {
    this.ctx.checkAlive('matmulSwiglu');
    return matmulSwiglu(this.ctx, x, wGate, wUp);
  }

  /** Decode-sized x: the norm inside the GEMV, and q/k/v (two or three weights) in one launch. */
  rmsNormMatmuls(x: Tensor, norm: Tensor, eps: number, ws: readonly Tensor[]): Tensor[] {
    this.ctx.checkAlive('rmsNormMatmuls');
    return rmsNormMatmuls(this.ctx, x, norm, eps, ws);
  }

  /** Decode-sized x: norm, gate, up and SwiGLU in one GEMV launch. */
  rmsNormMatmulSwiglu(x: Tensor, norm: Tensor, eps: number, wGate: Tensor, wUp: Tensor): Tensor {
    this.ctx.checkAlive('rmsNormMatmulSwiglu');
    return rmsNormMatmulSwiglu(this.ctx, x, norm, eps, wGate, wUp);
  }

  rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
    this.ctx.checkAlive('rmsNorm');
    return rmsNorm(this.ctx, x, w, eps);
  }

  add(a: Tensor, b: Tensor): Tensor {
    this.ctx.checkAlive('add');
    return elementwise(this.ctx, 'add', a, b);
  }

  swiglu(gate: Tensor, up: Tensor): Tensor {
    this.ctx.checkAlive('swiglu');
    return elementwise(this.ctx, 'swiglu', gate, up);
  }

  rope(x: Tensor, positions: Tensor, nHeads: number, spec: RopeSpec): Tensor {
    this.ctx.checkAlive('rope');
    return rope(this.ctx, this.ropeTableOf, x, positions, nHeads, spec);
  }

  /** Both rotations in one launch. */
  ropeQk(q: Tensor, k: Tensor, positions: Tensor, nHeads: number, nKvHeads: number, spec: RopeSpec): [Tensor, Tensor] {
    this.ctx.checkAlive('ropeQk');
    return ropeQk(this.ctx, this.ropeTableOf, q, k, positions, nHeads, nKvHeads, spec);
  }

  softmax(x: Tensor): Tensor {
    this.ctx.checkAlive('softmax');
    return softmax(this.ctx, x);
  }

  writeKv(cache: Tensor, x: Tensor, start: number): void {
    this.ctx.checkAlive('writeKv');
    writeKv(this.ctx, cache, x, start);
  }

  /** Both writes in one launch when the caches bind whole. */
  writeKvPair(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, start: number): void {
    this.ctx.checkAlive('writeKvPair');
    writeKvPair(this.ctx, kCache, vCache, k, v, start);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
    this.ctx.checkAlive('attention');
    return attention(this.ctx, q, k, v, p);
  }

  gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor {
    this.ctx.checkAlive('gatherChunks');
    return gatherChunks(this.ctx, src, idx, chunkSize);
  }

  scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void {
    this.ctx.checkAlive('scatterChunks');
    scatterChunks(this.ctx, dst, src, idx, chunkSize);
  }

  rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, spec: RopeSpec): Tensor {
    this.ctx.checkAlive('rebuildKeys');
    return rebuildKeys(this.ctx, this.ropeTableOf, a, b, idx, chunkSize, positionOffset, spec);
  }

  landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor {
    this.ctx.checkAlive('landmarkScores');
    return landmarkScores(this.ctx, q, landmarks, nHeads, scale);
  }

  topK(x: Tensor, k: number): Tensor {
    this.ctx.checkAlive('topK');
    return topK(this.ctx, x, k);
  }

  /**
   * The rebuild writes straight into dst's rows (one launch instead of rebuildKeys + scatterChunks); a dst too
   * large for one binding takes the two launches (scatterChunks binds in ranges).
   */
  rebuildKeysInto(dst: Tensor, a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, positionOffset: number, spec: RopeSpec): void {
    this.ctx.checkAlive('rebuildKeysInto');
    const g = this.ctx.own('rebuildKeysInto', 'dst', dst);
    if (g.byteLength <= this.ctx.limits.maxBindingBytes) {
      rebuildKeys(this.ctx, this.ropeTableOf, a, b, idx, chunkSize, positionOffset, spec, dst);
      return;
    }
    const { nKvHeads, nSel } = validateOpArgs.rebuildKeysInto(dst, a, b, idx, chunkSize, positionOffset, spec);
    const keys = rebuildKeys(this.ctx, this.ropeTableOf, a, b, idx, chunkSize, positionOffset, spec);
    // The rebuilt block is chunk 0 of dst seen in blocks of nSel*chunkSize rows.
    const at = this.ctx.upload('rebuildKeysInto', new Int32Array(nKvHeads), [nKvHeads, 1], 'i32');
    scatterChunks(this.ctx, dst, keys, at, nSel * chunkSize);
    this.dispose(at);
    this.dispose(keys);
  }

  /** One launch; only the misses list needs to come back (ChunkCache.queueUpdate). */
  chunkCacheUpdate(table: Tensor, sel: Tensor, p: ChunkCacheUpdateParams): ChunkCacheUpdate {
    this.ctx.checkAlive('chunkCacheUpdate');
    return chunkCacheUpdate(this.ctx, table, sel, p);
  }

  /** Submits what is recorded so far; the GPU starts on it while the host goes on (e.g. awaits a read). */
  flush(): void {
    this.ctx.checkAlive('flush');
    this.ctx.flush();
  }

  private readonly ropeTableOf = (op: string, spec: RopeSpec): GpuTensor => {
    const cached = this.ropeTables.get(spec);
    if (cached && cached.invFreq === spec.invFreq) return cached.table;
    const table = this.ctx.upload(op, ropeTable(op, spec), [spec.headDim / 2, 4], 'f32');
    this.ropeTables.set(spec, { invFreq: spec.invFreq, table });
    return table;
  };
}
