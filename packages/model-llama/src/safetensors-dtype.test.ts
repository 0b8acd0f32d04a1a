// Exhaustive checks of the 16-bit float conversions over every half / bfloat16 bit pattern.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32ToF16Bits } from './safetensors-dtype.js';

const all16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

describe('F16', () => {
  it('decodes to the IEEE values (spot checks) and every non-NaN pattern survives a round trip', () => {
    const v = f16ToF32(Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000]));
    expect(Array.from(v)).toEqual([1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity, -0]);
    expect(Number.isNaN(f16ToF32(Uint16Array.from([0x7e00]))[0])).toBe(true);
    const back = f32ToF16(f16ToF32(all16));
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN ? (back[h] & 0x7c00) !== 0x7c00 || (back[h] & 0x3ff) === 0 : back[h] !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('rounds exact midpoints between neighbouring halves to the even one', () => {
    // For each positive finite h, the midpoint to h+1 is exactly representable in float32.
    const vals = f16ToF32(all16);
    let bad = 0;
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (vals[h] + vals[h + 1]) / 2;
      const want = h % 2 === 0 ? h : h + 1;
      if (f32ToF16Bits(mid) !== want) bad++;
    }
    expect(bad).toBe(0);
    // Just past the largest half's midpoint to 2^16 overflows to Infinity; below it stays finite.
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
  });
});

describe('BF16', () => {
  it('every non-NaN pattern survives a round trip and midpoints round to even', () => {
    const vals = bf16ToF32(all16);
    const back = f32ToBf16(vals);
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (isNaN ? !Number.isNaN(bf16ToF32(back.subarray(h, h + 1))[0]) : back[h] !== h) bad++;
    }
    expect(bad).toBe(0);
    const mids = new Float32Array(0x7f7f);
    for (let h = 0; h < 0x7f7f; h++) mids[h] = (vals[h] + vals[h + 1]) / 2;
    const rounded = f32ToBf16(mids);
    let badMid = 0;
    for (let h = 0; h < 0x7f7f; h++) if (rounded[h] !== (h % 2 === 0 ? h : h + 1)) badMid++;
    expect(badMid).toBe(0);
  });
});
