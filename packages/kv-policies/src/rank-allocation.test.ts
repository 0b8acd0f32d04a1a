import { InvalidOptionError } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { allocateRanks } from './rank-allocation.js';

/** Seeded descending spectrum of n values with geometric decay `ratio` (plus a little jitter). */
function spectrum(n: number, ratio: number, seed: number): Float64Array {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const s = Float64Array.from({ length: n }, (_, k) => ratio ** k * (1 + 0.1 * rnd()));
  return s.sort().reverse();
}

/** Σ over layers of the energy share kept with these ranks. */
function kept(spectra: Float64Array[], ranks: number[]): number {
  return spectra.reduce((acc, s, l) => {
    const all = s.reduce((a, x) => a + x * x, 0);
    return acc + s.subarray(0, ranks[l]).reduce((a, x) => a + x * x, 0) / all;
  }, 0);
}

describe('allocateRanks', () => {
  it('splits evenly between identical layers and sums to the total', () => {
    const s = spectrum(16, 0.8, 1);
    expect(allocateRanks([s, s, s], 12, 1, 16)).toEqual([4, 4, 4]);
  });

  it('gives slowly decaying spectra more rank, within [minRank, maxRank]', () => {
    const fast = spectrum(32, 0.5, 2); // nearly all energy in the first few components
    const slow = spectrum(32, 0.95, 3);
    const r = allocateRanks([fast, slow, fast], 30, 2, 20);
    expect(r.reduce((a, b) => a + b, 0)).toBe(30);
    expect(r[1]).toBe(20); // capped at maxRank
    expect(Math.min(...r)).toBeGreaterThanOrEqual(2);
    expect(r[0]).toBe(r[2]);
  });

  it('keeps as much summed energy share as the best split found by brute force', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const spectra = [spectrum(10, 0.6 + 0.05 * seed, seed), spectrum(10, 0.9, seed + 10), spectrum(10, 0.75, seed + 20)];
      const total = 12;
      const got = kept(spectra, allocateRanks(spectra, total, 1, 10));
      let best = 0;
      for (let a = 1; a <= 10; a++) for (let b = 1; b <= 10; b++) {
        const c = total - a - b;
        if (c >= 1 && c <= 10) best = Math.max(best, kept(spectra, [a, b, c]));
      }
      // Same optimum up to float64 rounding of the sums (1e-12 relative).
      expect(got).toBeGreaterThanOrEqual(best - 1e-12);
    }
  });

  it('takes the energy share of the whole matrix when the total energy is given', () => {
    // Both layers computed 4 values; layer 1's matrix has far more energy beyond them, so its 4 values are a
    // small share and layer 0's next values weigh more.
    const s = Float64Array.from([4, 3, 2, 1]);
    expect(allocateRanks([s, s], 5, 1, 4, [30, 30])).toEqual([3, 2]); // equal: ties go to the first layer
    expect(allocateRanks([s, s], 5, 1, 4, [30, 3000])).toEqual([4, 1]);
  });

  it('rejects totals that cannot be split within the bounds', () => {
    const s = spectrum(8, 0.8, 1);
    expect(() => allocateRanks([s, s], 1, 1, 8)).toThrow(InvalidOptionError);
    expect(() => allocateRanks([s, s], 17, 1, 8)).toThrow(/cannot be split over 2 layers/);
    expect(() => allocateRanks([s, s], 7.5, 1, 8)).toThrow(InvalidOptionError);
  });
});
