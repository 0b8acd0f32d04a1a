// backend 'auto' with real probes on this machine, and 16-bit weights end to end: the greedy transformers
// tokens of fixtures/hf-llama-gqa (a bf16 checkpoint) come out with the weights kept in bf16, converted to f16,
// or widened to f32, on cpu and (when it loads) wasm.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chooseBackend } from './backends.js';
import { createEngine } from './engine.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = process.env.HF_FIXTURE_DIR ? resolve(process.env.HF_FIXTURE_DIR) : join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};
const prompt = golden.inputs[String(golden.generate.prompt_len)];

/** Whether @shadowkv/kernels-wasm loads and exports its factory here (what auto tries second). */
async function wasmLoads(): Promise<boolean> {
  try {
    const name = '@shadowkv/kernels-wasm';
    return typeof ((await import(/* @vite-ignore */ name)) as { wasm?: unknown }).wasm === 'function';
  } catch {
    return false;
  }
}

describe("backend 'auto'", () => {
  it('skips the software WebGPU adapter of this GPU-less machine, says why, and takes wasm (else cpu)', async () => {
    const { backend, reason } = await chooseBackend('auto', { threads: 1 });
    try {
      expect(backend.name).not.toBe('webgpu');
      // lavapipe (installed by setup:webgpu) is reported as software; without it there is no adapter or no Dawn.
      expect(reason).toMatch(/^auto: (wasm|cpu)/);
      expect(reason).toMatch(/not webgpu: .*(software|fallback|llvmpipe|no WebGPU adapter|Dawn|not installed)/);
      expect(backend.name).toBe((await wasmLoads()) ? 'wasm' : 'cpu');
      if (backend.name === 'wasm') expect((backend as unknown as { threads: number }).threads).toBe(1);
    } finally {
      backend.destroy?.();
    }
  });

  it('names and instances pass through with their reason; unknown names are typed errors', async () => {
    const c = await chooseBackend('cpu');
    expect(c.backend.name).toBe('cpu');
    expect(c.reason).toMatch(/asked for cpu/);
    expect((await chooseBackend(c.backend)).backend).toBe(c.backend);
    await expect(chooseBackend('tpu' as never)).rejects.toThrow(/unknown backend "tpu"; use one of auto, cpu, wasm, webgpu, gpujs/);
  });

  it('is the default of createEngine, reported on the engine and in results', async () => {
    const engine = await createEngine({ model: fixtureDir, threads: 1 });
    try {
      expect(engine.backendReason).toMatch(/^auto: /);
      const r = await engine.generateText({ inputIds: prompt }, { maxNewTokens: 4 });
      expect(r.backend).toBe(engine.backend.name);
      expect(r.backendReason).toBe(engine.backendReason);
      expect(r.weightsDtype).toBe('bf16');
      expect(r.tokens).toEqual(golden.generate.new_tokens.slice(0, 4));
    } finally {
      engine.backend.destroy?.();
    }
  });
});

describe('16-bit weights end to end (fixtures/hf-llama-gqa is bf16)', () => {
  const n = golden.generate.new_tokens.length;
  for (const weightsDtype of [undefined, 'f32', 'f16'] as const) {
    it(`cpu, weightsDtype ${weightsDtype ?? 'default (the checkpoint: bf16 kept)'}: the transformers greedy tokens`, async () => {
      const engine = await createEngine({ model: fixtureDir, backend: 'cpu', weightsDtype });
      expect(engine.model.weights.dtype).toBe(weightsDtype ?? 'bf16');
      const r = await engine.generateText({ inputIds: prompt }, { maxNewTokens: n });
      expect(r.weightsDtype).toBe(weightsDtype ?? 'bf16');
      expect(r.tokens).toEqual(golden.generate.new_tokens);
    });
  }

  it('cpu: bf16 weights kept 16-bit give the same logits as the widened f32 weights, bit for bit', async () => {
    const kept = await createEngine({ model: fixtureDir, backend: 'cpu' });
    const wide = await createEngine({ model: fixtureDir, backend: 'cpu', weightsDtype: 'f32' });
    expect(kept.model.weights.bytes * 2).toBe(wide.model.weights.bytes);
    const a = await kept.prefill(prompt, (await import('@shadowkv/kv-policies')).dense(), prompt.length);
    const b = await wide.prefill(prompt, (await import('@shadowkv/kv-policies')).dense(), prompt.length);
    expect(Array.from(a.logits)).toEqual(Array.from(b.logits));
    a.state.dispose();
    b.state.dispose();
  });

  it('wasm (when it loads): bf16 weights kept 16-bit give the transformers greedy tokens', async (ctx) => {
    if (!(await wasmLoads())) ctx.skip('@shadowkv/kernels-wasm does not load here');
    const engine = await createEngine({ model: fixtureDir, backend: 'wasm', threads: 1 });
    try {
      expect(engine.model.weights.dtype).toBe('bf16');
      const r = await engine.generateText({ inputIds: prompt }, { maxNewTokens: n });
      expect(r.tokens).toEqual(golden.generate.new_tokens);
    } finally {
      engine.backend.destroy?.();
    }
  });
});
