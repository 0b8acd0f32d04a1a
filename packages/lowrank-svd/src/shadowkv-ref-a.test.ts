// Checks against the ShadowKV authors' own numbers (fixtures/shadowkv-ref-a, see fixtures/README.md):
// the spectrum of their pre-RoPE key matrix and their rank-48 reconstruction.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { exactSvd } from './exact-svd.js';
import { lowRankFactors } from './low-rank-factors.js';
import { randomizedSvd } from './randomized-svd.js';
import { reconstructionError } from './reconstruction-error.js';
import type { SvdResult } from './svd-result.js';
import { readSafetensors } from './test-utils/read-safetensors.js';
import { truncateSvd } from './truncate-svd.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = process.env.SHADOWKV_REF_DIR ?? resolve(here, '../../../fixtures/shadowkv-ref-a');
const file = join(dir, 'golden.safetensors');

interface Golden {
  context_len: number;
  num_key_value_heads: number;
  head_dim: number;
  rank: number;
}

if (!existsSync(file)) {
  throw new Error(`shadowkv-ref-a fixture not found at ${file}: restore fixtures/shadowkv-ref-a or set SHADOWKV_REF_DIR`);
}

describe(`shadowkv-ref-a fixture (${dir})`, () => {
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
  const tensors = readSafetensors(file);
  const kPre = tensors.get('k_pre')!; // [nKvHeads, contextLen + 1, headDim]
  const singular = tensors.get('singular_values')!.data; // [nKvHeads·headDim]
  const lowrank = tensors.get('lowrank_k_pre_head')!; // [nKvHeads, 512, headDim]
  const [nKvHeads, tokens, headDim] = kPre.shape;
  const seqLen = golden.context_len;
  const cols = nKvHeads * headDim;
  const rank = golden.rank;

  /**
   * The arrangement that reproduces the authors' spectrum: the first context_len tokens (the decode token,
   * last row of k_pre, excluded), token-major, heads side by side: row t = [head 0 dims 0..127, head 1 dims 0..127].
   */
  function keyMatrix(rowsUsed: number): Float32Array {
    const k = kPre.data;
    const m = new Float32Array(rowsUsed * cols);
    for (let t = 0; t < rowsUsed; t++) {
      for (let h = 0; h < nKvHeads; h++) {
        for (let d = 0; d < headDim; d++) m[t * cols + h * headDim + d] = k[(h * tokens + t) * headDim + d];
      }
    }
    return m;
  }

  /** A wrong alternative: the [nKvHeads, seqLen, headDim] keys reshaped to [seqLen, cols] without transposing. */
  function reshapedWithoutTranspose(rowsUsed: number): Float32Array {
    const perHead = rowsUsed * headDim;
    return Float32Array.from({ length: rowsUsed * cols }, (_, f) => {
      const h = Math.floor(f / perHead);
      const rest = f - h * perHead;
      return kPre.data[h * tokens * headDim + rest];
    });
  }

  function maxRelative(s: ArrayLike<number>, count: number): number {
    let worst = 0;
    for (let i = 0; i < count; i++) worst = Math.max(worst, Math.abs(s[i] - singular[i]) / singular[i]);
    return worst;
  }

  /** Relative Frobenius distance between A·B (first 512 tokens, split per head) and lowrank_k_pre_head. */
  function distanceToGolden(svd: SvdResult): { relative: number; maxAbs: number } {
    const { a, b } = lowRankFactors(svd);
    const r = svd.rank;
    const n = lowrank.shape[1];
    let err2 = 0, norm2 = 0, maxAbs = 0;
    for (let h = 0; h < nKvHeads; h++) {
      for (let t = 0; t < n; t++) {
        for (let d = 0; d < headDim; d++) {
          let x = 0;
          for (let k = 0; k < r; k++) x += a[t * r + k] * b[k * cols + h * headDim + d];
          const g = lowrank.data[(h * n + t) * headDim + d];
          err2 += (x - g) ** 2;
          norm2 += g * g;
          maxAbs = Math.max(maxAbs, Math.abs(x - g));
        }
      }
    }
    return { relative: Math.sqrt(err2 / norm2), maxAbs };
  }

  it('has the layout golden.json describes', () => {
    expect(kPre.shape).toEqual([golden.num_key_value_heads, seqLen + 1, golden.head_dim]);
    expect(singular.length).toBe(cols);
    expect(lowrank.shape).toEqual([nKvHeads, 512, headDim]);
  });

  const keys = keyMatrix(seqLen);
  let exact: SvdResult;
  beforeAll(() => {
    exact = exactSvd(keys, seqLen, cols);
  });

  it('reproduces singular_values from [context_len, nKvHeads·headDim] token-major keys, heads side by side', () => {
    // Measured 8.1e-8 (float32 rounding of the authors' float32 SVD); the brief asks for 1e-4.
    expect(maxRelative(exact.s, cols)).toBeLessThan(1e-4);
  });

  it('does not reproduce them with the decode token included or with the heads flattened wrongly', () => {
    // These alternatives differ by >= 3e-3 relative (measured): the 1e-4 test above can tell them apart.
    expect(maxRelative(exactSvd(keyMatrix(seqLen + 1), seqLen + 1, cols).s, cols)).toBeGreaterThan(1e-3);
    expect(maxRelative(exactSvd(reshapedWithoutTranspose(seqLen), seqLen, cols).s, cols)).toBeGreaterThan(1e-1);
  });

  it('matches lowrank_k_pre_head with the exact rank-48 truncation', () => {
    const top = truncateSvd(exact, rank);
    const { relative, maxAbs } = distanceToGolden(top);
    // Measured 4.8e-5 relative, 6.6e-4 absolute on entries up to 13: the authors' float32 SVD resolves the
    // singular vectors around σ48 (neighbouring gaps ~0.4%) only to ~1e-5; 2e-4 leaves 4x headroom.
    expect(relative).toBeLessThan(2e-4);
    expect(maxAbs).toBeLessThan(3e-3);
  });

  it('gets the top-48 spectrum and reconstruction with randomizedSvd (defaults: oversample 10, 2 power iterations)', () => {
    const svd = randomizedSvd(keys, seqLen, cols, { rank });
    // The keys are 25 strong directions (σ >= 102) over a flat noise floor (σ 4.1 .. 1.5).
    // Strong directions: measured <= 5e-8 relative; 1e-5 allows for seed and summation order.
    const strong = Array.from(singular).filter((s) => s > 10 * singular[rank - 1]).length;
    expect(strong).toBe(25);
    expect(maxRelative(svd.s, strong)).toBeLessThan(1e-5);
    // Noise-floor values σ26..σ48 differ by < 1% from their neighbours, so a sketch of 58 directions cannot
    // single them out: measured up to 7.7% low (never high: Ritz values are lower bounds). Tolerance 12%.
    expect(maxRelative(svd.s, rank)).toBeLessThan(0.12);
    for (let k = 0; k < rank; k++) expect(svd.s[k]).toBeLessThanOrEqual(singular[k] * (1 + 1e-5));
    // Whole-matrix error vs the optimum 0.03787 (Eckart–Young from the exact spectrum): measured 1.0101x.
    const optimum = Math.sqrt(exact.s.slice(rank).reduce((x, s) => x + s * s, 0) / exact.s.reduce((x, s) => x + s * s, 0));
    expect(reconstructionError(keys, seqLen, cols, svd)).toBeLessThanOrEqual(1.02 * optimum);
    // Against the authors' reconstruction: both contain the 25 strong directions exactly and differ only in
    // which noise-floor directions fill ranks 26..48 (noise beyond rank 25 is 4.2% of ||K||). Measured 1.38%
    // relative (first 512 tokens), 0.22 absolute on entries up to 13; tolerances 3% and 0.6.
    const { relative, maxAbs } = distanceToGolden(svd);
    expect(relative).toBeLessThan(0.03);
    expect(maxAbs).toBeLessThan(0.6);
  });
});
