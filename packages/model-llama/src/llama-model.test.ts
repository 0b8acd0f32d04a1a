// Parity of the forward pass with Hugging Face transformers (float64 goldens) on the CPU reference backend.
// HF_FIXTURE_DIR points at any dump in the same layout (config.json, *.safetensors weights, golden.json,
// golden.safetensors); the default is the repo's copy of shared/fixtures/hf-llama-gqa.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpu } from '@shadowkv/kernels-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { dense } from '@shadowkv/kv-policies';
import { LlamaModel } from './llama-model.js';
import { readGoldenTensors, relMaxError } from './test-support/golden-file.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = process.env.HF_FIXTURE_DIR ? resolve(process.env.HF_FIXTURE_DIR) : join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');

// Tolerances. The goldens are float64 forward passes of the same (bf16-rounded) weights; we compute in f32
// with f32 accumulation in matmuls over k <= a few thousand terms. f32 has a 6e-8 unit roundoff; a k-term dot
// product accumulates ~sqrt(k)*6e-8 relative error per op, and errors compound over layers and through
// softmax/RMSNorm, giving ~1e-5..1e-4 of the tensor's scale. We require 2e-4 of the max |logit| (a wrong
// op — e.g. a RoPE or GQA mix-up — gives errors of order 1e-1 and fails clearly).
const LOGITS_TOL = 2e-4;
const HIDDEN_TOL = 2e-4;

describe(`Llama forward parity with transformers (${fixtureDir})`, () => {
  const backend = cpu();
  let model: LlamaModel;
  const golden = readGoldenTensors(join(fixtureDir, 'golden.safetensors'));
  const meta = JSON.parse(readFileSync(join(fixtureDir, 'golden.json'), 'utf8')) as {
    inputs: Record<string, number[]>;
    generate?: { prompt_len: number; new_tokens: number[] };
  };

  beforeAll(async () => {
    model = await LlamaModel.load(fixtureDir, { backend });
  });

  for (const [len, ids] of Object.entries(meta.inputs)) {
    it(`logits for the ${len}-token input`, async () => {
      const state = dense().create({ backend, model: model.config, rope: model.rope, maxSeqLen: ids.length });
      const logits = await model.forward(ids, state, { allLogits: true });
      const got = (await backend.read(logits!)) as Float32Array;
      const want = golden.get(`logits_${len}`)!;
      expect(logits!.shape).toEqual(want.shape);
      const err = relMaxError(got, want.data);
      expect(err).toBeLessThan(LOGITS_TOL);
    });
  }

  it('logits are the same when the prompt is prefilled in chunks (the cache carries state correctly)', async () => {
    const [len, ids] = Object.entries(meta.inputs).sort((a, b) => b[1].length - a[1].length)[0];
    const state = dense().create({ backend, model: model.config, rope: model.rope, maxSeqLen: ids.length });
    const cut = [0, 5, Math.floor(ids.length / 2), ids.length - 1, ids.length].filter((v, i, a) => a.indexOf(v) === i && v <= ids.length);
    const rows: Float32Array[] = [];
    for (let i = 0; i + 1 < cut.length; i++) {
      const t = await model.forward(ids.slice(cut[i], cut[i + 1]), state, { allLogits: true });
      rows.push((await backend.read(t!)) as Float32Array);
    }
    const got = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const r of rows) {
      got.set(r, o);
      o += r.length;
    }
    expect(relMaxError(got, golden.get(`logits_${len}`)!.data)).toBeLessThan(LOGITS_TOL);
  });

  it('hidden states after the embedding and every layer match', async () => {
    const hiddenNames = [...golden.keys()].filter((k) => k.startsWith('hidden_'));
    if (hiddenNames.length === 0) return;
    const len = hiddenNames[0].split('_')[1];
    const ids = meta.inputs[len];
    const state = dense().create({ backend, model: model.config, rope: model.rope, maxSeqLen: ids.length });
    const seen = new Map<number, Float32Array>();
    await model.forward(ids, state, { onHidden: async (i, h) => void seen.set(i, (await backend.read(h)) as Float32Array) });
    for (const name of hiddenNames) {
      const i = Number(name.split('_')[2]);
      expect(seen.has(i), `hidden state ${i} observed`).toBe(true);
      expect(relMaxError(seen.get(i)!, golden.get(name)!.data), name).toBeLessThan(HIDDEN_TOL);
    }
  });
});
