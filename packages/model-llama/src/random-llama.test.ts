// The random-model writer: deterministic per seed, loadable by the config/safetensors/tokenizer loaders.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from '@shadowkv/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLlamaConfig } from './config.js';
import { writeRandomLlama } from './random-llama.js';
import { openSafetensors } from './safetensors.js';
import { loadTokenizer } from './tokenizer.js';
import { validateLlamaWeights } from './weight-source-validate.js';

const TOKENIZER_DIR = process.env.SHADOWKV_TOKENIZER_DIR ?? fileURLToPath(new URL('../../../fixtures/tokenizer-bpe', import.meta.url));

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'skv-random-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('writeRandomLlama', () => {
  it('is byte-identical for the same seed and differs for another', async () => {
    await writeRandomLlama(join(tmp, 'a'), { seed: 7 });
    await writeRandomLlama(join(tmp, 'b'), { seed: 7 });
    await writeRandomLlama(join(tmp, 'c'), { seed: 8 });
    const read = (d: string) => readFile(join(tmp, d, 'model.safetensors'));
    const [a, b, c] = await Promise.all([read('a'), read('b'), read('c')]);
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(c.length);
    expect(a.equals(c)).toBe(false);
    expect(await readFile(join(tmp, 'a', 'config.json'), 'utf8')).toBe(await readFile(join(tmp, 'b', 'config.json'), 'utf8'));
  });

  it('loads back: valid config with the note, BF16 weights that validate, std ≈ 0.02, norms = 1', async () => {
    const dir = join(tmp, 'a');
    const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(raw._shadowkv_note).toBe('random weights, for demos and tests');
    const cfg = await loadLlamaConfig(dir);
    const src = await openSafetensors(dir);
    try {
      validateLlamaWeights(src, cfg);
      expect(new Set(src.names().map((n) => src.info(n).dtype))).toEqual(new Set(['BF16']));
      const q = await src.readF32('model.layers.0.self_attn.q_proj.weight'); // [nHeads*headDim, hidden] = 16384 values
      let sum = 0;
      let sq = 0;
      for (const v of q) {
        sum += v;
        sq += v * v;
      }
      const mean = sum / q.length;
      const std = Math.sqrt(sq / q.length - mean * mean);
      // Sample std of n=16384 normals has relative standard error 1/sqrt(2n) ≈ 0.55%; 5% is ~9 sigma.
      // The mean's standard error is 0.02/sqrt(n) ≈ 1.6e-4; 1e-3 is ~6 sigma.
      expect(Math.abs(std - 0.02)).toBeLessThan(0.001);
      expect(Math.abs(mean)).toBeLessThan(1e-3);
      expect(Array.from(await src.readF32('model.norm.weight')).every((v) => v === 1)).toBe(true);
    } finally {
      await src.close();
    }
  });

  it('honours config overrides (tied embeddings → no lm_head) and copies the tokenizer with its vocab and BOS/EOS', async () => {
    const dir = join(tmp, 'tied');
    await writeRandomLlama(dir, { seed: 1, tokenizerFrom: TOKENIZER_DIR, config: { tie_word_embeddings: true, num_hidden_layers: 1, rope_theta: 500000 } });
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const cfg = await loadLlamaConfig(dir);
    const tok = (await loadTokenizer(dir))!;
    expect(cfg).toMatchObject({ tieWordEmbeddings: true, nLayers: 1, ropeTheta: 500000, vocabSize: tok.vocabSize, bosTokenId: tok.bosTokenId, eosTokenIds: tok.eosTokenIds });
    const src = await openSafetensors(dir);
    expect(src.has('lm_head.weight')).toBe(false);
    validateLlamaWeights(src, cfg);
    await src.close();
  });

  it('changing the layer count leaves the shared tensors unchanged (per-tensor streams)', async () => {
    await writeRandomLlama(join(tmp, 'l1'), { seed: 3, config: { num_hidden_layers: 1 } });
    await writeRandomLlama(join(tmp, 'l2'), { seed: 3, config: { num_hidden_layers: 2 } });
    const [s1, s2] = await Promise.all([openSafetensors(join(tmp, 'l1')), openSafetensors(join(tmp, 'l2'))]);
    for (const n of ['model.embed_tokens.weight', 'model.layers.0.mlp.down_proj.weight']) {
      expect(Buffer.from(await s1.readBytes(n)).equals(Buffer.from(await s2.readBytes(n))), n).toBe(true);
    }
    expect(Buffer.from(await s1.readBytes('model.norm.weight')).length).toBeGreaterThan(0);
    await Promise.all([s1.close(), s2.close()]);
  });

  it('rejects an invalid config as an option error naming the field', async () => {
    await expect(writeRandomLlama(join(tmp, 'bad'), { config: { num_key_value_heads: 3 } })).rejects.toThrow(InvalidOptionError);
    await expect(writeRandomLlama(join(tmp, 'bad'), { config: { num_key_value_heads: 3 } })).rejects.toThrow(/num_key_value_heads/);
    await expect(writeRandomLlama(join(tmp, 'bad'), { tokenizerFrom: tmp })).rejects.toThrow(/tokenizerFrom.*no tokenizer\.json/);
  });
});
