// The 16-bit float helpers backends use to widen weights (exhaustive round trips are in model-llama's
// safetensors-dtype test, which re-exports these functions).
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, halfToF32 } from './half-float.js';

describe('halfToF32', () => {
  it('widens both formats exactly, into a caller buffer when given', () => {
    const vals = Float32Array.from([1, -2.5, 0.1, 65504, -0, 3e-5]);
    const b = f32ToBf16(vals);
    const h = f32ToF16(vals);
    expect(Array.from(halfToF32('bf16', b))).toEqual(Array.from(bf16ToF32(b)));
    expect(Array.from(halfToF32('f16', h))).toEqual(Array.from(f16ToF32(h)));
    // An output buffer longer than the input: only the first src.length entries are written.
    const out = new Float32Array(8).fill(7);
    halfToF32('bf16', b, out);
    expect(out[6]).toBe(7);
    expect(out[0]).toBe(1);
    expect(out[1]).toBe(-2.5);
    // bf16 keeps 8 mantissa bits: 0.1 widens to the nearest bf16, 0.10009765625.
    expect(out[2]).toBe(0.10009765625);
  });
});
