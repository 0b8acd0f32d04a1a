// Dense greedy generation on every backend that can run here must reproduce the transformers tokens.
// A backend that cannot start (no adapter, gpu.js missing) is skipped with its reason printed.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError, type KernelBackend } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { resolveBackend, type BackendName } from './backends.js';
import { createEngine } from './engine.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = process.env.HF_FIXTURE_DIR ? resolve(process.env.HF_FIXTURE_DIR) : join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');
const golden = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};

async function probe(name: BackendName): Promise<KernelBackend | string> {
  try {
    return await resolveBackend(name);
  } catch (err) {
    if (err instanceof BackendUnavailableError) return err.message;
    throw err;
  }
}

for (const name of ['webgpu', 'gpujs'] as const) {
  describe(`generate() on the ${name} backend`, async () => {
    const backend = await probe(name);
    if (typeof backend === 'string') {
      console.warn(`skipping ${name} end-to-end test: ${backend}`);
      it.skip(`greedy tokens equal transformers (${backend})`, () => {});
      return;
    }
    it('greedy tokens equal the transformers tokens', async () => {
      const engine = await createEngine({ model: fixtureDir, backend });
      const prompt = golden.inputs[String(golden.generate.prompt_len)];
      const r = await engine.generateText({ inputIds: prompt }, { maxNewTokens: golden.generate.new_tokens.length });
      expect(r.backend).toBe(backend.name);
      expect(r.tokens).toEqual(golden.generate.new_tokens);
    });
  });
}
