// cos/sin tables of RoPE angles in the wasm memory, [positions, headDim/2] with attentionScaling folded in,
// cached per RopeSpec and grown (doubling) to the largest position used: decode steps rotate the same positions
// again and again (rebuilt keys), and trig per (position, pair) would otherwise dominate RoPE. Angles are
// formed in float64 and rounded once, as in the CPU reference. Positions outside [0, MAX_CACHED), and calls
// with few rows far beyond the cache, get a table of their own rows instead.
import type { RopeSpec } from '@shadowkv/core';
import type { WasmAllocator } from './wasm-allocator.js';

/** Positions a cached table may grow to (2^20: 256 MiB per table at headDim 128, beyond any context run here). */
const MAX_CACHED = 1 << 20;

export interface RopeTable {
  cos: number;
  sin: number;
  /** Position of row 0 (cached tables). */
  base: number;
  /** Rows in the table. */
  positions: number;
  /** headDim / 2. */
  half: number;
  /** Set for a per-call table whose row r belongs to the call's row r (the caller releases it with done()). */
  rowIndexed: boolean;
}

export class RopeTables {
  private readonly cached = new WeakMap<RopeSpec, RopeTable>();
  /** Rows built into per-call tables per RopeSpec since the cached table last grew (the trig paid instead of growing). */
  private readonly deferred = new WeakMap<RopeSpec, number>();

  constructor(
    private readonly alloc: WasmAllocator,
    private readonly f32: (ptr: number, n: number) => Float32Array,
  ) {}

  /**
   * A table for a call that rotates `rows` rows at positions lo..hi: the cached table when it covers hi (grown
   * when that costs less than 4x the call's own rows, or once the per-call tables built since the last growth
   * have cost as much trig as growing), else a per-call table of the rows' positions, listed by `rowPositions`
   * (a single decode step then costs its own rows of trig, not a doubling of the cache; repeated ones, such as
   * rebuilt keys spread over a long context every step, soon grow the cache and then cost no trig at all).
   */
  get(rope: RopeSpec, lo: number, hi: number, rows: number, rowPositions: () => ArrayLike<number>): RopeTable {
    const old = this.cached.get(rope);
    if (old && lo >= 0 && hi < old.positions) return old;
    const positions = Math.min(MAX_CACHED, Math.max(1024, 2 ** Math.ceil(Math.log2(hi + 1))));
    const growth = positions - (old?.positions ?? 0);
    const paid = (this.deferred.get(rope) ?? 0) + rows;
    if (lo < 0 || hi >= MAX_CACHED || (rows * 4 < growth && paid < growth)) {
      this.deferred.set(rope, paid);
      const pos = rowPositions();
      return this.build(rope, pos.length, (r) => pos[r], null, true);
    }
    this.deferred.set(rope, 0);
    const t = this.build(rope, positions, (r) => r, old ?? null, false);
    if (old) this.release(old);
    this.cached.set(rope, t);
    return t;
  }

  /** Frees a per-call table (cached ones live as long as the backend's memory). */
  done(t: RopeTable): void {
    if (t.rowIndexed) this.release(t);
  }

  private release(t: RopeTable): void {
    const bytes = t.positions * t.half * 4;
    this.alloc.release(t.cos, bytes);
    this.alloc.release(t.sin, bytes);
  }

  /** Allocates and fills rows 0..rows (row r at position positionOf(r)), reusing the rows of `reuse`. */
  private build(rope: RopeSpec, rows: number, positionOf: (r: number) => number, reuse: RopeTable | null, rowIndexed: boolean): RopeTable {
    const half = rope.headDim / 2;
    const bytes = Math.max(1, rows * half) * 4;
    const cos = this.alloc.alloc(bytes, 'a RoPE cos table');
    let sin: number;
    try {
      sin = this.alloc.alloc(bytes, 'a RoPE sin table');
    } catch (e) {
      this.alloc.release(cos, bytes);
      throw e;
    }
    const c = this.f32(cos, rows * half);
    const s = this.f32(sin, rows * half);
    let from = 0;
    if (reuse) {
      from = reuse.positions;
      c.set(this.f32(reuse.cos, from * half));
      s.set(this.f32(reuse.sin, from * half));
    }
    const sc = rope.attentionScaling;
    for (let r = from; r < rows; r++) {
      const pos = positionOf(r);
      for (let i = 0; i < half; i++) {
        const ang = pos * rope.invFreq[i];
        c[r * half + i] = Math.cos(ang) * sc;
        s[r * half + i] = Math.sin(ang) * sc;
      }
    }
    return { cos, sin, base: 0, positions: rows, half, rowIndexed };
  }
}
