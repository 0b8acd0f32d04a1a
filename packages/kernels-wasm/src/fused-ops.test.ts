// The optional fused ops matmulAdd, matmulSwiglu, rmsNormMatmuls and rmsNormMatmulSwiglu on wasm, for f32, bf16 and f16 weights, on the GEMV path
// (m < 4: one pass with the residual add / SwiGLU in the epilogue) and the GEMM path (m >= 4), on 1 thread and
// with 2 threads (every op pooled). Two checks each:
// * against the CPU reference's composition of the separate ops on the same weights widened on the host (core's
//   halfToF32, exact): both sum the same f32 products and may differ by accumulation order only, so the bound is
//   the conformance suite's f32 reduction bound, 2.5e-6 * sqrt(k) relative to the largest |output| (floor 1e-5;
//   backend-conformance/src/tolerances.ts derives it); SwiGLU's exp is the 2-ulp vexp, far inside that bound;
// * on the GEMV path, bit-for-bit against this backend's own separate ops (matmul, then add / swiglu): the fused
//   epilogue runs the same dot kernel and the same elementwise formula (and the norm-fused GEMV normalises x
//   with the rmsNorm kernel itself), so nothing may differ at all.
import { f32ToBf16, f32ToF16, halfToF32, mulberry32, type KernelBackend, type Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';

const backends = [
  { label: '1 thread', make: () => wasm({ threads: 1 }) },
  { label: '2 threads, pooled', make: () => wasm({ threads: 2, thresholds: { matmul: 0, elementwise: 0 } }) },
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

/** Count of elements that differ as values (NaN equals NaN, -0 differs from +0). */
function differing(got: Float32Array, want: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) bad++;
  return bad;
}

type WeightDtype = 'f32' | 'bf16' | 'f16';

/** Uploads f32 weights as `dtype` on wasm, and the values that dtype stores (widened, exact) on the reference. */
function weights(be: KernelBackend, wf: Float32Array, shape: [number, number], dtype: WeightDtype): { w: Tensor; wRef: Tensor } {
  if (dtype === 'f32') return { w: be.upload(wf, shape), wRef: ref.upload(wf, shape) };
  const bits = dtype === 'bf16' ? f32ToBf16(wf) : f32ToF16(wf);
  return { w: be.upload(bits, shape, dtype), wRef: ref.upload(halfToF32(dtype, bits), shape) };
}

const read = async (be: KernelBackend, t: Tensor): Promise<Float32Array> => (await be.read(t)) as Float32Array;
const bound = (k: number): number => Math.max(1e-5, 2.5e-6 * Math.sqrt(k));

// [m, k, n]: decode rows with column tails (n % 4) and k tails (k % 8), the needle-llama shapes, GEMM sizes.
const SHAPES: [number, number, number][] = [[1, 256, 768], [1, 768, 256], [1, 37, 13], [2, 300, 70], [3, 8, 5], [4, 64, 8], [37, 300, 70], [65, 256, 257]];

for (const { label, make } of backends) {
  describe(`fused ops on wasm (${label})`, async () => {
    const be = await make();
    afterAll(() => be.destroy());

    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      for (const [m, k, n] of SHAPES) {
        it(`matmulAdd, ${dtype} w, m=${m} k=${k} n=${n}: the reference's add(residual, matmul) within the reduction bound`, async () => {
          const x = normals(m * k, 1 + m + k);
          const res = normals(m * n, 3 + n);
          const { w, wRef } = weights(be, normals(n * k, 7 + n, 1 / Math.sqrt(k)), [n, k], dtype);
          const xt = be.upload(x, [m, k]);
          const rt = be.upload(res, [m, n]);
          const got = await read(be, be.matmulAdd(xt, w, rt));
          const want = await read(ref, ref.add(ref.upload(res, [m, n]), ref.matmul(ref.upload(x, [m, k]), wRef)));
          expect(got.length).toBe(m * n);
          expect(maxRelErr(got, want)).toBeLessThanOrEqual(bound(k));
          if (m < 4) expect(differing(got, await read(be, be.add(rt, be.matmul(xt, w))))).toBe(0);
          // The inputs are not consumed or changed.
          expect(differing(await read(be, rt), res)).toBe(0);
        });

        it(`matmulSwiglu, ${dtype} w, m=${m} k=${k} n=${n}: the reference's swiglu(matmul, matmul) within the reduction bound`, async () => {
          const x = normals(m * k, 11 + m + k);
          const g = weights(be, normals(n * k, 13 + n, 2 / Math.sqrt(k)), [n, k], dtype);
          const u = weights(be, normals(n * k, 17 + n, 1 / Math.sqrt(k)), [n, k], dtype);
          const xt = be.upload(x, [m, k]);
          const got = await read(be, be.matmulSwiglu(xt, g.w, u.w));
          const xr = ref.upload(x, [m, k]);
          const want = await read(ref, ref.swiglu(ref.matmul(xr, g.wRef), ref.matmul(xr, u.wRef)));
          expect(got.length).toBe(m * n);
          expect(maxRelErr(got, want)).toBeLessThanOrEqual(bound(k));
          if (m < 4) expect(differing(got, await read(be, be.swiglu(be.matmul(xt, g.w), be.matmul(xt, u.w))))).toBe(0);
        });
      }
    }

    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      for (const [m, k, n] of SHAPES) {
        it(`rmsNormMatmuls and rmsNormMatmulSwiglu, ${dtype} w, m=${m} k=${k} n=${n}: the reference's composition within the reduction bound`, async () => {
          const x = normals(m * k, 19 + m + k, 3);
          const nw = normals(k, 23 + k);
          const eps = 1e-5;
          const a = weights(be, normals(n * k, 29 + n, 2 / Math.sqrt(k)), [n, k], dtype);
          const b = weights(be, normals(n * k, 31 + n, 1 / Math.sqrt(k)), [n, k], dtype);
          const xt = be.upload(x, [m, k]);
          const nt = be.upload(nw, [k]);
          const [p, q] = be.rmsNormMatmuls(xt, nt, eps, [a.w, b.w]);
          const act = be.rmsNormMatmulSwiglu(xt, nt, eps, a.w, b.w);
          const h = ref.rmsNorm(ref.upload(x, [m, k]), ref.upload(nw, [k]), eps);
          const tol = bound(k);
          expect(maxRelErr(await read(be, p), await read(ref, ref.matmul(h, a.wRef)))).toBeLessThanOrEqual(tol);
          expect(maxRelErr(await read(be, q), await read(ref, ref.matmul(h, b.wRef)))).toBeLessThanOrEqual(tol);
          expect(maxRelErr(await read(be, act), await read(ref, ref.swiglu(ref.matmul(h, a.wRef), ref.matmul(h, b.wRef))))).toBeLessThanOrEqual(tol);
          if (m < 4) {
            // The GEMV normalises with the rmsNorm kernel itself: the same values as the separate wasm ops.
            const hb = be.rmsNorm(xt, nt, eps);
            expect(differing(await read(be, p), await read(be, be.matmul(hb, a.w)))).toBe(0);
            expect(differing(await read(be, q), await read(be, be.matmul(hb, b.w)))).toBe(0);
            expect(differing(await read(be, act), await read(be, be.matmulSwiglu(hb, a.w, b.w)))).toBe(0);
          }
          expect(differing(await read(be, xt), x)).toBe(0);
        });
      }
    }

    it('rejects a residual of the wrong shape and an up weight of another shape or dtype (ShapeError naming it)', () => {
      const x = be.upload(new Float32Array(8), [1, 8]);
      const w = be.upload(new Float32Array(32), [4, 8]);
      expect(() => be.matmulAdd(x, w, be.upload(new Float32Array(3), [1, 3]))).toThrow(/residual has shape \[1, 3\], expected \[1, 4\]/);
      expect(() => be.matmulSwiglu(x, w, be.upload(new Float32Array(24), [3, 8]))).toThrow(/wUp has shape \[3, 8\], expected \[4, 8\]/);
      expect(() => be.matmulSwiglu(x, w, be.upload(new Uint16Array(32), [4, 8], 'bf16'))).toThrow(/wUp has dtype bf16, expected f32/);
    });
  });
}
