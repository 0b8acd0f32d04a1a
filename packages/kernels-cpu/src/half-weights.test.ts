// 16-bit weights on the reference backend: matmul and embedding widen f16/bf16 weights exactly and accumulate
// as for f32 weights, so their results equal those of the widened f32 weights bit for bit.
import { f32ToBf16, f32ToF16, halfToF32, mulberry32, ShapeError } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { cpu } from './cpu-backend.js';

function normals(n: number, seed: number, scale = 1): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rnd() + rnd() + rnd() - 1.5) * scale);
}

describe('cpu backend with 16-bit weights', () => {
  const be = cpu();

  it('declares f16 and bf16 weights; stores raw bits and reads them back widened', async () => {
    expect(be.capabilities.weightDtypes).toEqual(['f32', 'f16', 'bf16']);
    const vals = normals(12, 1);
    for (const [dtype, narrow] of [['bf16', f32ToBf16], ['f16', f32ToF16]] as const) {
      const bits = narrow(vals);
      const widened = halfToF32(dtype, bits);
      // Narrowing really happened (otherwise the comparisons below prove nothing).
      expect(Array.from(widened)).not.toEqual(Array.from(vals));
      expect(Array.from(await be.read(be.upload(bits, [3, 4], dtype)))).toEqual(Array.from(widened));
      // A Float32Array uploaded as a 16-bit dtype is narrowed by the backend (round to nearest even).
      expect(Array.from(await be.read(be.upload(vals, [3, 4], dtype)))).toEqual(Array.from(widened));
    }
    expect(() => be.upload(new Uint16Array(4), [4])).toThrow(/needs dtype f16 or bf16, not f32/);
    expect(() => be.zeros([4], 'bf16')).toThrow(ShapeError);
  });

  // m values cover the 4-row blocks and the row tail; n crosses the 64-row widening blocks and the 4-column tail.
  for (const [m, k, n] of [[1, 37, 130], [5, 64, 67], [8, 16, 4], [3, 9, 1]]) {
    for (const dtype of ['bf16', 'f16'] as const) {
      it(`matmul m=${m} k=${k} n=${n} with ${dtype} weights equals matmul with the widened f32 weights`, async () => {
        const x = be.upload(normals(m * k, 2), [m, k]);
        const bits = (dtype === 'bf16' ? f32ToBf16 : f32ToF16)(normals(n * k, 3, 1 / Math.sqrt(k)));
        const got = await be.read(be.matmul(x, be.upload(bits, [n, k], dtype)));
        const want = await be.read(be.matmul(x, be.upload(halfToF32(dtype, bits), [n, k])));
        expect(got).toEqual(want);
      });
    }
  }

  it('embedding with a bf16 or f16 table equals the widened rows', async () => {
    const table = normals(20 * 6, 4);
    const ids = be.upload(Int32Array.from([19, 0, 19, 7]), [4], 'i32');
    for (const [dtype, narrow] of [['bf16', f32ToBf16], ['f16', f32ToF16]] as const) {
      const bits = narrow(table);
      const got = await be.read(be.embedding(be.upload(bits, [20, 6], dtype), ids));
      const want = await be.read(be.embedding(be.upload(halfToF32(dtype, bits), [20, 6]), ids));
      expect(got).toEqual(want);
    }
  });

  it('rejects 16-bit tensors where an op computes on activations (f32 only)', () => {
    const w = be.upload(new Uint16Array(8), [2, 4], 'bf16');
    expect(() => be.matmul(w, w)).toThrow(/matmul: x has dtype bf16, expected f32/);
    expect(() => be.add(w, w)).toThrow(ShapeError);
    expect(() => be.rmsNorm(be.upload(new Float32Array(8), [2, 4]), be.upload(new Uint16Array(4), [4], 'bf16'), 1e-5)).toThrow(/rmsNorm: w has dtype bf16/);
  });
});
