// The buffer arena: storage buffers are reused across ops instead of created per op. Free buffers wait in
// per-size lists; a buffer released while recorded-but-unsubmitted commands may still use it waits until
// the next submit, because queue.writeBuffer (uploads) runs before commands that are submitted later.

/** Up to this size a request rounds up to a power of two (small buffers: the waste is a few KiB). */
const POW2_CLASS_BYTES = 1 << 20;

/**
 * The byte size a request is served from, so that a tensor whose size varies from step to step (the misses'
 * values, attention partials as the context grows) still finds a free buffer: powers of two up to 1 MiB,
 * then one of 8 sizes per power of two (at most 12.5% unused). `exact` requests (weights: uploaded once,
 * large) only round to 16 bytes.
 */
export function sizeClass(bytes: number, exact = false): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (exact) return b;
  if (b <= POW2_CLASS_BYTES) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** (Math.floor(Math.log2(b - 1)) - 3);
  return Math.ceil(b / step) * step;
}

export interface BufferPoolOptions {
  /** Creates a buffer of exactly `size` bytes (the pool counts nothing itself). */
  create(size: number): GPUBuffer;
  /** Called before a buffer the pool gives up is destroyed (bind groups that name it must go). */
  onDestroy(buffer: GPUBuffer): void;
  /** Bytes of free buffers kept for reuse; beyond it released buffers are destroyed. */
  maxFreeBytes: number;
}

export class BufferPool {
  /**
   * Free buffers per size, sorted by creation order, highest first: acquire takes the oldest free buffer,
   * so which buffer an op gets depends only on the set of free buffers, not on the order they came back.
   * A decode step starts from the same free set every time, so it binds the same buffers every step and
   * the bind group cache hits.
   */
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly order = new WeakMap<GPUBuffer, number>();
  /** Exactly sized buffers (weights, KV caches): destroyed when released instead of kept for reuse. */
  private readonly unpooled = new WeakSet<GPUBuffer>();
  private created = 0;
  private freeBytes = 0;
  /** Released while the current command encoder may still use them; free after the next submit. */
  private inFlight: GPUBuffer[] = [];

  constructor(private readonly opts: BufferPoolOptions) {}

  /** A buffer of at least `bytes` bytes: reused if one of its size class is free, else created. */
  acquire(bytes: number, exact = false): { buffer: GPUBuffer; reused: boolean } {
    const size = sizeClass(bytes, exact);
    if (exact) {
      // Long-lived and large: not worth a free list (a freed 256 MiB KV cache would sit in the arena).
      const b = this.opts.create(size);
      this.unpooled.add(b);
      return { buffer: b, reused: false };
    }
    const list = this.free.get(size);
    const buffer = list?.pop();
    if (buffer) {
      this.freeBytes -= size;
      return { buffer, reused: true };
    }
    const created = this.opts.create(size);
    this.order.set(created, this.created++);
    return { buffer: created, reused: false };
  }

  /** Returns a buffer; `recorded`: commands recorded since the last submit may use it. */
  release(buffer: GPUBuffer, recorded: boolean): void {
    if (recorded) this.inFlight.push(buffer);
    else this.putFree(buffer);
  }

  /** Everything released before this submit may now be reused. */
  submitted(): void {
    const list = this.inFlight;
    this.inFlight = [];
    for (const b of list) this.putFree(b);
  }

  /** Destroys every free buffer (the device keeps what live tensors hold). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Bytes held by free buffers (tests, diagnostics). */
  get bytesFree(): number {
    return this.freeBytes;
  }

  private putFree(buffer: GPUBuffer): void {
    if (this.unpooled.has(buffer) || this.freeBytes + buffer.size > this.opts.maxFreeBytes) {
      this.destroy(buffer);
      return;
    }
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    const n = this.order.get(buffer) ?? -1;
    let at = list.length;
    while (at > 0 && (this.order.get(list[at - 1]) ?? -1) < n) at--;
    list.splice(at, 0, buffer);
    this.freeBytes += buffer.size;
  }

  private destroy(buffer: GPUBuffer): void {
    this.opts.onDestroy(buffer);
    buffer.destroy();
  }
}
