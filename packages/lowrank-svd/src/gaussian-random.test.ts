// The seeded normal generator: determinism per seed and the moments of N(0, 1).
import { describe, expect, it } from 'vitest';
import { GaussianRandom } from './gaussian-random.js';

describe('GaussianRandom', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = new GaussianRandom(42).fillNormal(new Float64Array(100));
    const b = new GaussianRandom(42).fillNormal(new Float64Array(100));
    const c = new GaussianRandom(43).fillNormal(new Float64Array(100));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    // Seeds that differ only above 2^32 must still give different streams.
    const d = new GaussianRandom(42 + 2 ** 32).fillNormal(new Float64Array(100));
    expect(Array.from(a)).not.toEqual(Array.from(d));
  });

  it('has mean 0, variance 1 and Gaussian tails', () => {
    const n = 200_000;
    const x = new GaussianRandom(7).fillNormal(new Float64Array(n));
    let mean = 0, m2 = 0, beyond2 = 0;
    for (const v of x) {
      mean += v;
      m2 += v * v;
      if (Math.abs(v) > 2) beyond2++;
    }
    mean /= n;
    const variance = m2 / n - mean * mean;
    // Five standard errors: sd(mean) = 1/sqrt(n) ≈ 0.0022, sd(variance) = sqrt(2/n) ≈ 0.0032.
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    // P(|X| > 2) = 0.0455 for N(0, 1); binomial sd at this n ≈ 0.00047, allow five.
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.0024);
  });
});
