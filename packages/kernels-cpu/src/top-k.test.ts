import { describe, expect, it } from 'vitest';
import { topKRow } from './top-k.js';

/** The definition: sort by value descending, ties by index ascending, take k, return ascending indices. */
function bruteTopK(x: Float32Array, k: number): number[] {
  return Array.from(x.keys()).sort((i, j) => x[j] - x[i] || i - j).slice(0, k).sort((i, j) => i - j);
}

describe('topKRow', () => {
  it('matches the sort-based definition on random rows with many ties', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rnd() * 300);
      const levels = 1 + Math.floor(rnd() * 12); // few distinct values => many ties
      const x = Float32Array.from({ length: n }, () => (trial % 3 === 0 && rnd() < 0.2 ? -Infinity : Math.floor(rnd() * levels)));
      if (trial % 5 === 0) x.sort(); // sorted input
      if (trial % 7 === 0) x.reverse();
      const k = Math.floor(rnd() * (n + 1));
      const out = new Int32Array(k);
      topKRow(x, 0, n, k, out, 0, new Float32Array(n));
      expect(Array.from(out), `n=${n} k=${k}`).toEqual(bruteTopK(x, k));
    }
  });

  it('handles -Infinity entries and rows inside a larger buffer', () => {
    const x = Float32Array.from([9, 9, -Infinity, 1, -Infinity, 5, 7, 5, 0, 0]);
    const out = new Int32Array(6).fill(-1);
    topKRow(x, 2, 6, 3, out, 2, new Float32Array(6));
    // row = [-Inf, 1, -Inf, 5, 7, 5]: 7 at 4, then the tied 5s at 3 and 5
    expect(Array.from(out)).toEqual([-1, -1, 3, 4, 5, -1]);
  });
});
