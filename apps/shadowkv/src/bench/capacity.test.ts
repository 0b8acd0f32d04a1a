// bench capacity: the projection (policies' projectMemory + the wasm backend's terms) bounds what real prefills
// hold on wasm, within a written tolerance; the search finds the boundary; a context that does not fit is the
// typed WasmOutOfMemoryError on the command line (exit 2, no stack trace).
import { describe, expect, it } from 'vitest';
import { denseKvBytes, projectKvMemory } from '@shadowkv/kv-policies';
import { LayerMajorPrefill } from '@shadowkv/model-llama';
import { createEngine } from '../engine.js';
import { createPolicy } from '../policy-options.js';
import { ensureRandomModel } from '../random-models.js';
import { runCli } from '../cli-run.test-support.js';
import { activationBytes, capacityBackend, largestFitting, runCapacity, validateCapacity, readCapacityModel, type CapacityReport } from './capacity.js';
import { syntheticPrompt } from './speed.js';

const policies = () => [
  { label: 'dense', policy: createPolicy('dense') },
  { label: 'shadowkv', policy: createPolicy('shadowkv') },
  { label: 'kcache', policy: createPolicy('kcache') },
];

describe('largestFitting', () => {
  it('finds the last n that fits, above and below the start, and 0 when nothing fits', () => {
    for (const limit of [1, 7, 1023, 1024, 1025, 300_000, 5_000_000]) expect(largestFitting((n) => n <= limit)).toBe(limit);
    expect(largestFitting(() => false)).toBe(0);
  });
});

describe('bench capacity projection vs a real wasm prefill', () => {
  // Tolerance: the projection must bound the peak address the allocator reached (what the 4 GiB limit applies to)
  // and exceed it by at most 30% at these small contexts. The slack is the fixed terms counted whole: the RoPE
  // cache at the next power of two plus the half-size table held while it grows, both activation sets of a 512-token
  // chunk, and the scratch of every thread; at the contexts the search ends at, the KV state dominates and the
  // ratio approaches 1 (BENCHMARKS.md: "Longest context per policy within wasm32's 4 GiB").
  it('bounds the peak the allocator reached within 30%, weights exactly, the state\'s fast and slow bytes', async () => {
    const dir = await ensureRandomModel('tiny');
    const model = await readCapacityModel(dir);
    const checks = await validateCapacity({ modelDir: dir, model, policies: policies(), contexts: [1536], newTokens: 4, threads: 1, memoryBytes: 2 ** 32 });
    expect(checks).toHaveLength(3);
    for (const c of checks) {
      const at = `${c.policy} at ${c.context}`;
      expect(c.projected.weights, at).toBe(c.weightsMeasured);
      expect(c.projected.total, at).toBeGreaterThanOrEqual(c.peakBytesAddressed);
      expect(c.projected.total / c.peakBytesAddressed, at).toBeLessThan(1.3);
      // The state's own report after prefill + decode: under the decode projection, and close to it (the projection
      // counts the generated tokens' rows up to capacity, which is where this run ends).
      expect(c.fastBytes, at).toBeLessThanOrEqual(c.projected.kvDecode);
      expect(c.fastBytes / c.projected.kvDecode, at).toBeGreaterThan(0.9);
      expect(c.slowBytes, at).toBeLessThanOrEqual(c.projected.slowBytes);
      if (c.policy === 'dense') expect(c.slowBytes, at).toBe(0);
      else expect(c.slowBytes / c.projected.slowBytes, at).toBeGreaterThan(0.99);
    }
  }, 120_000);

  it('the longest context fits and one more token does not; offloaded values make the decode state reach further', async () => {
    const dir = await ensureRandomModel('tiny');
    const budget = 64 * 2 ** 20;
    const r = await runCapacity({ modelDir: dir, backend: 'wasm', memoryBytes: budget, threads: 1, policies: policies(), newTokens: 16 });
    for (const row of r.result.rows) {
      expect(row.longestContext, row.policy).toBeGreaterThan(1024);
      expect(row.terms!.total, row.policy).toBeLessThanOrEqual(budget);
      await expect(runCapacity({ modelDir: dir, backend: 'wasm', memoryBytes: budget, threads: 1, policies: policies().filter((p) => p.label === row.policy), newTokens: 16, context: row.longestContext + 1 })).rejects.toThrow(/WasmOutOfMemory|cannot allocate/);
    }
    const [dense, shadowkv, kcache] = r.result.rows;
    // The offloading policies prefill layer-major (one layer's dense buffer, x1.5 with ShadowKV's pre-RoPE keys,
    // beside the decode layers built so far), so they reach further than dense; their decode-phase state alone
    // further still (on this tiny model the RoPE cache, 128 bytes a position at head_dim 32, is as large as
    // ShadowKV's state: 2.9x dense, not more).
    expect(shadowkv.longestContext).toBeGreaterThan(dense.longestContext);
    expect(kcache.longestContext).toBeGreaterThan(dense.longestContext);
    expect(shadowkv.longestDecodeOnly).toBeGreaterThan(2 * dense.longestContext);
    expect(kcache.longestDecodeOnly).toBeGreaterThan(dense.longestContext);
    expect(shadowkv.terms!.slowBytes).toBeGreaterThan(0);
    expect(dense.terms!.slowBytes).toBe(0);
  }, 60_000);
});

