// The kernel warm-up: runs the decode kernels in bounds on a fresh instance of either variant (a kernel whose
// arguments it gets wrong would trap here), once per compiled module, and leaves a backend whose ops are exact.
import { describe, expect, it } from 'vitest';
import { cpu } from '@shadowkv/kernels-cpu';
import { kernelModule } from './kernel-module.js';
import { warmUpKernels, WARM_UP_BYTES } from './kernel-warm-up.js';
import { wasm } from './wasm.js';

const DECODE_KERNELS = [
  'gemv', 'gemvAdd', 'gemvSwiglu', 'gemm', 'attention', 'rmsNorm', 'rope', 'embedding', 'writeKv', 'add', 'swiglu', 'softmaxRows',
  'rebuildKeys', 'landmarkScores', 'topK', 'copyChunks',
];

describe('warmUpKernels', () => {
  for (const variant of ['single', 'threads'] as const) {
    it(`calls every decode kernel in bounds on the ${variant} variant, once per module`, async () => {
      const module = await kernelModule(variant);
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: variant === 'threads' } as WebAssembly.MemoryDescriptor);
      const instance = await WebAssembly.instantiate(module, { env: { memory } });
      const calls = new Map<string, number>();
      const traps: string[] = [];
      const counted = Object.fromEntries(
        Object.entries(instance.exports).map(([name, f]) => [
          name,
          typeof f === 'function'
            ? (...a: number[]) => {
                calls.set(name, (calls.get(name) ?? 0) + 1);
                try {
                  (f as (...x: number[]) => void)(...a);
                } catch (e) {
                  traps.push(`${name}: ${(e as Error).message}`);
                  throw e;
                }
              }
            : f,
        ]),
      );
      // A module object of our own stands for "not warmed yet" (the real one may already be, by another test).
      const key = {};
      warmUpKernels(key, counted, memory, 1024, 4);
      expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(1024 + WARM_UP_BYTES);
      for (const k of DECODE_KERNELS) expect(calls.get(k), k).toBeGreaterThan(0);
      // The sparse calls are wrapped in a catch (their signatures belong to another owner): none may trap.
      expect(traps).toEqual([]);
      const before = calls.get('gemv');
      warmUpKernels(key, counted, memory, 1024, 4);
      expect(calls.get('gemv')).toBe(before);
    });
  }

  it('leaves the memory to the backend: ops after the warm-up equal the CPU reference', async () => {
    const be = await wasm({ threads: 1 });
    const ref = cpu();
    const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: 64 * 256 }, (_, i) => Math.cos(i * 0.37) / 16);
    const got = be.readSync(be.matmul(be.upload(x, [1, 256]), be.upload(w, [64, 256]))) as Float32Array;
    const want = (await ref.read(ref.matmul(ref.upload(x, [1, 256]), ref.upload(w, [64, 256])))) as Float32Array;
    // Summation order differs (SIMD lanes): 256 terms of magnitude <= 1/16, f32 rounding per step.
    for (let i = 0; i < 64; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5);
    be.destroy();
    ref.destroy?.();
  });
});
