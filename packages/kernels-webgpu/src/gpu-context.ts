// One WebGPU device and the machinery every kernel shares: the buffer arena, the pipeline and bind group
// caches, a uniform arena, batched command encoding (submitted every few layers) and error capture.
import { BackendDestroyedError, BackendUnavailableError, bytesPerElement, numel, ShapeError, type BackendCounters, type DType, type Shape, type Tensor } from '@shadowkv/core';
import { BindGroupCache, storageKinds, type StorageKind } from './bind-group-cache.js';
import { BufferPool, sizeClass } from './buffer-pool.js';
import { GpuTimer } from './gpu-timer.js';
import type { BindingLimits, BindingWindow } from './binding-parts.js';
import { BufferUsage, MapMode } from './gpu-constants.js';
import { GpuTensor } from './gpu-tensor.js';
import { specKey, type KernelDef, type Spec } from './kernel-def.js';
import { UNIFORM_BLOCK_BYTES, writeUniforms, type UniformValue } from './uniform-values.js';
import { WebGpuError } from './webgpu-error.js';

/** A storage binding: a whole tensor or one window of a buffer. */
export type StorageBinding = GpuTensor | (BindingWindow & { buffer: GPUBuffer });

/** Dispatches recorded between two submits at most; one uniform block each. */
const ARENA_SLOTS = 1024;

/**
 * Dispatches recorded before a submit: a decode layer is ~10-25 dispatches, so the GPU starts on the
 * first layers while the host still encodes the rest instead of idling until the whole step is encoded.
 */
export const SUBMIT_EVERY = 64;

/**
 * Bytes of released buffers kept for reuse (the arena); beyond it released buffers are destroyed. A decode
 * step's intermediates are a few MiB; a 512-token prefill chunk of a 1B model's MLP about 100 MiB.
 */
const DEFAULT_POOL_BYTES = 256 << 20;

/**
 * Uploads and zeros() from this size on get exactly sized buffers, outside the arena (weights and KV caches:
 * long-lived, large, destroyed when disposed), so size-class rounding never wastes memory on them.
 */
const EXACT_BYTES = 1 << 20;

interface KernelPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  kinds: StorageKind[];
}

export interface ContextLimits extends BindingLimits {
  maxBufferSize: number;
  maxWorkgroupsPerDimension: number;
}

export class GpuContext {
  readonly limits: ContextLimits;
  private readonly pipelines = new Map<string, KernelPipeline>();
  private readonly pool: BufferPool;
  private readonly bindGroups: BindGroupCache;
  /** Staging buffers for reads, by size class, reused (one map per read). */
  private readonly staging = new Map<number, GPUBuffer[]>();
  /**
   * Test hook: fill every reused buffer with NaN before handing it out, so a kernel that relied on the
   * zero-fill of fresh buffers fails conformance instead of passing by luck.
   */
  poisonReused = false;
  /** Dtypes matmul's w and embedding's table may have (BackendCapabilities.weightDtypes). */
  readonly weightDtypes: readonly DType[] = ['f32', 'f16', 'bf16'];
  /** Whether the device has the subgroups feature (GEMV reduces with subgroupAdd). */
  readonly subgroups: boolean;
  /** GPU time of the compute passes (counters.gpuMs), when the device has timestamp-query. */
  private readonly timer: GpuTimer | null = null;
  private readonly arena: GPUBuffer;
  private readonly arenaBytes: ArrayBuffer;
  private readonly arenaView: DataView;
  private readonly slotStride: number;
  private slotsUsed = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private scopeOpen = false;
  private pendingErrors: Promise<GPUError | null>[] = [];
  private lostReason: string | null = null;
  /** Set by destroy(): every later op, read and upload throws BackendDestroyedError (checkAlive). */
  private destroyed = false;
  /** Work done so far (BackendCounters); every createBuffer, createBindGroup, dispatch, submit and read counts here. */
  readonly counters: BackendCounters = {
    dispatches: 0,
    submits: 0,
    hostReads: 0,
    bufferCreations: 0,
    bindGroupCreations: 0,
    bytesUploaded: 0,
    bytesReadBack: 0,
    deviceBytesRead: 0,
    gpuMs: null,
  };

