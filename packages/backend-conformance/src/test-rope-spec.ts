// RoPE specs for the cases (Llama-style inverse frequencies) and the per-element angles that scale the
// rotation tolerance.
import type { RopeSpec } from '@shadowkv/core';

/**
 * invFreq[i] = base^(-2i/headDim). With `longContextScaling`, the low-frequency half is divided by 8, the
 * shape of Llama 3.1's long-context scaling (enough to exercise non-geometric frequency tables).
 */
export function makeRopeSpec(headDim: number, opts: { base?: number; attentionScaling?: number; longContextScaling?: boolean } = {}): RopeSpec {
  const base = opts.base ?? 500000;
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const f = base ** ((-2 * i) / headDim);
    invFreq[i] = opts.longContextScaling && i >= half / 2 ? f / 8 : f;
  }
  return { headDim, invFreq, attentionScaling: opts.attentionScaling ?? 1 };
}

/**
 * Angles (radians) of every element of a [rows, nHeads*headDim] rope output, row r at position
 * positions[r]: element e of a head belongs to pair e mod headDim/2.
 */
export function ropeAngles(positions: ArrayLike<number>, nHeads: number, rope: RopeSpec): Float64Array {
  const d = rope.headDim;
  const half = d / 2;
  const out = new Float64Array(positions.length * nHeads * d);
  for (let r = 0; r < positions.length; r++) {
    for (let h = 0; h < nHeads; h++) {
      for (let e = 0; e < d; e++) out[(r * nHeads + h) * d + e] = positions[r] * rope.invFreq[e % half];
    }
  }
  return out;
}
