// Lazy loading and the probe, on the machine at hand: the package imports everywhere; where nvcc exists the
// addon is built (CI builds it before the tests) and loads without a driver; on a machine without a GPU
// the probe names the missing driver/device and cuda() raises BackendUnavailableError with that reason;
// a missing or broken addon is reported as such. Machines with a GPU skip the "no GPU" expectations.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(pkg, 'native', 'build', 'Release', 'shadowkv_cuda.node');
const nvcc = process.env.NVCC ?? (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : undefined);
const built = existsSync(addonPath);
const addonSkip = built
  ? undefined
  : !nvcc
    ? 'no nvcc on this machine: the addon is not built here'
    : process.env.CI
      ? undefined // CI builds the addon before the tests (.ci/run): not finding it is a failure
      : 'the addon is not built yet: run `pnpm --filter @shadowkv/kernels-cuda build:addon`';

/** The error fn throws. Checked by name and code: vi.resetModules() gives each test its own copy of core's classes. */
function thrown(fn: () => unknown): Error & { code?: string; backend?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

async function freshModule() {
  vi.resetModules();
  return import('./index.js');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('kernels-cuda loading', () => {
  it('imports without loading anything native', async () => {
    const mod = await freshModule();
    expect(typeof mod.cuda).toBe('function');
    expect(typeof mod.probeCuda).toBe('function');
  });

  it.skipIf(addonSkip !== undefined)(`the addon is built where nvcc exists${addonSkip ? ` (skipped: ${addonSkip})` : ''}`, () => {
    expect(existsSync(addonPath), `${addonPath} missing although nvcc exists (CI runs build:addon first)`).toBe(true);
    // Static CUDA runtime: no libcudart dependency, and nothing resolves libcuda at load time.
    const deps = execFileSync('ldd', [addonPath], { encoding: 'utf8' });
    expect(deps).not.toMatch(/libcudart/);
    expect(deps).not.toMatch(/libcuda\.so/);
    expect(deps).not.toMatch(/not found/);
  });

  it.skipIf(!built)('require() of the addon works without a driver and the probe says what is there', async () => {
    const { probeCuda } = await freshModule();
    const p = probeCuda();
    expect(p.addonPath).toBe(addonPath);
    expect(p.runtimeVersion).toBeGreaterThanOrEqual(13000);
    if (p.available) {
      expect(p.deviceCount).toBeGreaterThan(0);
      return; // a GPU machine: the rest of this file's "no GPU" expectations do not apply
    }
    const driverPresent = existsSync('/usr/lib/x86_64-linux-gnu/libcuda.so.1') || spawnSync('sh', ['-c', 'ldconfig -p | grep -q libcuda.so.1']).status === 0;
    expect(p.missing).toBe(driverPresent ? 'device' : 'driver');
    expect(p.reason).toMatch(driverPresent ? /^no CUDA device: cudaGetDeviceCount reported cudaError/ : /^no CUDA driver: libcuda\.so\.1 could not be loaded/);
  });

  it.skipIf(!built)('cuda() raises BackendUnavailableError with the probe\'s reason when there is no GPU', async () => {
    const { cuda, probeCuda } = await freshModule();
    const p = probeCuda();
    if (p.available) return;
    const err = thrown(() => cuda());
    expect(err.name).toBe('BackendUnavailableError');
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.backend).toBe('cuda');
    expect(err.message).toBe(`backend "cuda" is not available: ${p.reason}`);
  });

  it('a missing addon: the probe and cuda() say so and name the build command', async () => {
    vi.stubEnv('SHADOWKV_CUDA_ADDON', join(tmpdir(), 'no-such-dir', 'shadowkv_cuda.node'));
    const { cuda, probeCuda, BUILD_COMMAND } = await freshModule();
    const p = probeCuda();
    expect(p).toMatchObject({ available: false, missing: 'addon', deviceCount: 0 });
    expect(p.reason).toContain('the CUDA addon is not built');
    expect(p.reason).toContain(BUILD_COMMAND);
    const err = thrown(() => cuda());
    expect(err.name).toBe('BackendUnavailableError');
    expect(err.message).toBe(`backend "cuda" is not available: ${p.reason}`);
  });

  it('a broken addon file is reported as failing to load, not as missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skv-cuda-'));
    const bad = join(dir, 'shadowkv_cuda.node');
    writeFileSync(bad, 'not an ELF file');
    vi.stubEnv('SHADOWKV_CUDA_ADDON', bad);
    const { probeCuda } = await freshModule();
    const p = probeCuda();
    expect(p.missing).toBe('addon');
    expect(p.reason).toContain(`${bad} exists but failed to load`);
  });

  it('cuda({ device }) rejects a negative or fractional index before probing', async () => {
    const { cuda } = await freshModule();
    expect(thrown(() => cuda({ device: -1 })).name).toBe('InvalidOptionError');
    expect(thrown(() => cuda({ device: 0.5 })).message).toMatch(/option "device": 0.5 must be a non-negative integer CUDA device index/);
  });
});

describe('kernels-cuda install behaviour', () => {
  it('has no install hooks and no root binding.gyp, so installing never builds the addon', () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts[hook]).toBeUndefined();
    expect(existsSync(join(pkg, 'binding.gyp'))).toBe(false);
    expect(manifest.scripts['build:addon']).toBe('node scripts/build-addon.mjs');
  });

  it('build:addon without nvcc prints one line and exits 0', () => {
    const r = spawnSync(process.execPath, [join(pkg, 'scripts', 'build-addon.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, NVCC: join(tmpdir(), 'no-such-nvcc') },
    });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[@shadowkv\/kernels-cuda\] nvcc not found .*skipping the CUDA addon build/);
    expect(r.stderr).toBe('');
  });
});
