// The CLI as a user runs it: flags, JSON output, typed errors with exit code 2.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from './cli.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};

async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = 0;
  try {
    await main(['node', 'shadowkv', ...args]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

describe('shadowkv CLI', () => {
  beforeEach(() => {
    process.exitCode = 0;
  });
  afterEach(() => {
    process.exitCode = 0;
  });

  it('generate --input-ids --json prints the transformers greedy tokens', async () => {
    const ids = golden.inputs[String(golden.generate.prompt_len)].join(',');
    const r = await run(['generate', '--model', fixtureDir, '--input-ids', ids, '--max-new-tokens', '24', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out.trim()) as { tokens: number[]; promptTokens: number; memory: { denseBytes: number } };
    expect(json.tokens).toEqual(golden.generate.new_tokens);
    expect(json.promptTokens).toBe(golden.generate.prompt_len);
  });

  it('generate with --policy shadowkv and its flags runs and reports the policy', async () => {
    const ids = golden.inputs['257'].join(',');
    const r = await run(['generate', '--model', fixtureDir, '--input-ids', ids, '--max-new-tokens', '3', '--json',
      '--policy', 'shadowkv', '--rank', '8', '--budget', '32', '--chunk-size', '8', '--local-chunks', '2', '--outliers', '2']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out.trim()) as { tokens: number[]; policy: { name: string; params: Record<string, number> }; memory: { slowBytes: number } };
    expect(json.policy.name).toBe('shadowkv');
    expect(json.policy.params.rank).toBe(8);
    expect(json.tokens).toHaveLength(3);
    expect(json.memory.slowBytes).toBeGreaterThan(0);
  });

  it('takes --svd, --quantize-values and the inline forms of every word and boolean option', async () => {
    const ids = golden.inputs['257'].join(',');
    const base = ['generate', '--model', fixtureDir, '--input-ids', ids, '--max-new-tokens', '2', '--json', '--rank', '8', '--budget', '32', '--outliers', '2'];
    const flags = await run([...base, '--policy', 'shadowkv', '--svd', 'randomized', '--quantize-values']);
    expect(flags.code, flags.err).toBe(0);
    const fp = (JSON.parse(flags.out.trim()) as { policy: { params: Record<string, unknown> } }).policy.params;
    expect([fp.svd, fp.quantizeValues]).toEqual(['randomized', true]);
    const inline = await run([...base, '--policy', 'shadowkv:svd=exact:quantizeValues=1:rankAllocation=energy']);
    expect(inline.code, inline.err).toBe(0);
    const ip = (JSON.parse(inline.out.trim()) as { policy: { params: Record<string, unknown> } }).policy.params;
    expect([ip.svd, ip.quantizeValues, ip.rankAllocation]).toEqual(['exact', true, 'energy']);
    const bad = await run([...base, '--policy', 'shadowkv:quantizeValues=maybe']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/true\/false for quantizeValues/);
    const badSvd = await run([...base, '--policy', 'shadowkv:svd=full']);
    expect(badSvd.code).toBe(2);
    expect(badSvd.err).toMatch(/svd/);
  });

  it('bad input gets a typed error and exit code 2, never a stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--model', '/nonexistent/model', '--input-ids', '1,2'], /config\.json/],
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--policy', 'shadowkv', '--budget', '12', '--chunk-size', '8'], /budget/],
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--policy', 'nope'], /unknown policy/],
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--backend', 'quantum'], /unknown backend/],
      [['generate', '--model', fixtureDir, '--prompt', 'hello'], /no tokenizer\.json/],
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--max-new-tokens', '5000'], /max_position_embeddings/],
    ];
    for (const [args, msg] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});
