// The whole engine with the shadowkv and kcache policies on the WebGPU backend: the same greedy tokens as on the CPU.
// Skips with a printed reason when there is no WebGPU adapter (scripts/setup-webgpu.sh installs lavapipe).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError, type KernelBackend, type KvCachePolicy } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { kcache, shadowkv } from '@shadowkv/kv-policies';
import { resolveBackend } from './backends.js';
import { createEngine } from './engine.js';

const fixtureDir = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../../fixtures/hf-llama-gqa', import.meta.url));
const golden = JSON.parse(readFileSync(`${fixtureDir}/golden.json`, 'utf8')) as { inputs: Record<string, number[]> };

/** Whether a WebGPU adapter exists (the engines below create their own backends by name). */
async function probe(): Promise<{ skip?: string }> {
  try {
    const be = (await resolveBackend('webgpu')) as KernelBackend & { destroy?(): void };
    be.destroy?.();
    return {};
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    console.warn(`[policies] skipping the WebGPU engine test: ${e.message}`);
    return { skip: e.message };
  }
}

const gpu = await probe();
const newTokens = 8;

describe.skipIf(gpu.skip !== undefined)(`engine on webgpu with offloading policies${gpu.skip ? ` (skipped: ${gpu.skip})` : ''}`, () => {
  // The 257-token prompt: 32 chunks of 8 and a 1-token tail. The model has 2 KV heads of 32 dims (width 64).
  const prompt = golden.inputs['257'];
  const cases: [string, () => KvCachePolicy][] = [
    // 2 local chunks + tail, 2 outliers, 28 landmarks of which 8 are selected; rank 16 of 64.
    ['shadowkv', () => shadowkv({ chunkSize: 8, localChunks: 2, outliers: 2, rank: 16, budget: 64 })],
    ['kcache', () => kcache({ topN: 48 })],
  ];

  // Both backends compute in float32 and differ only in summation order (~1e-6 of a logit); these greedy tokens
  // are argmaxes with margins far above that, so any difference in tokens is a bug, not rounding.
  it.each(cases)('%s: greedy tokens on webgpu equal the cpu backend tokens', async (_name, policy) => {
    const cpuEngine = await createEngine({ model: fixtureDir, backend: 'cpu', cache: policy() });
    const gpuEngine = await createEngine({ model: fixtureDir, backend: 'webgpu', cache: policy() });
    const want = await cpuEngine.generateText({ inputIds: prompt }, { maxNewTokens: newTokens, ignoreEos: true });
    const got = await gpuEngine.generateText({ inputIds: prompt }, { maxNewTokens: newTokens, ignoreEos: true });
    expect(got.backend).toBe('webgpu');
    expect(got.tokens).toHaveLength(newTokens);
    expect(got.tokens).toEqual(want.tokens);
    // The sparse path really ran on the GPU: chunks/tokens were fetched, and later steps reused them.
    expect(got.steps.steps).toBe(newTokens - 1);
    expect([got.steps.hits, got.steps.misses, got.steps.bytesMoved]).toEqual([want.steps.hits, want.steps.misses, want.steps.bytesMoved]);
    expect(got.steps.misses).toBeGreaterThan(0);
    expect(got.steps.hits).toBeGreaterThan(0);
    expect(got.memory).toEqual(want.memory);
  });
});