  constructor(
    readonly device: GPUDevice,
    maxBindingBytes: number,
  ) {
    const l = device.limits;
    this.limits = {
      maxBindingBytes,
      offsetAlignment: l.minStorageBufferOffsetAlignment,
      maxBufferSize: l.maxBufferSize,
      maxWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    };
    this.subgroups = device.features.has('subgroups');
    if (device.features.has('timestamp-query')) {
      this.counters.gpuMs = 0;
      this.timer = new GpuTimer(
        device,
        (ms) => {
          this.counters.gpuMs = (this.counters.gpuMs ?? 0) + ms;
        },
        () => this.counters.bufferCreations++,
      );
    }
    this.slotStride = Math.max(UNIFORM_BLOCK_BYTES, l.minUniformBufferOffsetAlignment);
    this.counters.bufferCreations++;
    this.arena = device.createBuffer({ size: this.slotStride * ARENA_SLOTS, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
    this.arenaBytes = new ArrayBuffer(this.slotStride * ARENA_SLOTS);
    this.arenaView = new DataView(this.arenaBytes);
    this.bindGroups = new BindGroupCache(device, this.arena, UNIFORM_BLOCK_BYTES, () => this.counters.bindGroupCreations++);
    this.pool = new BufferPool({
      create: (size) => {
        this.openScope();
        this.counters.bufferCreations++;
        return this.device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
      },
      onDestroy: (b) => this.bindGroups.forget(b),
      maxFreeBytes: Math.min(DEFAULT_POOL_BYTES, l.maxBufferSize),
    });
    void device.lost.then((info) => {
      this.lostReason = info.message || info.reason || 'unknown reason';
    });
  }

  /** Throws if the device is gone; every op calls this first. */
  checkAlive(op: string): void {
    if (this.destroyed) throw new BackendDestroyedError('webgpu', op);
    if (this.lostReason !== null) {
      throw new BackendUnavailableError('webgpu', `the GPU device was lost (${this.lostReason}) before ${op}; create a new backend with webgpu()`);
    }
  }

  /** Checks that `t` is a live tensor of this device (of `dtype`, if given) and returns it typed. */
  own(op: string, name: string, t: Tensor, dtype?: DType): GpuTensor {
    if (!(t instanceof GpuTensor) || t.owner !== this) {
      throw new ShapeError(op, `${name} is a tensor of backend "${t.backend}", not of this webgpu device; upload it here first`);
    }
    if (t.disposed) throw new ShapeError(op, `${name} was disposed`);
    if (dtype && t.dtype !== dtype) throw new ShapeError(op, `${name} has dtype ${t.dtype}, expected ${dtype}`);
    return t;
  }

  /** Throws unless `t` fits one storage binding (ops that do not split their operands). */
  bindable(op: string, name: string, t: GpuTensor): GpuTensor {
    if (t.byteLength > this.limits.maxBindingBytes) {
      throw new ShapeError(op, `${name} [${t.shape.join(', ')}] is ${t.byteLength} bytes, more than this adapter binds at once (maxStorageBufferBindingSize ${this.limits.maxBindingBytes}); call ${op} on fewer rows at a time`);
    }
    return t;
  }

  /**
   * A tensor from the buffer arena. Its contents are undefined (a reused buffer holds an earlier tensor's
   * data): every kernel writes all of its output; `zero` clears it first (zeros(), empty sums).
   * `longLived` (uploads, zeros()): from EXACT_BYTES on, an exactly sized buffer outside the arena.
   */
  alloc(op: string, shape: Shape, dtype: DType, opts: { zero?: boolean; longLived?: boolean; host?: Int32Array } = {}): GpuTensor {
    // 16-bit tensors are bound as u32 words, so their buffers round up to 4 bytes.
    const bytes = Math.ceil((numel(shape) * bytesPerElement(dtype)) / 4) * 4;
    if (bytes > this.limits.maxBufferSize) {
      throw new ShapeError(op, `a tensor of shape [${shape.join(', ')}] needs ${bytes} bytes, more than this adapter's maxBufferSize ${this.limits.maxBufferSize}; split it (e.g. fewer rows per call)`);
    }
    const { buffer, reused } = this.pool.acquire(bytes, opts.longLived === true && bytes >= EXACT_BYTES);
    if (reused && opts.zero) this.clear(buffer, bytes);
    else if (reused && this.poisonReused) this.device.queue.writeBuffer(buffer, 0, new Float32Array(buffer.size / 4).fill(NaN));
    return new GpuTensor([...shape], dtype, buffer, bytes, this, opts.host);
  }

  /** Copies host data into a new tensor (queued; ordered before any later dispatch). */
  upload(op: string, data: Float32Array | Int32Array | Uint16Array, shape: Shape, dtype: DType): GpuTensor {
    // Large uploads (weights) are sized exactly; small ones (ids, the misses' values) by size class, so a
    // size that varies from step to step still reuses arena buffers.
    const t = this.alloc(op, shape, dtype, { longLived: true, host: dtype === 'i32' ? (data as Int32Array).slice() : undefined });
    this.counters.bytesUploaded += data.byteLength;
    if (data.byteLength % 4 !== 0) {
      // writeBuffer copies whole words: an odd count of 16-bit values goes up padded.
      const padded = new Uint16Array(t.byteLength / 2);
      padded.set(data as Uint16Array);
      this.device.queue.writeBuffer(t.buffer, 0, padded.buffer, 0, padded.byteLength);
    } else if (data.byteLength > 0) this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return t;
  }

  /** Zero-fills the first `bytes` bytes of a buffer, ordered with the dispatches recorded around it. */
  clear(buffer: GPUBuffer, bytes: number): void {
    if (bytes === 0) return;
    this.openScope();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    this.encoder.clearBuffer(buffer, 0, Math.ceil(bytes / 4) * 4);
  }

  /** The compute pipeline of one kernel specialisation, compiled on first use, with its explicit layout. */
  pipeline<S extends Spec>(kernel: KernelDef<S>, spec: S): KernelPipeline {
    const key = specKey(kernel as KernelDef<Spec>, spec);
    let p = this.pipelines.get(key);
    if (!p) {
      this.openScope();
      const code = kernel.render(spec);
      const kinds = storageKinds(code);
      const layout = this.bindGroups.layout(kinds);
      const module = this.device.createShaderModule({ label: key, code });
      const pipeline = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      });
      p = { pipeline, layout, kinds };
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Number of compiled pipelines (tests check that decode steps compile nothing new). */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /**
   * Records one dispatch: binding 0 is the uniform block holding `uniforms`, bindings 1.. are `storage`.
   * `grid` is in workgroups; each dimension must be <= maxComputeWorkgroupsPerDimension.
   */
  dispatch<S extends Spec>(
    kernel: KernelDef<S>,
    spec: S,
    uniforms: readonly UniformValue[],
    storage: readonly StorageBinding[],
    grid: readonly [number, number, number],
    /** Bytes the kernel reads from memory; default: every storage binding's size (an upper bound). */
    bytesRead?: number,
  ): void {
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    for (const g of grid) {
      if (g > this.limits.maxWorkgroupsPerDimension) {
        throw new ShapeError(kernel.name, `needs ${g} workgroups in one dimension, more than this adapter's ${this.limits.maxWorkgroupsPerDimension}`);
      }
    }
    const p = this.pipeline(kernel, spec);
    if (p.kinds.length !== storage.length) {
      throw new RangeError(`${kernel.name} declares ${p.kinds.length} storage bindings but was given ${storage.length}`);
    }
    if (this.slotsUsed === ARENA_SLOTS) this.flush();
    const slot = this.slotsUsed++;
    writeUniforms(this.arenaView, slot * this.slotStride, uniforms);
    // A tensor binds its whole arena buffer (kernels index by their uniforms, never by arrayLength), so the
    // bind group of a buffer is the same whatever size the tensor in it has this step (e.g. the misses' values).
    const entries = storage.map((s) =>
      s instanceof GpuTensor
        ? { buffer: s.buffer, offset: 0, size: Math.min(s.buffer.size, this.limits.maxBindingBytes - (this.limits.maxBindingBytes % 4)) }
        : { buffer: s.buffer, offset: s.offset, size: s.size },
    );
    this.openScope();
    this.counters.dispatches++;
    this.counters.deviceBytesRead += bytesRead ?? entries.reduce((a, e) => a + e.size, 0);
    const bindGroup = this.bindGroups.group(p.layout, p.kinds, entries);
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      const timestampWrites = this.timer?.passTimestamps();
      this.pass = this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
    }
    this.pass.setPipeline(p.pipeline);
    this.pass.setBindGroup(0, bindGroup, [slot * this.slotStride]);
    this.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.slotsUsed >= SUBMIT_EVERY) this.flush();
  }