describe('projectMemory() vs the allocator on wasm: token-major endPrefill, layer-major prefill', () => {
  // Token-major: endPrefill converts the dense prefill buffer layer by layer; tokenMajorPrefillFastBytes bounds the most
  // KV bytes held while it does (ShadowKV: every dense buffer plus the first shadow layer; KCache: the keys are handed
  // over, so the dense buffer plus one layer's value slots), within 10% of the bytes the allocator saw.
  // Layer-major (the engine's prefill for these policies): prefillFastBytes bounds the KV bytes held during the whole
  // prefill (one layer's dense buffer beside the converted layers, the conversions included), within 10%: measured as
  // the allocator's peak less the weights and less the activations of one piece (the projection of capacity.ts).
  for (const name of ['shadowkv', 'kcache'] as const) {
    it(`${name}: bounds the allocator's peak during a token-major endPrefill and during a layer-major prefill, within 10%`, async () => {
      const { wasm } = await import('@shadowkv/kernels-wasm');
      const backend = await wasm({ threads: 1 });
      const engine = await createEngine({ model: await ensureRandomModel('tiny'), backend });
      try {
        const promptLen = 1536;
        const ctx = engine.cacheContext(promptLen + 4);
        const policy = createPolicy(name);
        const proj = projectKvMemory(policy, ctx, promptLen);
        const ids = syntheticPrompt(promptLen, engine.model.config.vocabSize, null);
        // Token-major: every layer's dense buffer (x1.5 with pre-RoPE keys) is allocated by the first chunk.
        const state = policy.create(ctx);
        for (let s = 0; s < promptLen; s += 512) await engine.model.forward(ids.slice(s, s + 512), state);
        const denseBuffer = denseKvBytes(ctx.model, ctx.maxSeqLen) * (name === 'shadowkv' ? 1.5 : 1);
        const other = backend.memoryStats().bytesInUse - denseBuffer;
        backend.resetMemoryPeaks();
        await state.endPrefill();
        const held = backend.memoryStats().peakBytesInUse - other;
        state.dispose();
        // + the 64-byte rounding of a layer's tensors (bench capacity counts it in its allocator slack).
        expect(proj.tokenMajorPrefillFastBytes! + 16 * 64).toBeGreaterThanOrEqual(held);
        expect(proj.tokenMajorPrefillFastBytes! / held).toBeLessThan(1.1);
        expect(held).toBeGreaterThan(denseBuffer);
        // Layer-major, as engine.prefill runs it (pieces 512, 512, 511, 1). Its most is at the last unit (the last
        // token at the last layer, which converts that layer): everything in use then beyond what was in use before
        // is KV state (the RoPE tables and scratch were grown by the runs above), plus one token's activations.
        const before = backend.memoryStats().bytesInUse;
        const lmState = policy.create(ctx);
        const lm = new LayerMajorPrefill(engine.model, ids, lmState, { chunk: 512 });
        for (let u = 0; u < lm.units - 1; u++) await lm.step();
        backend.resetMemoryPeaks();
        await lm.step();
        const heldLm = backend.memoryStats().peakBytesInUse - before - activationBytes(engine.model.config, 1, capacityBackend(backend));
        lmState.dispose();
        expect(proj.prefillFastBytes + 16 * 64 * ctx.model.nLayers).toBeGreaterThanOrEqual(heldLm);
        expect(proj.prefillFastBytes / heldLm).toBeLessThan(1.1);
        expect(proj.prefillFastBytes).toBeLessThan(proj.tokenMajorPrefillFastBytes!);
      } finally {
        engine.dispose();
        backend.destroy();
      }
    }, 60_000);
  }
});

