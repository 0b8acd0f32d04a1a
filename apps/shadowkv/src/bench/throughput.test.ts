// bench throughput: the batch rule (prefill one at a time, all decode together), and a tiny run whose batches
// fit the budget by measurement and whose sparse policy fits a larger batch than dense.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dense, shadowkv } from '@shadowkv/kv-policies';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine.js';
import { formatThroughputTable, largestBatch, runThroughput } from './throughput.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, '..', '..', '..', '..', 'fixtures', 'hf-llama-gqa');

describe('largestBatch', () => {
  it('fits (B-1) decode states plus one prefill within the budget', () => {
    expect(largestBatch(100, 10, 10, 64)).toBe(10);
    expect(largestBatch(100, 30, 10, 64)).toBe(8); // 7 decode states (70) + one prefill (30)
    expect(largestBatch(100, 30, 10, 4)).toBe(4);
    expect(largestBatch(20, 30, 10, 64)).toBe(0);
  });
});

describe('runThroughput', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ model: fixtureDir, backend: 'cpu' });
  });
  afterAll(() => engine.dispose());

  it('runs each policy at its largest batch under the budget; measured fast bytes stay within it', async () => {
    const context = 256;
    const sparse = shadowkv({ rank: 8, budget: 32, outliers: 2, localChunks: 2, chunkSize: 8 });
    const c = engine.model.config;
    const denseBytes = c.nLayers * 2 * c.nKvHeads * c.headDim * 4 * (context + 3);
    const kvMemory = Math.floor(2.5 * denseBytes);
    const rows = await runThroughput(engine, [dense(), sparse], [context], { kvMemory, newTokens: 3, maxBatch: 3, denseAtBatchOf: 'shadowkv', denseHostLimit: 1 << 30 });
    const d = rows.find((r) => r.policy === 'dense' && !r.overBudget)!;
    const s = rows.find((r) => r.policy === 'shadowkv')!;
    expect(d.batch).toBe(2);
    expect(s.batch).toBeGreaterThan(d.batch);
    for (const r of [d, s]) {
      expect(r.fastBytesAfterPrefill).toBeLessThanOrEqual(kvMemory);
      expect(r.decodeTokensPerSecond).toBeGreaterThan(0);
    }
    // Dense at shadowkv's batch is run over the budget and marked so.
    const over = rows.find((r) => r.overBudget)!;
    expect(over.batch).toBe(s.batch);
    expect(over.fastBytesAfterPrefill).toBeGreaterThan(kvMemory);
    expect(formatThroughputTable(rows)).toContain('dense (over budget)');
  });
});
