import { describe, expect, it } from 'vitest';
import { ropeInPlace } from './rope-table.js';

describe('ropeInPlace', () => {
  it('rotates pairs by pos * invFreq with the attention scaling, cached or not', () => {
    const headDim = 8;
    const invFreq = Float32Array.from([1, 0.1, 0.01, 0.001]);
    const rope = { headDim, invFreq, attentionScaling: 1.5 };
    for (const pos of [-3, 0, 1, 7, 1000, 200_000]) { // negative first: it must not poison the cached table
      const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
      ropeInPlace(x, 0, pos, rope);
      for (let i = 0; i < 4; i++) {
        const a = pos * invFreq[i];
        const c = Math.cos(a) * 1.5;
        const s = Math.sin(a) * 1.5;
        const x1 = i + 1;
        const x2 = i + 5;
        // f32 table entries: |error| <= 2^-24 relative per factor; 1e-5 absolute covers it for |x| <= 8.
        expect(x[i]).toBeCloseTo(x1 * c - x2 * s, 5);
        expect(x[i + 4]).toBeCloseTo(x2 * c + x1 * s, 5);
      }
    }
  });
});
