// `bench speed --peer llama.cpp --bandwidth` end to end on needle-llama (when ../shared is beside the repo):
// our rows and llama.cpp's in one JSON, ratios against both of its thread settings, the bandwidth probe and
// the decode floor; and `--verbose` reporting the backend choice and the weights placement.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli-run.test-support.js';
import type { SpeedComparison } from './speed-comparison.js';
import { peerThreadCounts } from './speed-comparison.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const needle = join(root, '..', 'shared', 'models', 'needle-llama');
const fixtureDir = join(root, 'fixtures', 'hf-llama-gqa');

const run = runCli;

describe('bench speed --peer llama.cpp', () => {
  it('runs llama.cpp on the GGUF of the same model beside ours, with ratios, bandwidth and floor', async (ctx) => {
    if (!existsSync(`${needle}-gguf`)) ctx.skip(`needs ${needle}-gguf (the shared reference data beside the repo)`);
    const r = await run([
      'bench', 'speed', '--model', needle, '--backend', 'cpu', '--context', '64', '--new-tokens', '4', '--policy', 'dense',
      '--peer', 'llama.cpp', '--peer-threads', '1', '--bandwidth', '--json', '--quiet',
    ]);
    expect(r.code, r.err).toBe(0);
    const c = JSON.parse(r.out) as SpeedComparison;
    const ours = c.rows.filter((x) => x.engine === 'shadowkv');
    const peer = c.rows.filter((x) => x.engine === 'llama.cpp');
    expect(ours).toHaveLength(1);
    expect(peer).toHaveLength(1);
    expect(peer[0]).toMatchObject({ engine: 'llama.cpp', gguf: 'needle-bf16.gguf', threads: 1, context: 64, newTokens: 4 });
    expect(peer[0].decodeTokensPerSecond).toBeGreaterThan(0);
    expect(ours[0]).toMatchObject({ backend: 'cpu', weightsDtype: 'bf16', threads: 1 });
    const ratio = c.ratios[0];
    expect(ratio.decodeVsPeerSameThreads).toBeCloseTo(ours[0].decodeTokensPerSecond / peer[0].decodeTokensPerSecond, 6);
    expect(ratio.prefillVsPeerBest).not.toBeNull();
    expect(c.bandwidth!.bytesPerSecond).toBeGreaterThan(1e8);
    if (ours[0].engine === 'shadowkv') {
      expect(ours[0].decodeFloorMs).toBeCloseTo((1000 * ours[0].decodeWeightBytes) / c.bandwidth!.bytesPerSecond, 6);
    }
  }, 120_000);

  it('runs llama.cpp at our thread count and at every count up to the cores', () => {
    expect(peerThreadCounts([2], 2)).toEqual([1, 2]);
    expect(peerThreadCounts([4], 2)).toEqual([1, 2, 4]);
    expect(peerThreadCounts([1, 1], 1)).toEqual([1]);
  });

  it('rejects a peer with no GGUF for the weights dtype, naming the file to give', async () => {
    const r = await run(['bench', 'speed', '--model', fixtureDir, '--backend', 'cpu', '--context', '8', '--peer', 'llama.cpp', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no GGUF with bf16 weights next to .*hf-llama-gqa.*--peer-model/);
  });
});

describe('--verbose and --weights-dtype', () => {
  it('prints the backend chosen with its reason and where the weights went', async () => {
    const r = await run(['generate', '--model', fixtureDir, '--input-ids', '1,2,3', '--max-new-tokens', '2', '--backend', 'cpu', '--weights-dtype', 'f32', '--verbose', '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/backend cpu: asked for cpu/);
    expect(r.err).toMatch(/weights f32 \(checkpoint bf16, asked f32\)/);
    const bad = await run(['generate', '--model', fixtureDir, '--input-ids', '1', '--weights-dtype', 'f8']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--weights-dtype.*f8.*(f32, f16, bf16|Allowed choices)/);
  });
});
