// Checks binary16 rounding on values whose f16 encodings are known by hand.
import { describe, expect, it } from 'vitest';
import { roundToF16 } from './f16-round.js';

describe('roundToF16', () => {
  it('rounds to the nearest binary16 value, ties to even', () => {
    expect(roundToF16(1 / 3)).toBe(0.333251953125); // 0x3555
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // tie between 1 and 1 + 2^-10: even mantissa wins
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie: rounds up to the even neighbour
    expect(roundToF16(-2.5)).toBe(-2.5);
    expect(roundToF16(0.1)).toBe(0.0999755859375); // 0x2E66
  });

  it('handles subnormals, overflow and specials', () => {
    expect(roundToF16(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    expect(roundToF16(2 ** -25)).toBe(0); // tie between 0 and 2^-24 → 0 (even)
    expect(roundToF16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToF16(65504)).toBe(65504);
    expect(roundToF16(65519)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(-1e6)).toBe(-Infinity);
    expect(Number.isNaN(roundToF16(NaN))).toBe(true);
  });
});
