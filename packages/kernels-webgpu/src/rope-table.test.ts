// The RoPE angle scheme, checked in emulated f32 on the host (no GPU needed): its error against float64
// stays ~1e-6 rad at any position below 2^24, where a plain f32 product pos * invFreq is off by far more.
import { describe, expect, it } from 'vitest';
import { MAX_ROPE_POSITION, ropeAngleF32, ropeTable, split12 } from './rope-table.js';
import { Rng } from './test-utils/seeded-rng.js';

function llamaInvFreq(headDim: number, theta: number): Float32Array {
  return Float32Array.from({ length: headDim / 2 }, (_, i) => theta ** (-(2 * i) / headDim));
}

/** Distance between two angles on the circle. */
function angleDiff(a: number, b: number): number {
  const d = (a - b) % (2 * Math.PI);
  return Math.min(Math.abs(d), 2 * Math.PI - Math.abs(d));
}

describe('split12', () => {
  it('splits into a 12-significant-bit head and an exact f32 tail', () => {
    const rng = new Rng(12);
    for (let n = 0; n < 2000; n++) {
      const v = Math.fround((rng.next() * 2 - 1) * 2 ** rng.int(-30, 10));
      const [hi, lo] = split12(v);
      expect(hi + lo).toBe(v);
      expect(Math.fround(lo)).toBe(lo);
      // hi * (any 12-bit integer) must be exact in f32: hi's mantissa needs at most 12 bits.
      if (hi !== 0) {
        const e = Math.floor(Math.log2(Math.abs(hi)));
        expect(Number.isInteger(hi / 2 ** (e - 11))).toBe(true);
        expect(Math.fround(hi * 4095)).toBe(hi * 4095);
      }
    }
  });
});

describe('ropeAngleF32', () => {
  const invFreq = llamaInvFreq(128, 500000);
  const table = ropeTable('test', { headDim: 128, invFreq, attentionScaling: 1 });

  it('is within 2e-6 rad of the float64 angle up to position 2^24', () => {
    const rng = new Rng(7);
    let worst = 0;
    const positions = [0, 1, 4095, 4096, 4097, 131071, MAX_ROPE_POSITION, -5, -131000];
    for (let n = 0; n < 400; n++) positions.push(rng.int(0, MAX_ROPE_POSITION));
    for (const pos of positions) {
      for (let i = 0; i < invFreq.length; i++) {
        const err = angleDiff(ropeAngleF32(pos, table.subarray(i * 4, i * 4 + 4)), pos * invFreq[i]);
        worst = Math.max(worst, err);
      }
    }
    // Worst-case budget: about eight roundings of numbers below 16 (half an ulp, <= 4.8e-7 each, most
    // far smaller) plus rHi+rLo's own rounding times hi < 4096 (~3.7e-7): ~2e-6. Measured: ~1e-6.
    expect(worst).toBeLessThan(2e-6);
  });

  it('beats a plain f32 product by orders of magnitude at long positions', () => {
    const pos = 131_000;
    const i = 1;
    const plain = angleDiff(Math.fround(pos * invFreq[i]), pos * invFreq[i]);
    const ours = angleDiff(ropeAngleF32(pos, table.subarray(i * 4, i * 4 + 4)), pos * invFreq[i]);
    expect(plain).toBeGreaterThan(1e-4);
    expect(ours).toBeLessThan(plain / 100);
  });

  it('rejects odd head dims and short frequency tables', () => {
    expect(() => ropeTable('rope', { headDim: 7, invFreq, attentionScaling: 1 })).toThrow(/headDim 7/);
    expect(() => ropeTable('rope', { headDim: 512, invFreq, attentionScaling: 1 })).toThrow(/invFreq has 64 entries/);
  });
});
