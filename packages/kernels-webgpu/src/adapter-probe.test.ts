// The software-adapter test behind `backend: 'auto'`: reported identities of real and software adapters,
// and a real probe of this machine's adapter.
import { describe, expect, it } from 'vitest';
import { probeWebGpuAdapter, softwareAdapterReason } from './adapter-probe.js';

describe('softwareAdapterReason', () => {
  it('names software renderers and passes real GPUs', () => {
    // What Dawn reports for Mesa 25 lavapipe here, SwiftShader in Chromium, and two real GPUs.
    expect(softwareAdapterReason({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7' })).toMatch(/llvmpipe\/lavapipe/);
    expect(softwareAdapterReason({ vendor: 'google', architecture: '', device: 'swiftshader', description: 'SwiftShader Device (Subzero)' })).toMatch(/SwiftShader/);
    expect(softwareAdapterReason({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toMatch(/WARP/);
    expect(softwareAdapterReason({ vendor: 'x', isFallbackAdapter: true })).toMatch(/fallback/);
    expect(softwareAdapterReason({ vendor: 'x' }, true)).toMatch(/fallback/);
    expect(softwareAdapterReason({ vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 80GB HBM3' })).toBeNull();
    expect(softwareAdapterReason({ vendor: 'apple', architecture: 'metal-3', description: 'Apple M2' })).toBeNull();
  });
});

describe('probeWebGpuAdapter on this machine', () => {
  it('finds no adapter or classifies the one it finds (this machine has no GPU: never a real GPU here)', async () => {
    const p = await probeWebGpuAdapter();
    if (!p.found) {
      expect(p.notRealGpu).toMatch(/adapter|Dawn|navigator/);
      return;
    }
    // The probe reads the adapter's own identity; on a machine without a GPU it must be a software one.
    expect(p.vendor.length + p.description.length).toBeGreaterThan(0);
    if (process.env.SHADOWKV_EXPECT_REAL_GPU !== '1') expect(p.notRealGpu).toMatch(/software|fallback|llvmpipe|SwiftShader/);
    else expect(p.notRealGpu).toBeNull();
  });
});
