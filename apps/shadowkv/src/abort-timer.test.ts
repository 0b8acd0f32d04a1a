// Cancellation by timers (issue 14): generation yields to the event loop before every prefill chunk and decode
// step, so AbortSignal.timeout stops it within about one chunk or step, on the CPU and the WebGPU backend.
// Before the yield existed, the timer could not fire until the whole generation had finished.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailableError, GenerationAbortedError, type KernelBackend } from '@shadowkv/core';
import { dense } from '@shadowkv/kv-policies';
import { writeRandomLlama } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBackend } from './backends.js';
import { createEngine, type Engine } from './engine.js';

const CHUNK = 64;
const ABORT_MS = 300;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-abort-'));
  await writeRandomLlama(tmp, {
    config: { vocab_size: 512, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 2, head_dim: 32 },
  });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function webgpuSkip(): Promise<string | undefined> {
  try {
    const be = (await resolveBackend('webgpu')) as KernelBackend & { destroy?(): void };
    be.destroy?.();
    return undefined;
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    console.warn(`[abort] skipping the WebGPU abort tests: ${e.message}`);
    return e.message;
  }
}

/** Milliseconds of one prefill chunk and one decode step on this engine (measured, for the latency bound). */
async function unitCosts(engine: Engine): Promise<{ chunkMs: number; stepMs: number }> {
  const ids = Array.from({ length: CHUNK + 1 }, (_, i) => (i * 7) % 512);
  const t0 = performance.now();
  const r = await engine.generateText({ inputIds: ids }, { maxNewTokens: 4, ignoreEos: true, prefillChunkSize: CHUNK, cache: dense() });
  const total = performance.now() - t0;
  return { chunkMs: r.prefillMs, stepMs: Math.max(1, r.decodeMs / 3, (total - r.prefillMs) / 4) };
}

/**
 * Generates until aborted by a timer: AbortSignal.timeout(ABORT_MS) from the start (prefill), or a setTimeout
 * armed at the first token (decode: on a slow software adapter the prefill alone may outlast ABORT_MS).
 * `ms` runs from when the timer was armed; `chunksAfter`/`tokensAfter` count the prefill chunks finished and
 * tokens emitted after the signal fired; `slowest` is the longest chunk or step seen in this very run.
 */
async function runUntilAborted(
  engine: Engine,
  ids: number[],
  maxNewTokens: number,
  armAt: 'start' | 'first-token',
): Promise<{ err: unknown; ms: number; prefilled: number; tokens: number; chunksAfter: number; tokensAfter: number; slowest: number }> {
  let prefilled = 0;
  let tokens = 0;
  let chunksAfter = 0;
  let tokensAfter = 0;
  let last = performance.now();
  let slowest = 0;
  const lap = () => {
    const now = performance.now();
    slowest = Math.max(slowest, now - last);
    last = now;
  };
  const ac = new AbortController();
  let t0 = performance.now();
  const signal = armAt === 'start' ? AbortSignal.timeout(ABORT_MS) : ac.signal;
  const stream = engine.generate(
    { inputIds: ids },
    {
      maxNewTokens,
      ignoreEos: true,
      prefillChunkSize: CHUNK,
      signal,
      onPrefillProgress: (d) => {
        lap();
        if (signal.aborted) chunksAfter++;
        prefilled = d;
      },
      cache: dense(),
    },
  );
  let err: unknown = null;
  try {
    for await (const _ of stream) {
      lap();
      if (signal.aborted) tokensAfter++;
      if (tokens++ === 0 && armAt === 'first-token') {
        // Decode laps only: the prefill before the first token does not count as a step.
        slowest = 0;
        t0 = performance.now();
        setTimeout(() => ac.abort(), ABORT_MS);
      }
    }
  } catch (e) {
    err = e;
  }
  return { err, ms: performance.now() - t0, prefilled, tokens, chunksAfter, tokensAfter, slowest: Math.max(slowest, performance.now() - last) };
}

const skipGpu = await webgpuSkip();

describe.each([
  ['cpu', undefined],
  ['webgpu', skipGpu],
] as const)('AbortSignal.timeout(%s) stops a generation', (backend, skip) => {
  let engine: Engine;
  let costs: { chunkMs: number; stepMs: number };
  beforeAll(async () => {
    if (skip) return;
    engine = await createEngine({ model: tmp, backend });
    costs = await unitCosts(engine);
  });
  afterAll(() => engine?.dispose());

  it.skipIf(skip !== undefined)(`in the prefill, within about one chunk${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    // Enough chunks that the prefill takes several times the abort delay.
    const chunks = Math.min(4000 / CHUNK, Math.ceil((6 * ABORT_MS) / costs.chunkMs) + 2);
    const ids = Array.from({ length: chunks * CHUNK + 1 }, (_, i) => (i * 13) % 512);
    const r = await runUntilAborted(engine, ids, 1, 'start');
    console.log(`[abort] ${backend} prefill: aborted after ${r.ms.toFixed(0)} ms (timer ${ABORT_MS} ms, chunk ${costs.chunkMs.toFixed(0)} ms, slowest ${r.slowest.toFixed(0)} ms, ${r.prefilled}/${ids.length} prefilled, ${r.chunksAfter} chunk(s) after the abort)`);
    expect(r.err).toBeInstanceOf(GenerationAbortedError);
    expect(r.prefilled).toBeLessThan(ids.length - 1);
    // Timers run only while the engine yields, and every forward call checks the signal right after its yield:
    // at most the chunk in flight (on a GPU backend, awaiting its read) finishes after the abort. Counted, not
    // timed, so it holds however loaded the machine is; the wall-clock bound allows the slowest chunk seen.
    expect(r.chunksAfter).toBeLessThanOrEqual(1);
    expect(r.ms).toBeLessThan(ABORT_MS + 2 * Math.max(costs.chunkMs, r.slowest) + 500);
  });

  it.skipIf(skip !== undefined)(`in the decode, within about one step${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const steps = Math.ceil((6 * ABORT_MS) / costs.stepMs) + 4;
    const r = await runUntilAborted(engine, [1, 2, 3, 4, 5, 6, 7, 8], Math.min(steps, 3000), 'first-token');
    console.log(`[abort] ${backend} decode: aborted after ${r.ms.toFixed(0)} ms (timer ${ABORT_MS} ms, step ${costs.stepMs.toFixed(1)} ms, slowest ${r.slowest.toFixed(0)} ms, ${r.tokens} tokens, ${r.tokensAfter} after the abort)`);
    expect(r.err).toBeInstanceOf(GenerationAbortedError);
    // The timer is armed at the first token, so the abort lands in the decode (under heavy load one step may
    // outlast the timer, leaving just that first token).
    expect(r.tokens).toBeGreaterThanOrEqual(1);
    expect(r.tokens).toBeLessThan(Math.min(steps, 3000));
    expect(r.tokensAfter).toBeLessThanOrEqual(1);
    expect(r.ms).toBeLessThan(ABORT_MS + 2 * Math.max(costs.stepMs, r.slowest) + 500);
  });
});
