// End to end on the wasm backend: the Llama forward pass on fixtures/hf-llama-gqa (HF_FIXTURE_DIR) matches the
// transformers float64 logits, and greedy decoding reproduces transformers' tokens, with the checkpoint's bf16
// weights kept in 16 bits (the bf16 GEMV/GEMM paths) and widened to f32, on 1 and 2 threads (2 threads with
// every op pooled). Tolerance: 2e-4 of the max |logit|, as the CPU reference's parity test
// (packages/model-llama/src/llama-model.test.ts), which explains it.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dense } from '@shadowkv/kv-policies';
import { LlamaModel } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from './wasm-backend.js';
import { wasm } from './wasm.js';
// The CPU reference's golden reader and error measure (test-only support of model-llama, read by path).
import { readGoldenTensors, relMaxError } from '../../model-llama/src/test-support/golden-file.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = process.env.HF_FIXTURE_DIR ? resolve(process.env.HF_FIXTURE_DIR) : join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const meta = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};
const LOGITS_TOL = 2e-4;

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

const golden = readGoldenTensors(join(fixtureDir, 'golden.safetensors'));
const configs = [
  { threads: 1, weightsDtype: 'bf16' as const },
  { threads: 1, weightsDtype: 'f32' as const },
  { threads: 2, weightsDtype: 'bf16' as const },
];

for (const cfg of configs) {
  describe(`Llama on wasm (${cfg.threads} thread${cfg.threads > 1 ? 's, every op pooled' : ''}, ${cfg.weightsDtype} weights)`, () => {
    let backend: WasmBackend;
    let model: LlamaModel;
    beforeAll(async () => {
      backend = await wasm({ threads: cfg.threads, thresholds: cfg.threads > 1 ? { matmul: 0, attention: 0, elementwise: 0, sparse: 0 } : undefined });
      model = await LlamaModel.load(fixtureDir, { backend, weightsDtype: cfg.weightsDtype });
    });
    afterAll(() => backend?.destroy());

    it('keeps the weight matrices in the requested dtype, in the wasm memory', () => {
      expect(model.weights.dtype).toBe(cfg.weightsDtype);
      const { bytesInUse } = backend.memoryStats();
      // The matrices hold 3,031,040 parameters: 6 MB as bf16, 12 MB as f32; norms and caches add little.
      expect(model.weights.bytes).toBe(cfg.weightsDtype === 'bf16' ? 6_062_080 : 12_124_160);
      expect(bytesInUse).toBeGreaterThanOrEqual(model.weights.bytes);
      expect(bytesInUse).toBeLessThan(model.weights.bytes * 1.05);
    });

    for (const [len, ids] of Object.entries(meta.inputs)) {
      it(`logits for the ${len}-token input match transformers within ${LOGITS_TOL}`, async () => {
        const state = dense().create({ backend, model: model.config, rope: model.rope, maxSeqLen: ids.length });
        const logits = await model.forward(ids, state, { allLogits: true });
        const got = (await backend.read(logits!)) as Float32Array;
        backend.dispose(logits!);
        expect(relMaxError(got, golden.get(`logits_${len}`)!.data)).toBeLessThan(LOGITS_TOL);
      });
    }

    it('greedy decoding reproduces the transformers tokens', async () => {
      const prompt = meta.inputs[String(meta.generate.prompt_len)];
      const want = meta.generate.new_tokens;
      const state = dense().create({ backend, model: model.config, rope: model.rope, maxSeqLen: prompt.length + want.length });
      const tokens: number[] = [];
      let logits = await model.forward(prompt, state, { lastLogits: true });
      for (let i = 0; i < want.length; i++) {
        const t = argmax((await backend.read(logits!)) as Float32Array);
        backend.dispose(logits!);
        tokens.push(t);
        if (i + 1 < want.length) logits = await model.forward([t], state, { lastLogits: true });
      }
      expect(tokens).toEqual(want);
    });
  });
}
