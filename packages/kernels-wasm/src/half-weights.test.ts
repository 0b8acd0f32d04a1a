// 16-bit weights (f16, bf16) as the weight operand of matmul and the table of embedding: uploaded as raw bits,
// widened in the kernels and accumulated in f32. The CPU reference gets the same weights widened on the host
// (core's halfToF32, exact), so both compute the same sum of the same f32 products and may differ only by
// accumulation order: the tolerance is the conformance suite's f32 reduction bound, 2.5e-6 * sqrt(k) relative
// to the largest |output| (see backend-conformance/src/tolerances.ts for its derivation).
import { f16ToF32, f32ToBf16, f32ToF16, halfToF32, mulberry32 } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';

const backends = [
  { label: '1 thread', make: () => wasm({ threads: 1 }) },
  { label: '2 threads', make: () => wasm({ threads: 2, thresholds: { matmul: 0, elementwise: 0 } }) },
];
const ref = cpu();

function normals(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() + r() + r() - 1.5) * 2 * scale;
  return out;
}

function maxRelErr(got: Float32Array, want: Float32Array): number {
  let maxAbs = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / (maxAbs || 1);
}

/** Equal as values, with NaN equal to NaN and -0 distinct from +0. */
function sameValues(got: Float32Array, want: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) bad++;
  return bad;
}

for (const { label, make } of backends) {
  describe(`16-bit weights on wasm (${label})`, async () => {
    const be = await make();
    afterAll(() => be.destroy());

    it('declares f16 and bf16 weight dtypes and f32/i32 compute dtypes', () => {
      expect(be.capabilities.weightDtypes).toEqual(['f32', 'f16', 'bf16']);
      expect(be.capabilities.dtypes).toEqual(['f32', 'i32']);
    });

    for (const dtype of ['bf16', 'f16'] as const) {
      for (const [m, k, n] of [[1, 2048, 64], [1, 37, 13], [3, 100, 9], [4, 64, 8], [37, 300, 70], [64, 1000, 33]]) {
        it(`matmul with ${dtype} w: m=${m} k=${k} n=${n} equals the reference on widened weights`, async () => {
          const x = normals(m * k, 1 + m + k);
          const wf = normals(n * k, 7 + n, 1 / Math.sqrt(k));
          const bits = dtype === 'bf16' ? f32ToBf16(wf) : f32ToF16(wf);
          const xw = be.upload(x, [m, k]);
          const ww = be.upload(bits, [n, k], dtype);
          const got = (await be.read(be.matmul(xw, ww))) as Float32Array;
          const want = (await ref.read(ref.matmul(ref.upload(x, [m, k]), ref.upload(halfToF32(dtype, bits), [n, k])))) as Float32Array;
          expect(got.length).toBe(m * n);
          expect(maxRelErr(got, want)).toBeLessThanOrEqual(Math.max(1e-5, 2.5e-6 * Math.sqrt(k)));
        });
      }

      it(`embedding widens every finite and non-finite ${dtype} pattern exactly (vector body and tails)`, async () => {
        const all = new Uint16Array(65536);
        for (let i = 0; i < all.length; i++) all[i] = i;
        const want = halfToF32(dtype, all);
        for (const hidden of [8, 13]) {
          const vocab = Math.floor(65536 / hidden);
          const table = be.upload(all.subarray(0, vocab * hidden), [vocab, hidden], dtype);
          const ids = new Int32Array(vocab);
          for (let i = 0; i < vocab; i++) ids[i] = vocab - 1 - i;
          const got = (await be.read(be.embedding(table, be.upload(ids, [vocab])))) as Float32Array;
          const expected = new Float32Array(vocab * hidden);
          for (let i = 0; i < vocab; i++) expected.set(want.subarray(ids[i] * hidden, (ids[i] + 1) * hidden), i * hidden);
          expect(sameValues(got, expected)).toBe(0);
        }
      });

      it(`matmul widens every finite ${dtype} pattern exactly (one-hot x picks weights, GEMV and GEMM paths)`, async () => {
        const finite: number[] = [];
        for (let h = 0; h < 65536; h++) if (Number.isFinite((dtype === 'f16' ? f16ToF32(Uint16Array.of(h)) : halfToF32('bf16', Uint16Array.of(h)))[0])) finite.push(h);
        const k = 64;
        const n = Math.floor(finite.length / k);
        const bits = Uint16Array.from(finite.slice(0, n * k));
        const w = be.upload(bits, [n, k], dtype);
        const wide = halfToF32(dtype, bits);
        // x = I_k: out[i, j] = w[j, i] (GEMM, m = 64); x = e_5: out[0, j] = w[j, 5] (GEMV).
        const eye = new Float32Array(k * k);
        for (let i = 0; i < k; i++) eye[i * k + i] = 1;
        const gemm = (await be.read(be.matmul(be.upload(eye, [k, k]), w))) as Float32Array;
        const gemv = (await be.read(be.matmul(be.upload(eye.subarray(5 * k, 6 * k), [1, k]), w))) as Float32Array;
        const wantT = new Float32Array(k * n);
        for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) wantT[i * n + j] = wide[j * k + i] + 0; // +0: x·w sums turn -0 into +0
        expect(sameValues(gemm, wantT)).toBe(0);
        expect(sameValues(gemv, wantT.subarray(5 * n, 6 * n))).toBe(0);
      });
    }

    it('upload narrows Float32Array data to f16/bf16 like core (round to nearest even) and read widens it', async () => {
      const x = normals(1000, 3, 100);
      for (const dtype of ['f16', 'bf16'] as const) {
        const t = be.upload(x, [1000], dtype);
        expect(t.dtype).toBe(dtype);
        const bits = dtype === 'bf16' ? f32ToBf16(x) : f32ToF16(x);
        expect(sameValues((await be.read(t)) as Float32Array, halfToF32(dtype, bits))).toBe(0);
      }
    });

    it('rejects a 16-bit tensor where an f32 activation is required (ShapeError)', () => {
      const h = be.upload(new Uint16Array(8), [2, 4], 'bf16');
      const w = be.upload(new Float32Array(8), [2, 4]);
      expect(() => be.matmul(h, w)).toThrow(/x has dtype bf16/);
      expect(() => be.add(h, h)).toThrow(/dtype bf16/);
    });
  });
}
