// The shadowkv and kcache policies on the WebGPU backend against the same policies on the CPU backend.
// Skips with a printed reason when there is no WebGPU adapter (scripts/setup-webgpu.sh installs lavapipe).
import { BackendUnavailableError, type KernelBackend } from '@shadowkv/core';
import { dense } from './dense-policy.js';
import { describe, expect, it } from 'vitest';
import { kcache } from './kcache.js';
import { context, relErr, run, type RunResult } from './policy-harness.test-support.js';
import { shadowkv } from './shadowkv.js';
import type { ShadowKvState } from './shadowkv-state.js';

async function probe(): Promise<{ backend?: KernelBackend; skip?: string }> {
  try {
    // Imported lazily by name, as the engine's resolveBackend does (and so not type-checked against its WebGPU types).
    const pkg = '@shadowkv/kernels-webgpu';
    const { webgpu } = (await import(/* @vite-ignore */ pkg)) as { webgpu: () => Promise<KernelBackend> };
    return { backend: await webgpu() };
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    console.warn(`[policies] skipping the WebGPU policy tests: ${e.message}`);
    return { skip: e.message };
  }
}

const gpu = await probe();
const shape = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16 };
const promptLen = 203; // 25 chunks of 8 and a tail of 3
const steps = 4;

/** Max |a - b| / max |b| over every step and layer: a per-element bound that one wrong row cannot hide in. */
function maxRelDiff(a: Float32Array[][], b: Float32Array[][]): number {
  let diff = 0;
  let scale = 0;
  for (let s = 0; s < b.length; s++) {
    for (let l = 0; l < b[s].length; l++) {
      for (let i = 0; i < b[s][l].length; i++) {
        diff = Math.max(diff, Math.abs(a[s][l][i] - b[s][l][i]));
        scale = Math.max(scale, Math.abs(b[s][l][i]));
      }
    }
  }
  return diff / scale;
}

async function selections(r: RunResult): Promise<number[][]> {
  const out: number[][] = [];
  for (let l = 0; l < shape.nLayers; l++) out.push(Array.from((await (r.state as ShadowKvState).snapshot(l)).lastSelection));
  return out;
}

describe.skipIf(!gpu.backend)(`offloading policies on webgpu vs cpu${gpu.skip ? ` (skipped: ${gpu.skip})` : ''}`, () => {
  const cpuCtx = context(shape, promptLen + steps);
  const gpuCtx = () => context(shape, promptLen + steps, gpu.backend as KernelBackend);

  // Tolerance: both backends compute in float32 but sum in different orders (tiled attention, a different RoPE
  // angle evaluation, GPU matmul in rebuildKeys), so outputs differ by float32 rounding carried through a
  // softmax: measured ~1e-7 of the largest output. 1e-5 allows 100x that, and is still 1000x below what one
  // wrongly selected or misplaced chunk does (relative errors of 1e-2 and more in the tests against dense).
  const TOL = 1e-5;

  it('shadowkv: same selections, same hit/miss counts, decode outputs within 1e-5', async () => {
    const p = { chunkSize: 8, localChunks: 2, outliers: 3, rank: 8, budget: 32 };
    const want = await run(shadowkv(p), cpuCtx, { promptLen, steps });
    const got = await run(shadowkv(p), gpuCtx(), { promptLen, steps });
    expect(maxRelDiff([got.prefillLast], [want.prefillLast])).toBeLessThan(TOL);
    expect(await selections(got)).toEqual(await selections(want));
    const [g, c] = [got.state.stats(), want.state.stats()];
    expect([g.hits, g.misses, g.bytesMoved, g.steps]).toEqual([c.hits, c.misses, c.bytesMoved, c.steps]);
    expect(g.misses).toBeGreaterThan(0);
    expect(g.hits).toBeGreaterThan(0); // later steps reuse resident chunks on the GPU buffer too
    const err = maxRelDiff(got.decode, want.decode);
    console.info(`webgpu shadowkv decode vs cpu: max |diff| / max |out| = ${err.toExponential(2)}`);
    expect(err).toBeLessThan(TOL);
    expect(got.state.memory()).toEqual(want.state.memory());
    got.state.dispose();
  });

  it('shadowkv accuracy options (refine, energy ranks, int8 values): same selections, ranks and outputs as cpu', async () => {
    const p = { chunkSize: 8, localChunks: 2, outliers: 3, rank: 8, budget: 32, refine: 3, rankAllocation: 'energy' as const, quantizeValues: true };
    // Layer 0's keys are nearly rank 1, so energy allocation moves rank from it to layer 1.
    const o = { promptLen, steps, keyNoise: [0.05, 0.6] };
    const want = await run(shadowkv(p), cpuCtx, o);
    const got = await run(shadowkv(p), gpuCtx(), o);
    expect(await selections(got)).toEqual(await selections(want));
    const ranks = async (r: RunResult) => Promise.all([0, 1].map(async (l) => (await (r.state as ShadowKvState).snapshot(l)).rank));
    const [rg, rc] = [await ranks(got), await ranks(want)];
    expect(rg).toEqual(rc);
    expect(rc[0]).toBeLessThan(rc[1]);
    expect(rc[0] + rc[1]).toBe(2 * p.rank);
    const [g, c] = [got.state.stats(), want.state.stats()];
    expect([g.hits, g.misses, g.bytesMoved]).toEqual([c.hits, c.misses, c.bytesMoved]);
    const err = maxRelDiff(got.decode, want.decode);
    console.info(`webgpu shadowkv refine/energy/int8 decode vs cpu: max |diff| / max |out| = ${err.toExponential(2)}`);
    expect(err).toBeLessThan(TOL);
    expect(got.state.memory()).toEqual(want.state.memory());
    got.state.dispose();
  });

  it('shadowkv with every chunk selected and full rank equals dense on webgpu', async () => {
    const ctx = gpuCtx();
    const ref = await run(dense(), ctx, { promptLen, steps });
    const full = await run(shadowkv({ chunkSize: 8, localChunks: 2, outliers: 3, rank: 32, budget: 20 * 8 }), ctx, { promptLen, steps });
    // As on the CPU (shadowkv.test.ts): a float32 full-rank SVD carries ~1e-7 relative into the keys; bound 1e-5.
    expect(relErr(full.decode, ref.decode)).toBeLessThan(1e-5);
    full.state.dispose();
  });

  it('kcache (top-N and mass): same counts, decode outputs within 1e-5', async () => {
    for (const p of [{ topN: 32 }, { mass: 0.9 }]) {
      const want = await run(kcache(p), cpuCtx, { promptLen, steps });
      const got = await run(kcache(p), gpuCtx(), { promptLen, steps });
      const [g, c] = [got.state.stats(), want.state.stats()];
      expect([g.hits, g.misses, g.bytesMoved]).toEqual([c.hits, c.misses, c.bytesMoved]);
      expect(g.hits).toBeGreaterThan(0);
      const err = maxRelDiff(got.decode, want.decode);
      console.info(`webgpu kcache ${JSON.stringify(p)} decode vs cpu: max |diff| / max |out| = ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL);
      got.state.dispose();
    }
  });
});
