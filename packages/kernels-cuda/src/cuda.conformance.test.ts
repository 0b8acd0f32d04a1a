// The cuda backend through the shared conformance suite (every op against the CPU reference), plus 16-bit
// weights against the CPU on the same rounded weights. Skips with the probe's reason (addon, driver or device
// missing) on machines without an NVIDIA GPU; scripts/gpu-check.sh runs it on the GPU machine.
import { describeBackendConformance, roundArrayToF16 } from '@shadowkv/backend-conformance';
import type { DType } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { cuda } from './cuda.js';
import type { CudaBackend } from './cuda-backend.js';
import { probeCuda } from './probe.js';

const probe = probeCuda();
const skip = probe.available ? undefined : probe.reason;
describeBackendConformance('cuda', () => cuda(), { skip });

// A backend of its own for the weight tests (the suite may destroy the one it was given).
let weights: CudaBackend | undefined;
const backend = () => (weights ??= cuda());

/** bf16 bit patterns of f32 values (round to nearest even) and the values they stand for. */
function toBf16(data: Float32Array): { bits: Uint16Array; widened: Float32Array } {
  const bits = new Uint16Array(data.length);
  const widened = new Float32Array(data.length);
  const u = new Uint32Array(1);
  const f = new Float32Array(u.buffer);
  for (let i = 0; i < data.length; i++) {
    f[0] = data[i];
    const b = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
    bits[i] = b;
    u[0] = b << 16;
    widened[i] = f[0];
  }
  return { bits, widened };
}

describe.skipIf(skip !== undefined)(`cuda: 16-bit weights (f32 accumulation)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  afterAll(() => weights?.destroy());
  const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  // Every path keeps x at f32 precision in effect, so the bound is the f32 reduction bound of the conformance
  // table (1e-5 floor, 2.5e-6 * sqrt(k)): m <= 8 runs the gemv16 kernel (x in f32); m > 8 with f16 weights
  // widens w to f32 for the f32 GEMM; m > 8 with bf16 weights splits x into bf16 hi + lo parts for two
  // tensor-core GEMMs, leaving an error of at most 2^-18 |x| per product, for which 4 * 2^-18 (1.5e-5) is added.
  // One bf16 rounding of x (the naive path) is 2^-9 per product and fails this bound.
  for (const dtype of ['bf16', 'f16'] as const) {
    for (const m of [1, 5, 8, 9, 64]) {
      it(`${dtype} matmul m=${m} k=520 n=96 against the cpu on the rounded weights`, async () => {
        const be = backend();
        const k = 520, n = 96;
        const r = rng(m * 7 + (dtype === 'bf16' ? 1 : 2));
        const x = Float32Array.from({ length: m * k }, r);
        const w = Float32Array.from({ length: n * k }, r);
        // bf16 goes up as raw bits, f16 as f32 narrowed on the device: both upload paths are exercised.
        const widened = dtype === 'bf16' ? toBf16(w).widened : roundArrayToF16(w);
        const wt = dtype === 'bf16' ? be.upload(toBf16(w).bits, [n, k], 'bf16') : be.upload(w, [n, k], 'f16');
        const got = (await be.read(be.matmul(be.upload(x, [m, k]), wt))) as Float32Array;
        const c = cpu();
        const want = c.readSync(c.matmul(c.upload(x, [m, k]), c.upload(widened, [n, k]))) as Float32Array;
        const maxAbs = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        const bound = Math.max(1e-5, 2.5e-6 * Math.sqrt(k)) + (m > 8 && dtype === 'bf16' ? 4 * 2 ** -18 : 0);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / maxAbs);
        expect(worst).toBeLessThanOrEqual(bound);
      });
    }
    it(`${dtype} embedding rows equal the rounded table exactly`, async () => {
      const be = backend();
      const table = Float32Array.from({ length: 50 * 24 }, rng(3));
      const widened = dtype === 'bf16' ? toBf16(table).widened : roundArrayToF16(table);
      const t = be.upload(dtype === 'bf16' ? toBf16(table).bits : table, [50, 24], dtype as DType);
      const got = (await be.read(be.embedding(t, be.upload(new Int32Array([49, 0, 7]), [3])))) as Float32Array;
      const want = new Float32Array(3 * 24);
      [49, 0, 7].forEach((id, i) => want.set(widened.subarray(id * 24, id * 24 + 24), i * 24));
      expect(Array.from(got)).toEqual(Array.from(want));
    });
  }
});
