// The needle demo on the shipped model: the prompt hides the pass key where it says, and both caches retrieve it.
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.js';
import { DEMO_SHADOWKV, describeSetup, formatDemo, needleModelDir, needlePrompt, runNeedleDemo } from './demo.js';
import { runCli } from './cli-run.test-support.js';

/** Whether @shadowkv/kernels-wasm loads and exports its factory here. */
async function wasmLoads(): Promise<boolean> {
  try {
    const name = '@shadowkv/kernels-wasm';
    return typeof ((await import(/* @vite-ignore */ name)) as { wasm?: unknown }).wasm === 'function';
  } catch {
    return false;
  }
}

describe('shadowkv demo (needle-llama)', () => {
  it('builds a prompt of about the asked length with the needle at the asked depth', async () => {
    const engine = await createEngine({ model: needleModelDir(), backend: 'cpu' });
    try {
      const p = needlePrompt(engine, 1500, 0.5, 3);
      expect(p.ids[0]).toBe(engine.model.config.bosTokenId);
      // Cut at whole snippets (about 60 tokens each), never over the length asked for.
      expect(p.ids.length).toBeLessThanOrEqual(1500);
      expect(p.ids.length).toBeGreaterThan(1500 - 120);
      expect(Math.abs(p.needleAt / p.ids.length - 0.5)).toBeLessThan(0.05);
      const tok = engine.requireTokenizer();
      expect(tok.decode(p.ids.slice(p.needleAt, p.needleAt + 12))).toContain(`The pass key is ${p.passKey}`);
      expect(p.text.endsWith('What is the pass key? The pass key is')).toBe(true);
      expect(needlePrompt(engine, 1500, 0.5, 3).ids).toEqual(p.ids);
    } finally {
      engine.dispose();
    }
  });

  it('dense and ShadowKV both retrieve the pass key; ShadowKV holds less on the fast side', async () => {
    const r = await runNeedleDemo({ backend: 'cpu', context: 640, depth: 0.25, seed: 0, steps: 8, shadowkv: DEMO_SHADOWKV, quiet: true }, () => {});
    expect(r.rows.map((x) => x.policy.name)).toEqual(['dense', 'shadowkv']);
    for (const row of r.rows) {
      expect(row.answer, row.policy.name).toBe(r.passKey);
      expect(row.correct).toBe(true);
      expect(row.decodeTokensPerSecond).toBeGreaterThan(0);
    }
    const [dense, sk] = r.rows;
    expect(sk.memory.fastBytes).toBeLessThan(dense.memory.fastBytes);
    expect(sk.memory.slowBytes).toBeGreaterThan(0);
    expect(dense.memory.slowBytes).toBe(0);
    const text = formatDemo(r);
    expect(text).toMatch(new RegExp(`answer +${r.passKey} \\(correct\\) +${r.passKey} \\(correct\\)`));
    // Plain ASCII: readable in any terminal or log.
    expect(/^[\x20-\x7e\n]*$/.test(text)).toBe(true);
  });

  it('honors --threads and --weights-dtype and says which were used (CLI, JSON and table)', async (ctx) => {
    if (!(await wasmLoads())) ctx.skip('@shadowkv/kernels-wasm does not load here (--threads is a wasm setting)');
    const base = ['demo', '--backend', 'wasm', '--context', '512', '--json'];
    // Neither is the default here (wasm's own thread choice is the core count; the checkpoint is bf16).
    const r = await runCli([...base, '--threads', '1', '--weights-dtype', 'f32']);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out.trim()) as { backend: string; threads: number; weights: { dtype: string; requested: string; checkpoint: string } };
    expect(json.backend).toBe('wasm');
    expect(json.threads).toBe(1);
    expect(json.weights).toMatchObject({ dtype: 'f32', requested: 'f32', checkpoint: 'bf16' });
    const table = await runCli(['demo', '--backend', 'wasm', '--context', '512', '--threads', '1', '--weights-dtype', 'f32', '--quiet', '--verbose']);
    expect(table.code, table.err).toBe(0);
    expect(table.out).toContain('setup: backend wasm, 1 thread; weights f32 (asked)');
    expect(table.err).toMatch(/^backend wasm: asked for wasm$/m);
  });

  it('describes the setup: the checkpoint dtype kept or widened, and a --threads the backend does not use', () => {
    const kept = { requested: undefined, dtype: 'bf16', checkpoint: 'bf16', bytes: 1 } as const;
    expect(describeSetup('wasm', 2, kept)).toBe("setup: backend wasm, 2 threads; weights bf16 (the checkpoint's)");
    expect(describeSetup('cpu', null, kept, 4)).toBe("setup: backend cpu (--threads 4 unused: it sets the wasm backend's workers); weights bf16 (the checkpoint's)");
    const widened = { dtype: 'f32', checkpoint: 'bf16', requested: 'f16', bytes: 1, note: 'the x backend takes f32 weights, so f16 weights are widened to f32' } as const;
    expect(describeSetup('x', null, widened)).toBe('setup: backend x; weights f32 (asked f16; the x backend takes f32 weights, so f16 weights are widened to f32)');
  });
});
