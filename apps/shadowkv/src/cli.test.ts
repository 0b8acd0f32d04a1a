// The CLI as a user runs it: flags, JSON output, typed errors with exit code 2.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './cli-run.test-support.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};

const run = runCli;

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

  it('--version prints the package version and exits 0', async () => {
    const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  it("commander's own errors (bad number, missing option, unknown command) exit 2 with one message and a usage line", async () => {
    const cases: [string[], RegExp, RegExp][] = [
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--max-new-tokens', 'lots'], /--max-new-tokens must be an integer, got "lots"/, /usage: shadowkv generate \[options\]/],
      [['generate', '--input-ids', '1,2'], /required option '--model <dir>' not specified/, /usage: shadowkv generate/],
      [['bench', 'niah', '--model', fixtureDir], /required option '--data <file>'/, /usage: shadowkv bench niah/],
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--temperature'], /argument missing/, /usage: shadowkv generate/],
      [['generat'], /unknown command 'generat'/, /usage: shadowkv \[options\] \[command\]/],
      [['generate', '--model', fixtureDir, '--input-ids', '1,2', '--policy', 'shadowkv:budget=x'], /key=value/, /usage: shadowkv generate/],
    ];
    for (const [args, msg, usage] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(msg);
      expect(r.err, args.join(' ')).toMatch(usage);
      expect(r.err, args.join(' ')).not.toMatch(/\n\s+at /);
      // A short usage line, not the whole help text.
      expect(r.err.split('\n').filter(Boolean).length, r.err).toBeLessThanOrEqual(3);
    }
  });

  it('the launcher (pnpm shadowkv) runs the bundled CLI as a process, with paths relative to where the user typed them', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const docs = join(root, 'docs');
    // As `pnpm shadowkv` from docs/: the script runs at the root with INIT_CWD = docs.
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'shadowkv.mjs'), 'generate', '--model', '../fixtures/hf-llama-gqa', '--input-ids', '1,2,3', '--max-new-tokens', '2', '--json', '--quiet'], {
      cwd: root, env: { ...process.env, INIT_CWD: docs }, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout.trim()) as { tokens: number[] }).tokens).toHaveLength(2);
    const bad = spawnSync(process.execPath, [join(root, 'scripts', 'shadowkv.mjs'), 'generate', '--model', 'x', '--input-ids', '1', '--seed', '1.5'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--seed must be an integer[\s\S]*usage: shadowkv generate/);
  });

  it('--policy shadowkv without parameters derives them from the model and prompt, reports them, and stays dense when short', async () => {
    // 1100 tokens (>= 1024): width 2*32 = 64 → rank 16; 1100/16 → 64, floor 128; outliers 3.
    const long = Array.from({ length: 1100 }, (_, i) => 2 + ((i * 7) % 500)).join(',');
    const r = await run(['generate', '--model', fixtureDir, '--input-ids', long, '--max-new-tokens', '2', '--json', '--policy', 'shadowkv', '--verbose']);
    expect(r.code, r.err).toBe(0);
    const params = (JSON.parse(r.out.trim()) as { policy: { params: Record<string, unknown> } }).policy.params;
    expect(params).toMatchObject({ rank: 16, budget: 128, outliers: 3, derived: 'rank,budget,outliers' });
    expect(r.err).toMatch(/cache shadowkv: rank=16 budget=128 chunkSize=8 localChunks=4 outliers=3/);
    const short = await run(['generate', '--model', fixtureDir, '--input-ids', '1,2,3,4,5', '--max-new-tokens', '2', '--policy', 'shadowkv']);
    expect(short.code, short.err).toBe(0);
    expect(short.err.match(/stays dense/g)).toHaveLength(1);
  });

  it('missing input files are reported before the model loads', async () => {
    // The model directory does not exist either: the prompt file's error coming first shows the order.
    const gen = await run(['generate', '--model', '/nonexistent/model', '--prompt-file', '/nonexistent/prompt.txt']);
    expect(gen.code).toBe(2);
    expect(gen.err).toMatch(/--prompt-file.*"\/nonexistent\/prompt\.txt".*no such file/);
    expect(gen.err).not.toMatch(/config\.json|loading/);
    const niah = await run(['bench', 'niah', '--model', '/nonexistent/model', '--data', '/nonexistent/niah.jsonl']);
    expect(niah.code).toBe(2);
    expect(niah.err).toMatch(/--data.*no such file/);
    const dir = await run(['generate', '--model', fixtureDir, '--prompt-file', fixtureDir]);
    expect(dir.code).toBe(2);
    expect(dir.err).toMatch(/is not a file/);
  });
});
