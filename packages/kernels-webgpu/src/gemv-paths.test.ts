// The decode GEMV's variants against the CPU reference: f32, f16 and bf16 weights, 16-byte and scalar loads,
// 1/2/4/8 rows per workgroup, the subgroup reduction and the workgroup-memory one (a device without subgroups),
// and the prefill GEMM with 16-bit weights. Skips, saying why, when there is no WebGPU adapter.
import { f32ToBf16, f32ToF16, type KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { gemvRows } from './kernels/matmul.js';
import { Rng } from './test-utils/seeded-rng.js';
import { probeWebGpu } from './test-utils/webgpu-probe.js';

const withSubgroups = await probeWebGpu();
const without = await probeWebGpu({ subgroups: false });
const ref = cpu();
afterAll(() => {
  withSubgroups.backend?.destroy();
  without.backend?.destroy();
});

// [m, k, n]: k % 8 == 0 takes 16-byte loads for every dtype, odd k the scalar path; n gives 2, 1 and 4 rows
// per workgroup (gemvRows) with a partial last workgroup; m = 9 is the tiled GEMM.
const SHAPES: [number, number, number][] = [
  [1, 256, 1001],
  [2, 257, 77],
  [4, 64, 4099],
  [9, 40, 130],
];

/** Max |got - want| / max |want|: the backends differ only in f32 summation order over k. */
function relErr(got: Float32Array, want: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    s = Math.max(s, Math.abs(want[i]));
  }
  return d / Math.max(s, 1e-30);
}

describe.skipIf(!withSubgroups.backend)('webgpu GEMV paths vs cpu', () => {
  it('gemvRows: 4 rows per workgroup when there are enough workgroups, fewer for narrow outputs, more for huge ones', () => {
    expect(gemvRows(2048, 65535)).toBe(4);
    expect(gemvRows(512, 65535)).toBe(2);
    expect(gemvRows(100, 65535)).toBe(1);
    expect(gemvRows(128256, 65535)).toBe(4);
    expect(gemvRows(600000, 65535)).toBe(16);
  });

  for (const [label, probe] of [
    ['subgroups', withSubgroups],
    ['workgroup memory', without],
  ] as const) {
    it.each(['f32', 'f16', 'bf16'] as const)(`%s weights (${label} reduction): matmul within 1e-5 of the CPU on widened weights`, async (dtype) => {
      const gpu = probe.backend as KernelBackend;
      const rng = new Rng(11);
      for (const [m, k, n] of SHAPES) {
        const x = rng.floats(m * k);
        const w = rng.floats(n * k, 0.1);
        const bits = dtype === 'f16' ? f32ToF16(w) : dtype === 'bf16' ? f32ToBf16(w) : null;
        const up = (be: KernelBackend) => (bits ? be.upload(bits, [n, k], dtype) : be.upload(w, [n, k]));
        const got = (await gpu.read(gpu.matmul(gpu.upload(x, [m, k]), up(gpu)))) as Float32Array;
        const want = (await ref.read(ref.matmul(ref.upload(x, [m, k]), up(ref)))) as Float32Array;
        // f32 sums of k <= 260 terms in different orders: far below 1e-5 of the largest output.
        expect(relErr(got, want), `${dtype} m=${m} k=${k} n=${n}`).toBeLessThan(1e-5);
      }
    });

    // The workgroup-memory variant compiles slowly on lavapipe: one weight dtype there (the reduction is shared).
    it.each(label === 'subgroups' ? (['f32', 'f16', 'bf16'] as const) : (['f16'] as const))(`%s weights (${label} reduction): the fused-norm GEMVs (q/k/v in one launch, gate/up) within 1e-5 of the CPU`, async (dtype) => {
      const gpu = probe.backend as KernelBackend;
      const rng = new Rng(12);
      // k = 257: scalar loads; k = 64: 16-byte loads; n of q/k/v unequal and not multiples of the rows.
      for (const [m, k, ns] of [[1, 257, [33, 9, 9]], [2, 64, [130, 66, 66]], [4, 64, [77]]] as [number, number, number[]][]) {
        const x = rng.floats(m * k, 3);
        const g = Float32Array.from(rng.floats(k), (v) => 1 + 0.25 * v);
        const wsData = ns.map((n) => rng.floats(n * k, 0.1));
        const run = async (be: KernelBackend) => {
          const ws = wsData.map((w, i) => {
            const bits = dtype === 'f16' ? f32ToF16(w) : dtype === 'bf16' ? f32ToBf16(w) : null;
            return bits ? be.upload(bits, [ns[i], k], dtype) : be.upload(w, [ns[i], k]);
          });
          const xs = be.upload(x, [m, k]);
          const gs = be.upload(g, [k]);
          const outs = be.rmsNormMatmuls!(xs, gs, 1e-5, ws);
          const swi = be.rmsNormMatmulSwiglu!(xs, gs, 1e-5, ws[0], ws[ws.length - 1].shape[0] === ns[0] ? ws[ws.length - 1] : ws[0]);
          return Promise.all([...outs, swi].map(async (t) => (await be.read(t)) as Float32Array));
        };
        const got = await run(gpu);
        const want = await run(ref);
        // Two f32 reductions of <= 257 terms (the norm's sum of squares, the dot products) in another order.
        got.forEach((o, i) => expect(relErr(o, want[i]), `${dtype} m=${m} k=${k} n=${ns.join('/')} output ${i}`).toBeLessThan(1e-5));
      }
    });
  }
});
