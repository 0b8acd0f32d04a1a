// Cached cos/sin of RoPE angles per RopeSpec, grown on demand: trig per (position, pair) is the bulk of
// RoPE's cost on the CPU, and decode steps rotate the same positions (rebuilt keys) again and again.
import type { RopeSpec } from '@shadowkv/core';

interface Table {
  positions: number;
  cos: Float32Array; // [positions, headDim/2], attentionScaling folded in
  sin: Float32Array;
}

const tables = new WeakMap<RopeSpec, Table>();
/** Positions beyond this are computed directly rather than cached (bounds the table at 2^17 * headDim/2 * 8 bytes). */
const MAX_CACHED_POSITIONS = 1 << 17;

function tableFor(rope: RopeSpec, pos: number): Table | null {
  if (!(pos >= 0 && pos < MAX_CACHED_POSITIONS)) return null; // negative or non-finite: computed directly
  let t = tables.get(rope);
  if (!t || pos >= t.positions) {
    const half = rope.headDim / 2;
    const positions = Math.min(MAX_CACHED_POSITIONS, Math.max(1024, 2 ** Math.ceil(Math.log2(pos + 1))));
    const cos = new Float32Array(positions * half);
    const sin = new Float32Array(positions * half);
    const from = t ? t.positions : 0;
    if (t) {
      cos.set(t.cos);
      sin.set(t.sin);
    }
    for (let p = from; p < positions; p++) {
      for (let i = 0; i < half; i++) {
        const ang = p * rope.invFreq[i];
        cos[p * half + i] = Math.cos(ang) * rope.attentionScaling;
        sin[p * half + i] = Math.sin(ang) * rope.attentionScaling;
      }
    }
    t = { positions, cos, sin };
    tables.set(rope, t);
  }
  return t;
}

/** Rotates pairs (i, i + headDim/2) of one head vector in place at `pos` (rotate-half convention). */
export function ropeInPlace(x: Float32Array, o: number, pos: number, rope: RopeSpec): void {
  const half = rope.headDim / 2;
  const t = tableFor(rope, pos);
  for (let i = 0; i < half; i++) {
    let c: number;
    let s: number;
    if (t) {
      c = t.cos[pos * half + i];
      s = t.sin[pos * half + i];
    } else {
      const ang = pos * rope.invFreq[i];
      c = Math.cos(ang) * rope.attentionScaling;
      s = Math.sin(ang) * rope.attentionScaling;
    }
    const x1 = x[o + i];
    const x2 = x[o + i + half];
    x[o + i] = x1 * c - x2 * s;
    x[o + i + half] = x2 * c + x1 * s;
  }
}
