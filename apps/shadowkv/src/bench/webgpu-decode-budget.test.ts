// Structural budget of one WebGPU decode step, from the backend's own counters: dispatches, submits, host round
// trips, buffer and bind group creations per step in steady state, for a dense and a ShadowKV decode on a small
// model. A change that adds launches, round trips or allocations to the decode path fails here; lower a bound
// when a change removes some. Skips with a printed reason when there is no WebGPU adapter.
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError, type BackendCounters, type KernelBackend, type KvCachePolicy } from '@shadowkv/core';
import { dense, kcache, shadowkv } from '@shadowkv/kv-policies';
import { describe, expect, it } from 'vitest';
import { resolveBackend } from '../backends.js';
import { createEngine } from '../engine.js';
import { syntheticPrompt } from './speed.js';

const fixtureDir = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../../../fixtures/hf-llama-gqa', import.meta.url));

/**
 * Upper bounds per decode step on the fixture (4 layers, 8 query / 2 KV heads of 32 dims, vocab 512), as
 * measured on the commit that set them. History: 75 dispatches and a buffer + bind group per op (counters
 * only); 59 (14 per layer: arena, cached bind groups, fused matmulAdd/matmulSwiglu); now 35. Dense: 8
 * dispatches per layer: rmsNormMatmuls (norm + q/k/v, one GEMV), ropeQk, writeKvPair, attention (split over
 * the keys, each KV row read once per GQA group, + combine), matmulAdd (o-proj + residual),
 * rmsNormMatmulSwiglu (norm + gate/up + SwiGLU), matmulAdd (down + residual); + embedding, final norm, lm
 * head. One submit per SUBMIT_EVERY dispatches plus the logits read; one host round trip (the logits).
 */
export const DECODE_BUDGET = {
  dense: { dispatches: 35, submits: 2, hostReads: 1, bindGroupCreations: 0 },
  // ShadowKV adds per layer landmark scores, top-k, the chunk-cache bookkeeping on the device
  // (chunkCacheUpdate), the key rebuild straight into Kd (rebuildKeysInto; queued and submitted before the host
  // waits: one more submit per layer), the misses' read-back (one host round trip per layer), their upload and
  // scatter (87 before the layer fusions; 63 with the ids read back, the bookkeeping on the host and the rebuild
  // scattered by a launch of its own). How many chunks miss
  // varies from step to step, so the misses' upload lands in a different arena buffer now and then: at most one
  // new bind group per step (no new buffer once the arena has warmed up). Bytes read back: the logits (2048)
  // and per layer the misses list, (nKvHeads + capacity) i32 with capacity = all 16 selected chunks here (the
  // list's floor), the same 64 bytes as the ids it replaces plus the 2 counts.
  shadowkv: { dispatches: 63, submits: 14, hostReads: 5, bindGroupCreations: 1, bytesReadBack: 2048 + 4 * (2 + 16) * 4 },
  // KCache (top 32 tokens; 63 dispatches and 18 submits with the bookkeeping on the host): per layer token
  // scores, top-k, the bookkeeping, the keys' gather (submitted before the wait), then two reads in flight
  // together (the new token's value row, 256 bytes, and the misses list, (2 + capacity) i32, capacity all 64
  // here as a quarter of the fixture's selection misses). The token scores span the growing context, so their
  // buffers change size class now and then: ~8 bind groups per step, as before the bookkeeping moved.
  kcache: { dispatches: 67, submits: 22, hostReads: 9, bindGroupCreations: 9, bytesReadBack: 2048 + 4 * (256 + (2 + 64) * 4) },
} as const;

async function probe(): Promise<{ skip?: string }> {
  try {
    (await resolveBackend('webgpu')).destroy();
    return {};
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    console.warn(`[decode budget] skipping: ${e.message}`);
    return { skip: e.message };
  }
}

const gpu = await probe();

/** Counters per step over `steps` decode steps, after `warmup` steps that may fill the arena and caches. */
async function decodeCounters(policy: KvCachePolicy, warmup: number, steps: number): Promise<BackendCounters> {
  const engine = await createEngine({ model: fixtureDir, backend: 'webgpu', cache: policy });
  const backend = engine.backend as KernelBackend & { counters(): BackendCounters };
  try {
    const c = engine.model.config;
    const ids = syntheticPrompt(257, c.vocabSize, c.bosTokenId);
    const { states, logits } = await engine.prefillShared(ids, [policy], ids.length + warmup + steps + 1);
    const state = states[0];
    let next = argmax(logits);
    let before = backend.counters();
    for (let i = 0; i < warmup + steps; i++) {
      if (i === warmup) before = backend.counters();
      const t = (await engine.model.forward([next], state, { lastLogits: true }))!;
      next = argmax((await backend.read(t)) as Float32Array);
      backend.dispose(t);
    }
    const after = backend.counters();
    state.dispose();
    const per = (k: Exclude<keyof BackendCounters, 'gpuMs'>) => (after[k] - before[k]) / steps;
    return {
      dispatches: per('dispatches'),
      submits: per('submits'),
      hostReads: per('hostReads'),
      bufferCreations: per('bufferCreations'),
      bindGroupCreations: per('bindGroupCreations'),
      bytesUploaded: per('bytesUploaded'),
      bytesReadBack: per('bytesReadBack'),
      deviceBytesRead: per('deviceBytesRead'),
      gpuMs: before.gpuMs !== null && after.gpuMs !== null ? (after.gpuMs - before.gpuMs) / steps : null,
    };
  } finally {
    engine.model.dispose();
    backend.destroy();
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

describe.skipIf(gpu.skip !== undefined)(`webgpu decode step budget${gpu.skip ? ` (skipped: ${gpu.skip})` : ''}`, () => {
  const cases: [keyof typeof DECODE_BUDGET, () => KvCachePolicy][] = [
    ['dense', () => dense()],
    ['shadowkv', () => shadowkv({ chunkSize: 8, localChunks: 2, outliers: 2, rank: 16, budget: 64 })],
    ['kcache', () => kcache({ topN: 32 })],
  ];
  it.each(cases)('%s: dispatches, submits and host reads within the budget; no buffer or bind group created in steady state', async (name, policy) => {
    const c = await decodeCounters(policy(), 6, 4);
    console.log(`[decode budget] ${name}: ${JSON.stringify(c)}`);
    const budget = DECODE_BUDGET[name];
    expect(c.dispatches).toBeLessThanOrEqual(budget.dispatches);
    expect(c.submits).toBeLessThanOrEqual(budget.submits);
    expect(c.hostReads).toBeLessThanOrEqual(budget.hostReads);
    expect(c.bufferCreations).toBe(0);
    expect(c.bindGroupCreations).toBeLessThanOrEqual(budget.bindGroupCreations);
    if ('bytesReadBack' in budget) expect(c.bytesReadBack).toBeLessThanOrEqual(budget.bytesReadBack);
    // The step still does its work: one logits row comes back per step.
    expect(c.bytesReadBack).toBeGreaterThanOrEqual(512 * 4);
  });
});
