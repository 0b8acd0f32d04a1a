// The backend's own counters: one dispatch per GEMV, one host round trip per read, no buffer or bind group
// created when the same op runs again on arena buffers, GPU time from timestamp queries when the device has
// them. Skips, saying why, when there is no WebGPU adapter.
import type { BackendCounters } from '@shadowkv/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from './test-utils/seeded-rng.js';
import { probeWebGpu } from './test-utils/webgpu-probe.js';

const probe = await probeWebGpu();
afterAll(() => probe.backend?.destroy());

const diff = (a: BackendCounters, b: BackendCounters) => ({
  dispatches: b.dispatches - a.dispatches,
  hostReads: b.hostReads - a.hostReads,
  bufferCreations: b.bufferCreations - a.bufferCreations,
  bindGroupCreations: b.bindGroupCreations - a.bindGroupCreations,
  bytesUploaded: b.bytesUploaded - a.bytesUploaded,
  bytesReadBack: b.bytesReadBack - a.bytesReadBack,
});

describe.skipIf(!probe.backend)('webgpu counters', () => {
  it('count dispatches, reads and uploads; a repeated step creates no buffer or bind group', async () => {
    const gpu = probe.backend!;
    const rng = new Rng(5);
    const w = gpu.upload(rng.floats(512 * 256), [512, 256], 'f16');
    const step = async () => {
      const x = gpu.upload(rng.floats(256), [1, 256]);
      const m = gpu.matmul(x, w);
      const y = gpu.matmulAdd(x, w, m);
      await gpu.read(y);
      for (const t of [x, m, y]) gpu.dispose(t);
    };
    await step(); // fills the arena and the bind group cache
    await step();
    const before = gpu.counters();
    await step();
    const d = diff(before, gpu.counters());
    // matmul + matmulAdd (one GEMV dispatch each), the one read; everything else comes from the arena and the cache.
    expect(d).toEqual({ dispatches: 2, hostReads: 1, bufferCreations: 0, bindGroupCreations: 0, bytesUploaded: 256 * 4, bytesReadBack: 512 * 4 });
    if (gpu.counters().gpuMs !== null) {
      await gpu.sync();
      expect(gpu.counters().gpuMs).toBeGreaterThan(0);
    }
  });
});
