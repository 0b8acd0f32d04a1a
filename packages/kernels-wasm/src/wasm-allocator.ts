// A first-fit-by-size allocator over one WebAssembly.Memory: an address-ordered free list with coalescing on
// release, a bump pointer above it, and memory.grow when the bump pointer passes the end. Blocks are 64-byte
// aligned (cache lines; v128 loads never straddle a block). The decode loop frees and re-allocates the same
// sizes every step, so best fit from the free list keeps the memory from growing after the first step.
import { WasmOutOfMemoryError } from './wasm-memory-error.js';

const ALIGN = 64;
const PAGE = 65536;

/**
 * The part of a WebAssembly.Memory the allocator (and the backend) use, typed structurally: the published
 * declarations then need no lib dom, where TypeScript keeps the WebAssembly namespace.
 */
export interface KernelMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

function describe(what: string | (() => string)): string {
  return typeof what === 'string' ? what : what();
}

interface FreeBlock {
  ptr: number;
  size: number;
}

export class WasmAllocator {
  /** Address-ordered free blocks below `top`. */
  private readonly free: FreeBlock[] = [];
  private top: number;
  private inUse = 0;
  /** High-water marks since creation or resetPeaks() (capacity planning: bench capacity compares them with projections). */
  private peakInUse = 0;
  private peakTop = 0;

  constructor(
    private readonly memory: KernelMemory,
    /** First usable address (0 stays unused so that a null address is never a tensor). */
    base: number,
    /** Ceiling of the memory in bytes (at most 4 GiB). */
    readonly limitBytes: number,
  ) {
    this.top = roundUp(Math.max(base, ALIGN));
  }

  /** Bytes held by live allocations. */
  get bytesInUse(): number {
    return this.inUse;
  }

  /** Most bytes held by live allocations at once since creation or resetPeaks(). */
  get peakBytesInUse(): number {
    return this.peakInUse;
  }

  /**
   * Highest address in use (the bump pointer) since creation or resetPeaks(): what the limit applies to, so
   * it exceeds peakBytesInUse by the free-list holes below it (fragmentation) and the heap base.
   */
  get peakBytesAddressed(): number {
    return this.peakTop;
  }

  /** Starts the high-water marks again from the current use. */
  resetPeaks(): void {
    this.peakInUse = this.inUse;
    this.peakTop = this.top;
  }

  /** Bytes of the memory (grown so far). */
  get bytesReserved(): number {
    return this.memory.buffer.byteLength;
  }

  /** Number of free blocks (for tests). */
  get freeBlocks(): number {
    return this.free.length;
  }

  /** The block size an allocation of `bytes` occupies. */
  static blockSize(bytes: number): number {
    return roundUp(Math.max(bytes, 1));
  }

  /**
   * Allocates `bytes` (contents undefined); `what` names it in the out-of-memory error (a function: built only
   * then, since every op allocates its output and the decode loop should not format a string per op).
   */
  alloc(bytes: number, what: string | (() => string)): number {
    const size = WasmAllocator.blockSize(bytes);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.size >= size && (best < 0 || b.size < this.free[best].size)) {
        best = i;
        if (b.size === size) break;
      }
    }
    if (best >= 0) {
      const b = this.free[best];
      const ptr = b.ptr;
      if (b.size === size) this.free.splice(best, 1);
      else {
        b.ptr += size;
        b.size -= size;
      }
      this.inUse += size;
      if (this.inUse > this.peakInUse) this.peakInUse = this.inUse;
      return ptr;
    }
    const ptr = this.top;
    const end = ptr + size;
    if (end > this.limitBytes) throw new WasmOutOfMemoryError(describe(what), bytes, this.inUse, this.limitBytes);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow by at least a quarter of the current size, so that a growing KV cache does not grow page by page.
      const want = Math.min(this.limitBytes, Math.max(end, have + Math.floor(have / 4)));
      const pages = Math.ceil((want - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (err) {
        try {
          this.memory.grow(Math.ceil((end - have) / PAGE));
        } catch {
          throw new WasmOutOfMemoryError(describe(what), bytes, this.inUse, this.limitBytes, err);
        }
      }
    }
    this.top = end;
    this.inUse += size;
    if (this.inUse > this.peakInUse) this.peakInUse = this.inUse;
    if (end > this.peakTop) this.peakTop = end;
    return ptr;
  }

  /** Returns a block from `alloc(bytes)`. */
  release(ptr: number, bytes: number): void {
    const size = WasmAllocator.blockSize(bytes);
    this.inUse -= size;
    const f = this.free;
    let lo = 0;
    let hi = f.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (f[mid].ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    let block: FreeBlock = { ptr, size };
    const prev = lo > 0 ? f[lo - 1] : undefined;
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += size;
      block = prev;
      lo--;
    } else f.splice(lo, 0, block);
    const next = f[lo + 1];
    if (next && block.ptr + block.size === next.ptr) {
      block.size += next.size;
      f.splice(lo + 1, 1);
    }
    // A free block that ends at the bump pointer goes back to it.
    const last = f[f.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      f.pop();
    }
  }

  /** Forgets every allocation (destroy). */
  reset(base: number): void {
    this.free.length = 0;
    this.top = roundUp(Math.max(base, ALIGN));
    this.inUse = 0;
    this.resetPeaks();
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
