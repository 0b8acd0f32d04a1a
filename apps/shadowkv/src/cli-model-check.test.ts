// --model is checked before any backend starts: a wrong path fails with one typed message naming it, exit 2,
// without the seconds a backend takes to come up ('auto' loads Dawn and probes CUDA). The order is shown by
// outcomes, not timings: a backend that cannot start here would have raised its own error first.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { checkModelDir, userErrorReport } from './cli-errors.js';
import { chooseBackend } from './backends.js';
import { runCli } from './cli-run.test-support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtureDir = join(root, 'fixtures', 'hf-llama-gqa');
const tmp = mkdtempSync(join(tmpdir(), 'shadowkv-model-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The message of what `fn` rejects with. */
async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('checkModelDir', () => {
  it('accepts a loadable model directory', async () => {
    await expect(checkModelDir('--model', fixtureDir)).resolves.toBeUndefined();
  });

  it('names the path and what to do for a missing path, a file, no config, and weights that do not match', async () => {
    const missing = await rejection(() => checkModelDir('--model', '/nope/model'));
    expect(missing.name).toBe('InvalidOptionError');
    expect(missing.message).toMatch(/option "--model": cannot read "\/nope\/model" \(no such directory\); give a Hugging Face Llama directory \(config\.json and \*\.safetensors/);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect((await rejection(() => checkModelDir('--model', file))).message).toMatch(/"[^"]*a-file" is not a directory/);
    const empty = mkdtempSync(join(tmp, 'empty-'));
    const noConfig = await rejection(() => checkModelDir('--model', empty));
    expect(noConfig.name).toBe('ModelFormatError');
    expect(noConfig.message).toContain(join(empty, 'config.json'));
    // A config without its weights, then a config whose layer count the weights do not have.
    const noWeights = mkdtempSync(join(tmp, 'no-weights-'));
    cpSync(join(fixtureDir, 'config.json'), join(noWeights, 'config.json'));
    expect((await rejection(() => checkModelDir('--model', noWeights))).message).toMatch(/safetensors/);
    const mismatch = mkdtempSync(join(tmp, 'mismatch-'));
    cpSync(fixtureDir, mismatch, { recursive: true });
    const config = JSON.parse(readFileSync(join(fixtureDir, 'config.json'), 'utf8')) as Record<string, number>;
    writeFileSync(join(mismatch, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: config.num_hidden_layers + 1 }));
    const bad = await rejection(() => checkModelDir('--model', mismatch));
    expect(bad.name).toBe('ModelFormatError');
    expect(bad.message).toMatch(new RegExp(`num_hidden_layers.*is ${config.num_hidden_layers + 1} but .* holds tensors of ${config.num_hidden_layers} layers`));
  });
});

describe('the CLI checks --model before it starts a backend', () => {
  it('a bad --model is reported even with a backend that cannot start here (it would have failed first)', async () => {
    // On this GPU-less machine the cuda backend raises BackendUnavailableError as soon as it is created.
    const cuda = await chooseBackend('cuda').then(
      (c) => (c.backend.destroy?.(), null),
      (e: Error) => e,
    );
    for (const args of [
      ['generate', '--model', '/nope/model', '--prompt', 'hi', '--backend', 'cuda'],
      ['demo', '--model', '/nope/model', '--backend', 'cuda'],
      ['bench', 'speed', '--model', '/nope/model', '--context', '64', '--backend', 'cuda'],
      ['serve', '--model', '/nope/model', '--backend', 'cuda'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/^shadowkv: InvalidOptionError: option "--model": cannot read "\/nope\/model" \(no such directory\)/);
      expect(r.err).not.toMatch(/cuda|CUDA/);
      expect(r.err.trim().split('\n'), r.err).toHaveLength(2); // the message and the usage line
    }
    // Where a CUDA GPU is present the order is not observable this way; the assertions above still hold.
    if (cuda) expect(cuda.name).toBe('BackendUnavailableError');
  });

  it('other input files too: --resume-session and --peer-model are checked before the backend (a valid model here)', async () => {
    for (const [args, flag] of [
      [['generate', '--model', fixtureDir, '--prompt', 'hi', '--resume-session', '/nope/s.skv', '--backend', 'cuda'], '--resume-session'],
      [['bench', 'speed', '--model', fixtureDir, '--context', '64', '--peer', 'llama.cpp', '--peer-model', '/nope/m.gguf', '--backend', 'cuda'], '--peer-model'],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(new RegExp(`^shadowkv: InvalidOptionError: option "${flag}": cannot read "/nope/[^"]+" \\(no such file\\)`));
    }
  });

  it('bench niah checks --model before --jobs starts processes', async () => {
    const data = join(tmp, 'rows.jsonl');
    writeFileSync(data, '');
    const r = await runCli(['bench', 'niah', '--model', '/nope/model', '--data', data, '--jobs', '2']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/option "--model": cannot read "\/nope\/model"/);
    expect(r.err).not.toMatch(/shard/);
  });

  it("with --backend auto (the default) the launched CLI prints only the message and the usage line: no backend came up (Dawn's adapter warnings, wasm workers)", () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'shadowkv.mjs'), 'generate', '--model', '/nope/model', '--prompt', 'hi'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n'), r.stderr).toEqual([
      expect.stringMatching(/^shadowkv: InvalidOptionError: option "--model": cannot read "\/nope\/model" \(no such directory\); give a Hugging Face Llama directory/),
      expect.stringMatching(/^usage: shadowkv generate \[options\]/),
    ]);
  });
});

describe('typed errors from another copy of @shadowkv/core', () => {
  it('are user errors (exit 2, one message), as a backend package imported by name at run time throws them', () => {
    // Stand-ins for the classes of a second copy of core (same names, other class objects).
    class ShadowKvError extends Error {
      readonly code: string;
      constructor(code: string, message: string) {
        super(message);
        this.name = new.target.name;
        this.code = code;
      }
    }
    class BackendUnavailableError extends ShadowKvError {}
    const report = userErrorReport(new BackendUnavailableError('BACKEND_UNAVAILABLE', 'backend "cuda" is not available: no CUDA driver'), new Command('shadowkv'));
    expect(report?.code).toBe(2);
    expect(report?.text).toMatch(/^shadowkv: BackendUnavailableError: backend "cuda" is not available: no CUDA driver\nusage: shadowkv/);
    // A bug stays a bug: rethrown by main() with its stack.
    expect(userErrorReport(Object.assign(new TypeError('x is undefined'), { code: 'ERR_X' }), new Command('shadowkv'))).toBeUndefined();
  });
});
