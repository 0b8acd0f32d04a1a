// RoPE inverse frequencies: default, linear, dynamic and llama3 scaling against the published formulas.
import { describe, expect, it } from 'vitest';
import { parseLlamaConfig, type LlamaConfig } from './config.js';
import { ropeSpecFromConfig } from './rope-spec.js';

const base = {
  architectures: ['LlamaForCausalLM'],
  vocab_size: 128256,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  max_position_embeddings: 131072,
  rope_theta: 500000,
};
const cfg = (extra: Record<string, unknown> = {}): LlamaConfig => parseLlamaConfig({ ...base, ...extra }, 'config.json');
const LLAMA31_SCALING = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };

// invFreq is stored as float32: a correctly rounded value is within half an ulp (2^-24 relative) of the
// float64 result; allow 2^-23 for the extra rounding of pow/division done in float64.
const F32_REL = 2 ** -23;
function expectRel(actual: number, expected: number, rel = F32_REL): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

describe('ropeSpecFromConfig', () => {
  it('default: invFreq[i] = theta^(-2i/headDim), attention scaling 1', () => {
    const s = ropeSpecFromConfig(cfg({ rope_theta: 10000, num_attention_heads: 32, hidden_size: 4096 }));
    expect(s.headDim).toBe(128);
    expect(s.invFreq.length).toBe(64);
    expect(s.attentionScaling).toBe(1);
    expect(s.invFreq[0]).toBe(1);
    for (const i of [1, 17, 63]) expectRel(s.invFreq[i], Math.pow(10000, (-2 * i) / 128));
  });

  it('llama3 (Llama 3.1 8B values): high frequencies kept, low divided by 8, the band between blended', () => {
    const plain = ropeSpecFromConfig(cfg()).invFreq;
    const s = ropeSpecFromConfig(cfg({ rope_scaling: LLAMA31_SCALING }));
    // Computed by hand from the formula published with Llama 3.1 (transformers' _compute_llama3_parameters):
    // wavelen = 2π/f; wavelen < 8192/4 → f; wavelen > 8192/1 → f/8; else with s = (8192/wavelen - 1)/(4 - 1):
    // (1 - s)·f/8 + s·f. Literals below are that formula in float64 (Python).
    const expected: Record<number, number> = {
      0: 1.0, // wavelen 6.3: high frequency, unchanged
      20: 0.016560440080994446, // wavelen 379: unchanged
      30: 0.0013718935677611381, // wavelen 2948: blended, s = 0.6072
      33: 0.00031269375038406517, // wavelen 5454: blended, s = 0.1673
      40: 3.428102195952591e-5, // wavelen 22911: divided by 8
      63: 3.068925988914511e-7, // divided by 8
    };
    for (const [i, v] of Object.entries(expected)) expectRel(s.invFreq[Number(i)], v);
    // Independently from the formula, for every pair: the three regimes and their boundaries.
    for (let i = 0; i < 64; i++) {
      const f = Math.pow(500000, (-2 * i) / 128);
      const wavelen = (2 * Math.PI) / f;
      let want: number;
      if (wavelen < 2048) want = f;
      else if (wavelen > 8192) want = f / 8;
      else {
        const smooth = (8192 / wavelen - 1) / 3;
        want = (1 - smooth) * (f / 8) + smooth * f;
        expect(s.invFreq[i]).toBeLessThan(plain[i]);
        expect(s.invFreq[i]).toBeGreaterThan(plain[i] / 8);
      }
      expectRel(s.invFreq[i], want);
    }
  });

  it('linear: every frequency divided by the factor', () => {
    const plain = ropeSpecFromConfig(cfg()).invFreq;
    const s = ropeSpecFromConfig(cfg({ rope_scaling: { type: 'linear', factor: 4 } })).invFreq;
    for (let i = 0; i < 64; i++) expectRel(s[i], plain[i] / 4);
  });

  it('dynamic: unscaled up to the original length, NTK-raised base beyond it', () => {
    const c = cfg({ rope_theta: 10000, max_position_embeddings: 4096, rope_scaling: { type: 'dynamic', factor: 2 } });
    const plain = ropeSpecFromConfig(c).invFreq;
    expect(ropeSpecFromConfig(c, { seqLen: 4096 }).invFreq).toEqual(plain);
    const long = ropeSpecFromConfig(c, { seqLen: 8192 }).invFreq;
    // base' = base · (factor·seqLen/orig − (factor − 1))^(d/(d−2)) = 10000 · 3^(128/126)
    const b = 10000 * Math.pow(3, 128 / 126);
    expect(long[0]).toBe(1);
    for (const i of [1, 32, 63]) expectRel(long[i], Math.pow(b, (-2 * i) / 128));
  });
});
