// generate with a session from the command line: --turns-file (per-turn prefilled tokens), --save-session and
// --resume-session (the resumed run continues with the tokens the uninterrupted run gives), bad files exit 2.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './cli-run.test-support.js';

const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as { inputs: Record<string, number[]> };
const ids = golden.inputs['64'];

const run = runCli;

const base = ['generate', '--model', fixtureDir, '--backend', 'cpu', '--json', '--ignore-eos'];

describe('shadowkv generate with a session', () => {
  afterEach(() => {
    process.exitCode = 0;
  });

  it('--turns-file runs the turns in one session; each prefills its own new tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skv-cli-turns-'));
    const turns = join(dir, 'turns.jsonl');
    writeFileSync(turns, [JSON.stringify({ inputIds: ids.slice(0, 40), maxNewTokens: 0 }), JSON.stringify({ inputIds: ids.slice(40) })].join('\n'));
    const r = await run([...base, '--turns-file', turns, '--max-new-tokens', '4']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { turn: number; prefilledTokens: number; reusedTokens: number; tokens: number[] });
    expect(lines.map((l) => [l.turn, l.prefilledTokens, l.reusedTokens, l.tokens.length])).toEqual([
      [1, 40, 0, 0],
      [2, ids.length - 40, 40, 4],
    ]);
    // The same as one generation over the whole prompt.
    const one = await run([...base, '--input-ids', ids.join(','), '--max-new-tokens', '4']);
    expect(lines[1].tokens).toEqual((JSON.parse(one.out) as { tokens: number[] }).tokens);
  });

  it('--save-session then --resume-session continues exactly; a corrupted file is a typed error, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skv-cli-save-'));
    const file = join(dir, 's.skv');
    const first = await run([...base, '--input-ids', ids.join(','), '--max-new-tokens', '3', '--save-session', file]);
    expect(first.code, first.err).toBe(0);
    const resumed = await run([...base, '--resume-session', file, '--max-new-tokens', '3']);
    expect(resumed.code, resumed.err).toBe(0);
    const whole = await run([...base, '--input-ids', ids.join(','), '--max-new-tokens', '6']);
    const toks = (s: string) => (JSON.parse(s.trim().split('\n').pop() as string) as { tokens: number[] }).tokens;
    expect([...toks(first.out), ...toks(resumed.out)]).toEqual(toks(whole.out));
    const bytes = readFileSync(file);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(file, bytes);
    const bad = await run([...base, '--resume-session', file]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/SavedSessionError: .*s\.skv: is corrupted/);
  });
});
