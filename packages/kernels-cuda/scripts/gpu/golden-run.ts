// Greedy tokens on fixtures/hf-llama-gqa on one backend against the transformers goldens (as
// apps/shadowkv/src/backends-e2e.test.ts checks on the software adapters), for the GPU machine. Prints one JSON
// object { backend, dtype, equal, tokens, golden }; exit code 1 when the tokens differ.
// Usage (bundled by scripts/gpu-pack.sh): node golden-run.mjs <fixture dir> [cuda|webgpu|cpu] [f32|bf16]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../../../../apps/shadowkv/src/engine.js';
import type { BackendName } from '../../../../apps/shadowkv/src/backends.js';

const [dir, backend = 'cuda', dtype] = process.argv.slice(2);
if (!dir) throw new Error('usage: golden-run <fixture dir> [backend] [weights dtype]');
const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};
const engine = await createEngine({ model: dir, backend: backend as BackendName, ...(dtype ? { weightsDtype: dtype } : {}) } as Parameters<typeof createEngine>[0]);
const prompt = golden.inputs[String(golden.generate.prompt_len)];
const r = await engine.generateText({ inputIds: prompt }, { maxNewTokens: golden.generate.new_tokens.length });
const equal = JSON.stringify(r.tokens) === JSON.stringify(golden.generate.new_tokens);
process.stdout.write(`${JSON.stringify({ backend: r.backend, dtype: dtype ?? 'checkpoint', equal, tokens: r.tokens, golden: golden.generate.new_tokens })}\n`);
process.exitCode = equal ? 0 : 1;
