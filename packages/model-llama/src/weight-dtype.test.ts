// Weight placement: 16-bit checkpoint weights stay 16-bit on backends that take them, are widened for the
// others, and can be converted on request (the bf16 fixture → f32 or f16).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, type KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { LlamaModel } from './llama-model.js';
import { openSafetensors } from './safetensors.js';
import { readWeight } from './weight-dtype.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtureDir = join(here, '..', '..', '..', 'fixtures', 'hf-llama-gqa');

/** The cpu backend declaring f32 weights only, as backends without 16-bit kernels do. */
function f32Only(): KernelBackend {
  const be = cpu();
  return Object.assign(Object.create(Object.getPrototypeOf(be)), be, { name: 'cpu', capabilities: { ...be.capabilities, weightDtypes: ['f32'] } });
}

describe('weight dtype placement (fixtures/hf-llama-gqa is bf16)', () => {
  it('keeps bf16 weights 16-bit on a backend that takes them, by default', async () => {
    const m = await LlamaModel.load(fixtureDir, { backend: cpu() });
    expect(m.weights).toMatchObject({ checkpoint: 'bf16', dtype: 'bf16', requested: undefined });
    expect(m.weights.note).toBeUndefined();
    // Matrices only (norm vectors stay f32): 2 bytes per parameter outside the norms.
    const c = m.config;
    const norms = c.hiddenSize * (2 * c.nLayers + 1);
    expect(m.weights.bytes).toBe(2 * (m.parameterCount() - norms));
    expect(m.decodeWeightBytes()).toBe(2 * (m.parameterCount() - norms - (c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize)));
  });

  it('widens to f32 for a backend without 16-bit weights, and says why', async () => {
    const m = await LlamaModel.load(fixtureDir, { backend: f32Only() });
    expect(m.weights.dtype).toBe('f32');
    expect(m.weights.note).toMatch(/takes f32 weights, so bf16 weights are widened to f32/);
    const asked = await LlamaModel.load(fixtureDir, { backend: cpu(), weightsDtype: 'f32' });
    expect(asked.weights).toMatchObject({ requested: 'f32', dtype: 'f32' });
    expect(asked.weights.bytes).toBe(m.weights.bytes);
  });

  it('reads raw bf16 bits as stored, and converts to f16 on request', async () => {
    const src = await openSafetensors(fixtureDir);
    try {
      const info = src.info('model.layers.0.self_attn.q_proj.weight');
      const raw = await readWeight(src, info, 'bf16');
      const wide = await readWeight(src, info, 'f32');
      expect(raw).toBeInstanceOf(Uint16Array);
      expect(wide).toBeInstanceOf(Float32Array);
      // Raw bits are the top halves of the widened floats.
      const hi = new Uint32Array((wide as Float32Array).buffer, (wide as Float32Array).byteOffset, wide.length);
      expect(Array.from(raw as Uint16Array)).toEqual(Array.from(hi, (u) => u >>> 16));
      const m = await LlamaModel.load(fixtureDir, { backend: cpu(), weightsDtype: 'f16' });
      expect(m.weights).toMatchObject({ requested: 'f16', dtype: 'f16', checkpoint: 'bf16' });
    } finally {
      await src.close();
    }
    await expect(LlamaModel.load(fixtureDir, { backend: cpu(), weightsDtype: 'f8' as never })).rejects.toThrow(InvalidOptionError);
  });
});