  /** A 2-D grid covering `n` workgroups (kernels rebuild the linear index with num_workgroups.x). */
  linearGrid(op: string, n: number): [number, number, number] {
    const maxDim = this.limits.maxWorkgroupsPerDimension;
    if (n <= maxDim) return [n, 1, 1];
    const y = Math.ceil(n / maxDim);
    if (y > maxDim) throw new ShapeError(op, `needs ${n} workgroups, more than this adapter can dispatch (${maxDim}²)`);
    return [maxDim, y, 1];
  }

  /** Scratch space of one op (from the arena, contents undefined); the op hands it to `release` after its last dispatch. */
  scratch(op: string, bytes: number): GpuTensor {
    return this.alloc(op, [Math.max(1, Math.ceil(bytes / 4))], 'f32');
  }

  /** Returns a buffer to the arena; it is reused only after the commands recorded so far are submitted. */
  release(buffer: GPUBuffer): void {
    this.pool.release(buffer, this.encoder !== null);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.encoder) {
      if (this.slotsUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaBytes, 0, this.slotsUsed * this.slotStride);
      const startTimingRead = this.timer?.resolve(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      startTimingRead?.();
      this.counters.submits++;
      this.encoder = null;
    }
    this.slotsUsed = 0;
    this.pool.submitted();
    this.closeScope();
  }

