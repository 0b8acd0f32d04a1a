import { describe, expect, it } from 'vitest';
import { needlePositions } from './needle-positions.js';
import { researchConfig } from './research-config.js';
import { ResearchLayer, type ResearchLayerInputs } from './research-layer.js';

const [nHeads, nKvHeads, headDim, chunkSize] = [2, 1, 8, 8];
const promptLen = 17 * chunkSize; // 16 chunks before a 1-chunk local window

function noise(n: number, seed: number, scale: number): Float32Array {
  let x = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 32 * 2 - 1) * scale;
  });
}

/** Keys with a needle in chunk 5 (one key along e0, three against) and a decoy chunk 12 (all mildly along e0). */
function inputs(): ResearchLayerInputs {
  const keys = noise(promptLen * headDim, 1, 0.1);
  for (let j = 0; j < 4; j++) keys[(5 * chunkSize + j) * headDim] = j === 3 ? 6 : -1;
  for (let j = 0; j < chunkSize; j++) keys[(12 * chunkSize + j) * headDim] = 1;
  const values = noise(promptLen * headDim, 2, 1);
  return { nHeads, nKvHeads, headDim, promptLen, keys, lowKeys: keys, values, needle: [5 * chunkSize + 3] };
}

const q = new Float32Array(nHeads * headDim);
q[0] = 4;
q[headDim] = 4;
const zero = new Float32Array(nKvHeads * headDim);
const base = { budget: chunkSize, chunkSize, localChunks: 1, outliers: 0, keys: 'exact' as const };

describe('ResearchLayer', () => {
  it('reproduces dense attention in a dense layer and when the budget covers every chunk', () => {
    const dense = new ResearchLayer(researchConfig('dense', { ...base, denseLayers: [0] }), 0, inputs()).step(q, zero, zero);
    // Same float32 arithmetic on both sides, summed in a different order: 1e-6 relative.
    expect(dense.diag.outErr).toBeLessThan(1e-6);
    expect(dense.diag.massKept).toBeCloseTo(1, 6);
    const all = new ResearchLayer(researchConfig('all', { ...base, budget: 16 * chunkSize }), 0, inputs()).step(q, zero, zero);
    expect(all.diag.outErr).toBeLessThan(1e-6);
    expect(all.diag.oracleRecall).toBe(1);
  });

  it('tells landmark selection, which misses the needle chunk, from the oracle, which finds it', () => {
    const landmark = new ResearchLayer(researchConfig('landmark', base), 0, inputs()).step(q, zero, zero).diag;
    const oracle = new ResearchLayer(researchConfig('oracle', { ...base, selection: 'oracle' }), 0, inputs()).step(q, zero, zero).diag;
    const refine = new ResearchLayer(researchConfig('refine', { ...base, selection: 'refine', refineFactor: 2 }), 0, inputs()).step(q, zero, zero).diag;
    expect(landmark.needleHit).toBe(0);
    expect(landmark.oracleRecall).toBe(0);
    expect(oracle.needleHit).toBe(1);
    expect(oracle.oracleRecall).toBe(1);
    expect(refine.needleHit).toBe(1);
    // The needle key's logit (6·4/√8 ≈ 8.5) holds nearly all the mass: e^8.5 against ~140 keys near e^0.
    expect(oracle.massKept).toBeGreaterThan(0.9);
    expect(landmark.massKept).toBeLessThan(0.1);
  });
});

describe('needlePositions', () => {
  it('finds every occurrence of the answer digits, without the leading space and trailing period', () => {
    expect(needlePositions({ prompt_ids: [0, 7, 3, 4, 9, 3, 4, 2], answer_ids: [222, 3, 4, 15] })).toEqual([2, 3, 5, 6]);
    expect(needlePositions({ prompt_ids: [0, 7], answer_ids: [222, 3, 4, 15] })).toEqual([]);
  });
});