describe('a prompt too long for dense on wasm', () => {
  // The out-of-memory advice ("use the ShadowKV or KCache policy") holds for a too-long prompt: in a 16 MiB wasm
  // memory the tiny model's dense prefill of 2200 tokens fails with the typed error, while ShadowKV and KCache
  // (layer-major prefill: one layer's dense K/V beside the decode layers) prefill it and generate (measured peaks
  // 14.1 and 14.7 MB of 16.8).
  it('is the typed WasmOutOfMemoryError for dense, and runs under ShadowKV and KCache', async () => {
    const { wasm, WasmOutOfMemoryError } = await import('@shadowkv/kernels-wasm');
    const backend = await wasm({ threads: 1, maxMemoryBytes: 16 * 2 ** 20 });
    const engine = await createEngine({ model: await ensureRandomModel('tiny'), backend });
    try {
      const ids = syntheticPrompt(2200, engine.model.config.vocabSize, null);
      // The offloading policies first (dense's failed attempt would leave its high-water mark behind).
      for (const name of ['shadowkv', 'kcache'] as const) {
        expect((await engine.generateText({ inputIds: ids }, { cache: createPolicy(name), maxNewTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
      }
      await expect(engine.generateText({ inputIds: ids }, { cache: createPolicy('dense'), maxNewTokens: 2, ignoreEos: true })).rejects.toThrow(WasmOutOfMemoryError);
    } finally {
      engine.dispose();
      backend.destroy();
    }
  }, 60_000);
});

describe('shadowkv bench capacity (CLI)', () => {
  it('prints the longest context per policy as JSON', async () => {
    const r = await runCli(['bench', 'capacity', '--random', 'tiny', '--memory', '32MiB', '--threads', '1', '--policy', 'dense,shadowkv:budget=256:rank=32:outliers=4', '--json', '--quiet']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as CapacityReport;
    expect(report.result.memoryBytes).toBe(32 * 2 ** 20);
    expect(report.result.rows.map((x) => x.policy)).toEqual(['dense', 'shadowkv:budget=256:rank=32:outliers=4']);
    expect(report.result.rows[0].longestContext).toBeGreaterThan(0);
  }, 60_000);

  it('a context that does not fit on wasm is the typed out-of-memory error with the bytes and what to do: exit 2, no stack trace', async () => {
    const r = await runCli(['bench', 'capacity', '--random', 'tiny', '--memory', '16MiB', '--threads', '1', '--policy', 'dense', '--context', '100000', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^shadowkv: WasmOutOfMemoryError: the wasm backend cannot allocate \d+ bytes/);
    expect(r.err).toMatch(/100000-token context/);
    expect(r.err).toMatch(/the longest dense context that fits is \d+ tokens/);
    expect(r.err).toMatch(/limited to 0\.02 GiB/);
    expect(r.err).toMatch(/--weights-dtype bf16 or f16/);
    expect(r.err).toMatch(/ShadowKV or KCache/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.out).toBe('');
  }, 60_000);

  it('needs --memory on a backend without a fixed limit, and refuses more than wasm32 addresses', async () => {
    const cpu = await runCli(['bench', 'capacity', '--random', 'tiny', '--backend', 'cpu', '--quiet']);
    expect(cpu.code).toBe(2);
    expect(cpu.err).toMatch(/--memory|option "memory"/);
    const big = await runCli(['bench', 'capacity', '--random', 'tiny', '--memory', '5GiB', '--quiet']);
    expect(big.code).toBe(2);
    expect(big.err).toMatch(/4 GiB/);
  }, 60_000);
});
