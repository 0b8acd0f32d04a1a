// Lifecycle: engines and sessions free what they created, never what the caller passed in, and 100 of them
// created and disposed in one process leave memory where it started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpu } from '@shadowkv/kernels-cpu';
import { LlamaModel, writeRandomLlama } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, EngineDisposedError } from './engine.js';
import { generateText } from './generate.js';

const here = dirname(fileURLToPath(import.meta.url));
const modelDir = join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const ids = [0, 5, 17, 42, 99, 7, 3, 250, 11, 8, 64, 2];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap plus typed-array memory after full collections (the CPU backend's tensors are ArrayBuffers). */
async function settled(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('engine and session lifecycle', () => {
  // The 100-engine loop loads a seeded random 2-layer model (writeRandomLlama's default shape): loading it takes
  // a few ms, so the loop measures the lifecycle and not weight loading.
  let small: string;
  beforeAll(async () => {
    small = mkdtempSync(join(tmpdir(), 'skv-lifecycle-'));
    await writeRandomLlama(small, { seed: 3 });
  });
  afterAll(() => rmSync(small, { recursive: true, force: true }));

  it('100 engines with a session each, created and disposed, leave memory at its starting level', async () => {
    // One warm-up round so that module code, JIT and the tokenizer-less load path are allocated before the baseline.
    const warm = await createEngine({ model: small, backend: 'cpu' });
    await warm.session().generateText({ inputIds: ids }, { maxNewTokens: 2 });
    warm.dispose();
    const before = await settled();
    let modelBytes = 0;
    for (let i = 0; i < 100; i++) {
      const engine = await createEngine({ model: small, backend: 'cpu' });
      modelBytes = engine.model.parameterCount() * 4; // f32 checkpoint
      const s = engine.session({ capacity: 64 });
      const r = await s.generateText({ inputIds: ids }, { maxNewTokens: 2, ignoreEos: true });
      expect(r.tokens).toHaveLength(2);
      engine.dispose();
      expect(engine.openSessions).toBe(0);
      expect(() => s.generate({ inputIds: ids })).toThrow();
    }
    const after = await settled();
    // Keeping every tenth engine's weights alive would add 10 models; allow less than 5 (heap noise of V8).
    expect(modelBytes).toBeGreaterThan(100_000);
    expect(after - before).toBeLessThan(5 * modelBytes);
  }, 120_000);

  it('engine.dispose() frees its sessions but not a model or backend the caller passed in', async () => {
    const backend = cpu();
    const model = await LlamaModel.load(modelDir, { backend });
    const engine = await createEngine({ model, backend });
    const s = engine.session();
    await s.generateText({ inputIds: ids }, { maxNewTokens: 2 });
    engine.dispose();
    engine.dispose(); // idempotent
    expect(() => engine.session()).toThrow(EngineDisposedError);
    expect(() => s.generate(null)).toThrow();
    // The caller's model and backend still work: another engine over them generates.
    const again = await createEngine({ model, backend });
    const r = await again.generateText({ inputIds: ids }, { maxNewTokens: 3 });
    expect(r.tokens).toHaveLength(3);
    again.dispose();
  });

  it('generate() of the one-call helper frees nothing the caller passed in', async () => {
    // The real CPU backend, with its dispose/destroy calls noted (it frees host arrays by GC, so the calls are
    // what shows ownership).
    const real = cpu();
    const disposed = new Set<unknown>();
    const created = new Set<unknown>();
    let destroyed = false;
    let loading = true;
    const backend = new Proxy(real, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        if (typeof v !== 'function') return v;
        if (key === 'dispose') return (t: unknown) => (disposed.add(t), target.dispose(t as never));
        if (key === 'destroy') return () => ((destroyed = true), target.destroy());
        return (...args: unknown[]) => {
          const out = (v as (...a: unknown[]) => unknown).apply(target, args);
          if (loading && (key === 'upload' || key === 'zeros')) created.add(out);
          return out;
        };
      },
    });
    const model = await LlamaModel.load(modelDir, { backend });
    loading = false;
    expect(created.size).toBeGreaterThan(0);
    const a = await generateText({ model, backend, prompt: { inputIds: ids }, maxNewTokens: 3 });
    const b = await generateText({ model, backend, prompt: { inputIds: ids }, maxNewTokens: 3 });
    expect(b.tokens).toEqual(a.tokens);
    expect([...created].filter((t) => disposed.has(t))).toHaveLength(0);
    expect(destroyed).toBe(false);
    // Disposing the model is the caller's call.
    model.dispose();
    expect([...created].some((t) => disposed.has(t))).toBe(true);
  });
});
