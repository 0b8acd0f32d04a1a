// bench throughput: the batch rule (prefill one at a time, all decode together), and a tiny run whose batches
// fit the budget by measurement and whose sparse policy fits a larger batch than dense.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dense, shadowkv } from '@shadowkv/kv-policies';
import { writeRandomLlama } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli-run.test-support.js';
import { createEngine, type Engine } from '../engine.js';
import { formatThroughputTable, largestBatch, runThroughput, type ThroughputRow } from './throughput.js';

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
    const seen: number[] = [];
    const rows = await runThroughput(engine, [dense(), sparse], [context], { kvMemory, newTokens: 3, maxBatch: 3, denseAtBatchOf: 'shadowkv', denseHostLimit: 1 << 30, onContext: (rs) => void seen.push(rs.length) });
    expect(seen).toEqual([rows.length]);
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

describe('bench throughput --out', () => {
  it('writes the table and JSON after each context, past max_position_embeddings with --max-context', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'skv-throughput-'));
    try {
      // A model trained for 48 positions: contexts 32 and 56 need --max-context.
      const config = { hidden_size: 64, intermediate_size: 128, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32, max_position_embeddings: 48 };
      await writeRandomLlama(join(tmp, 'm'), { config });
      const out = join(tmp, 'table.md');
      const args = ['bench', 'throughput', '--model', join(tmp, 'm'), '--backend', 'cpu', '--context', '32,56', '--kv-memory', '1MiB', '--new-tokens', '2', '--max-batch', '2', '--policy', 'dense', '--quiet'];
      const refused = await runCli([...args, '--out', out]);
      expect(refused.code).not.toBe(0);
      // The first context was measured before the second was refused: the file holds it.
      const partial = await readFile(out, 'utf8');
      expect(JSON.parse(/```json\n(.*)\n```/s.exec(partial)![1]).map((r: ThroughputRow) => r.context)).toEqual([32]);
      const { code, out: stdout } = await runCli([...args, '--out', out, '--max-context', '64']);
      expect(code).toBe(0);
      const text = await readFile(out, 'utf8');
      const rows = JSON.parse(/```json\n(.*)\n```/s.exec(text)![1]) as ThroughputRow[];
      expect(rows.map((r) => [r.context, r.policy, r.batch])).toEqual([
        [32, 'dense', 2],
        [56, 'dense', 2],
      ]);
      // The file's table is the one printed.
      expect(text.startsWith(stdout.trim())).toBe(true);
      expect(rows.every((r) => r.prefill === 'live')).toBe(true);

      // --prefill-cache: one prompt per context prefilled once, recorded on disk, replayed into every sequence.
      const cache = join(tmp, 'cache');
      const replayed = await runCli([...args, '--out', out, '--max-context', '64', '--prefill-cache', cache, '--policy', 'dense,shadowkv:budget=8:chunk-size=4:rank=4:outliers=1:local-chunks=1']);
      expect(replayed.code).toBe(0);
      const rows2 = JSON.parse(/```json\n(.*)\n```/s.exec(await readFile(out, 'utf8'))![1]) as ThroughputRow[];
      expect(rows2.map((r) => [r.context, r.policy, r.prefill])).toEqual([
        [32, 'dense', 'replayed'],
        [32, 'shadowkv', 'replayed'],
        [56, 'dense', 'replayed'],
        [56, 'shadowkv', 'replayed'],
      ]);
      // One recording per context, shared by both policies and every sequence.
      const [dir] = await readdir(cache);
      expect((await readdir(join(cache, dir))).length).toBe(2);
      expect(replayed.out).toContain('(replay)');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
