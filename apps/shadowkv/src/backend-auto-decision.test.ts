// backend 'auto': the decision as a pure function of probe results (CUDA, then WebGPU on a real adapter, then
// wasm, then cpu; each better candidate's reason for being skipped kept), and the real CUDA probe on this
// machine: without a GPU it says so quietly and auto goes on to the next candidate.
import { describe, expect, it, vi } from 'vitest';
import { AUTO_ORDER, chooseBackend, decideAuto, probeAutoCandidate, type AutoProbe } from './backends.js';
import { runCli } from './cli-run.test-support.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const no = (why: string): AutoProbe => ({ usable: false, why });

describe('decideAuto (pure)', () => {
  it('probes in the order cuda, webgpu, wasm, each only once every better candidate is ruled out', () => {
    expect(AUTO_ORDER).toEqual(['cuda', 'webgpu', 'wasm']);
    expect(decideAuto({})).toEqual({ probe: 'cuda' });
    expect(decideAuto({ cuda: no('no CUDA driver') })).toEqual({ probe: 'webgpu' });
    expect(decideAuto({ cuda: no('x'), webgpu: no('software adapter') })).toEqual({ probe: 'wasm' });
  });

  it('prefers CUDA on an NVIDIA GPU without probing WebGPU (no Dawn load on a CUDA machine)', () => {
    expect(decideAuto({ cuda: { usable: true, on: 'an NVIDIA GPU (1 CUDA device(s))' } })).toEqual({
      use: 'cuda',
      reason: 'auto: cuda on an NVIDIA GPU (1 CUDA device(s))',
    });
    // A later candidate's result does not change a usable better one.
    expect(decideAuto({ cuda: { usable: true }, webgpu: { usable: true, on: 'a real GPU' } })).toMatchObject({ use: 'cuda' });
  });

  it('falls to WebGPU on a real adapter, then wasm, then cpu, naming why each better one was skipped', () => {
    expect(decideAuto({ cuda: no('no CUDA driver: libcuda.so.1 could not be loaded'), webgpu: { usable: true, on: 'a real GPU (nvidia / H100)' } })).toEqual({
      use: 'webgpu',
      reason: 'auto: webgpu on a real GPU (nvidia / H100) (not cuda: no CUDA driver: libcuda.so.1 could not be loaded)',
    });
    expect(decideAuto({ cuda: no('the CUDA addon is not built'), webgpu: no('software adapter (llvmpipe)'), wasm: { usable: true } })).toEqual({
      use: 'wasm',
      reason: 'auto: wasm (not cuda: the CUDA addon is not built; not webgpu: software adapter (llvmpipe))',
    });
    expect(decideAuto({ cuda: no('a'), webgpu: no('b'), wasm: no('c') })).toEqual({
      use: 'cpu',
      reason: 'auto: cpu, the reference backend (not cuda: a; not webgpu: b; not wasm: c)',
    });
  });
});

describe('the real probes on this machine', () => {
  it('the CUDA probe fails fast and quietly without a GPU (driver, device or addon missing), and auto goes on', async (ctx) => {
    let written = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((written += String(s)), true));
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((written += String(s)), true));
    let probe: AutoProbe;
    try {
      probe = await probeAutoCandidate('cuda');
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    if (probe.usable) ctx.skip(`a CUDA GPU is present here (${probe.on}): the no-GPU path cannot be exercised`);
    expect(written).toBe('');
    expect(probe.usable).toBe(false);
    if (!probe.usable) expect(probe.why).toMatch(/no CUDA driver|no CUDA device|CUDA addon is not built|kernels-cuda could not be loaded/);
    const { backend, reason } = await chooseBackend('auto', { threads: 1 });
    try {
      expect(backend.name).not.toBe('cuda');
      expect(reason).toMatch(/^auto: (webgpu|wasm|cpu)/);
      expect(reason).toContain(`not cuda: ${(probe as { why: string }).why}`);
    } finally {
      backend.destroy?.();
    }
  });

  it('--verbose and the JSON result report the auto reason, CUDA included', async () => {
    const r = await runCli(['generate', '--model', fixtureDir, '--input-ids', '1,2,3', '--max-new-tokens', '1', '--json', '--verbose', '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out.trim()) as { backend: string; backendReason: string };
    expect(json.backendReason).toMatch(/^auto: \w+/);
    expect(r.err).toContain(`backend ${json.backend}: ${json.backendReason}`);
    if (json.backend !== 'cuda') expect(json.backendReason).toMatch(/not cuda: /);
  });
});