  /** Submits, waits for the queue and throws the first error the device reported. */
  async drain(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.throwPendingErrors();
  }

  /** Reads the first `bytes` bytes of a buffer back to the host. */
  async readBuffer(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.flush();
    if (bytes === 0) {
      await this.throwPendingErrors();
      return new ArrayBuffer(0);
    }
    this.openScope();
    this.counters.hostReads++;
    this.counters.submits++;
    this.counters.bytesReadBack += bytes;
    const size = sizeClass(bytes);
    let staging = this.staging.get(size)?.pop();
    if (!staging) {
      this.counters.bufferCreations++;
      staging = this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    }
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    this.closeScope();
    try {
      await staging.mapAsync(MapMode.READ);
    } catch (cause) {
      await this.throwPendingErrors();
      throw new WebGpuError(`reading a buffer back failed: ${String(cause)}`, { cause });
    }
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    let free = this.staging.get(size);
    if (!free) this.staging.set(size, (free = []));
    // A few per size: reads of one size follow each other (one logits row per step).
    if (free.length < 4) free.push(staging);
    else staging.destroy();
    await this.throwPendingErrors();
    return out;
  }

  /** Idempotent: the device (and with it every buffer) is destroyed once. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.flush();
    this.pool.clear();
    this.arena.destroy();
    this.device.destroy();
  }

  private openScope(): void {
    if (this.scopeOpen) return;
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    this.scopeOpen = true;
  }

  private closeScope(): void {
    if (!this.scopeOpen) return;
    this.pendingErrors.push(this.device.popErrorScope(), this.device.popErrorScope());
    this.scopeOpen = false;
  }

  private async throwPendingErrors(): Promise<void> {
    this.closeScope();
    const errors = await Promise.all(this.pendingErrors);
    this.pendingErrors = [];
    const first = errors.find((e) => e !== null);
    if (first) throw new WebGpuError(`${first.constructor.name}: ${first.message}`);
    this.checkAlive('the read');
  }
}
