// The one seeded PRNG of the project (mulberry32): sampling, random test data and random model weights
// all draw from it, so a seed means the same sequence everywhere.

/**
 * mulberry32: a 32-bit-state generator of uniform floats in [0, 1), small and fast, with the same
 * sequence on every platform (integer ops only). Each value is k / 2^32 for an integer k in [0, 2^32),
 * so it is exact in both float64 and (after rounding) float32 code. The seed is taken modulo 2^32.
 * Not for cryptography.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
