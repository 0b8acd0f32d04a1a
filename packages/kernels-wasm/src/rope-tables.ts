// cos/sin tables of RoPE angles in the wasm memory, [positions, headDim/2] with attentionScaling folded in,
// cached per RopeSpec and grown (doubling) to the largest position used: decode steps rotate the same positions
// again and again (rebuilt keys), and trig per (position, pair) would otherwise dominate RoPE. Angles are
// formed in float64 and rounded once, as in the CPU reference. Positions outside [0, MAX_CACHED) get a
// table built for the call's range only.
import type { RopeSpec } from '@shadowkv/core';
import type { WasmAllocator } from './wasm-allocator.js';

/** Positions a cached table may grow to (2^20: 256 MiB per table at headDim 128, beyond any context run here). */
const MAX_CACHED = 1 << 20;

export interface RopeTable {
  cos: number;
  sin: number;
  /** Position of row 0. */
  base: number;
  /** Rows in the table. */
  positions: number;
  /** headDim / 2. */
  half: number;
  /** Set for a per-call table the caller must release. */
  temporary: boolean;
}

export class RopeTables {
  private readonly cached = new WeakMap<RopeSpec, RopeTable>();

  constructor(
    private readonly alloc: WasmAllocator,
    private readonly f32: (ptr: number, n: number) => Float32Array,
  ) {}

  /** A table that covers positions minPos..maxPos (inclusive). */
  get(rope: RopeSpec, minPos: number, maxPos: number): RopeTable {
    if (minPos < 0 || maxPos >= MAX_CACHED) {
      const t = this.build(rope, minPos, maxPos - minPos + 1, null);
      t.temporary = true;
      return t;
    }
    const old = this.cached.get(rope);
    if (old && maxPos < old.positions) return old;
    const positions = Math.min(MAX_CACHED, Math.max(1024, 2 ** Math.ceil(Math.log2(maxPos + 1))));
    const t = this.build(rope, 0, positions, old ?? null);
    if (old) this.release(old);
    this.cached.set(rope, t);
    return t;
  }

  /** Frees a temporary table (cached ones live as long as the backend's memory). */
  done(t: RopeTable): void {
    if (t.temporary) this.release(t);
  }

  private release(t: RopeTable): void {
    const bytes = t.positions * t.half * 4;
    this.alloc.release(t.cos, bytes);
    this.alloc.release(t.sin, bytes);
  }

  private build(rope: RopeSpec, base: number, positions: number, reuse: RopeTable | null): RopeTable {
    const half = rope.headDim / 2;
    const bytes = positions * half * 4;
    const cos = this.alloc.alloc(bytes, 'a RoPE cos table');
    let sin: number;
    try {
      sin = this.alloc.alloc(bytes, 'a RoPE sin table');
    } catch (e) {
      this.alloc.release(cos, bytes);
      throw e;
    }
    const c = this.f32(cos, positions * half);
    const s = this.f32(sin, positions * half);
    let from = 0;
    if (reuse && reuse.base === base) {
      from = reuse.positions;
      c.set(this.f32(reuse.cos, from * half));
      s.set(this.f32(reuse.sin, from * half));
    }
    const sc = rope.attentionScaling;
    for (let p = from; p < positions; p++) {
      const pos = base + p;
      for (let i = 0; i < half; i++) {
        const ang = pos * rope.invFreq[i];
        c[p * half + i] = Math.cos(ang) * sc;
        s[p * half + i] = Math.sin(ang) * sc;
      }
    }
    return { cos, sin, base, positions, half, temporary: false };
  }
}
