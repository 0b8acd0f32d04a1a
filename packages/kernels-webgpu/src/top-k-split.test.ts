// The split top-k for long rows (segment top-k per workgroup, then a merge per row) against the CPU reference:
// the same indices, ties to the lowest index included; and that long rows do take the two-launch path while
// short ones keep one launch. Skips, saying why, when there is no WebGPU adapter.
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { TOPK_SEGMENT } from './kernels/top-k.js';
import { Rng } from './test-utils/seeded-rng.js';
import { probeWebGpu } from './test-utils/webgpu-probe.js';
import type { WebGpuBackend } from './webgpu-backend.js';

const probe = await probeWebGpu();
const ref = cpu();
afterAll(() => probe.backend?.destroy());

describe.skipIf(!probe.backend)('webgpu topK on long rows vs cpu', () => {
  // [rows, n, k, levels]: levels > 0 rounds the values to that many distinct levels (many ties at the threshold).
  const cases: [number, number, number, number][] = [
    [3, 4 * TOPK_SEGMENT, 100, 0],
    [2, 4 * TOPK_SEGMENT + 777, TOPK_SEGMENT / 4, 7],
    [4, 20000, 64, 0],
    [1, 20000, 33, 3],
  ];
  it.each(cases)('rows=%i n=%i k=%i levels=%i: the same indices as the CPU, in two launches', async (rows, n, k, levels) => {
    const gpu = probe.backend as WebGpuBackend;
    const rng = new Rng(rows * 7 + k);
    const x = rng.floats(rows * n);
    if (levels > 0) for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i] * levels) / levels;
    const before = gpu.counters().dispatches;
    const got = await gpu.read(gpu.topK(gpu.upload(x, [rows, n]), k));
    const launches = gpu.counters().dispatches - before;
    const want = await ref.read(ref.topK(ref.upload(x, [rows, n]), k));
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(launches).toBe(2);
  });

  it('rows shorter than four segments keep one launch', async () => {
    const gpu = probe.backend as WebGpuBackend;
    const x = new Rng(5).floats(2 * (4 * TOPK_SEGMENT - 1));
    const before = gpu.counters().dispatches;
    const got = await gpu.read(gpu.topK(gpu.upload(x, [2, 4 * TOPK_SEGMENT - 1]), 16));
    expect(gpu.counters().dispatches - before).toBe(1);
    expect(Array.from(got)).toEqual(Array.from(await ref.read(ref.topK(ref.upload(x, [2, 4 * TOPK_SEGMENT - 1]), 16))));
  });
});
