// Orchestrates gpu.js attention over blocks of query rows, so that the [rows, nHeads, capacity] score
// buffer stays bounded (no [m, kvLen] matrix for long prefills) while decode (m = 1) is a single block.
import type { AttentionParams } from '@shadowkv/core';
import type { GpujsData } from './gpujs-tensor.js';
import type { DataArg, KernelRunner } from './kernel-runner.js';

/** Default score-buffer budget in elements (16 MiB of f32): sets how many query rows one block holds. */
export const SCORE_BUDGET_ELEMENTS = 2 ** 22;

function release(d: GpujsData): void {
  if (!(d instanceof Float32Array)) d.delete();
}

/**
 * q [m, nHeads*headDim], k/v [nKvHeads, capacity, headDim] → [m, nHeads*headDim]. Every size is a uniform;
 * only the loop buckets of headDim and capacity are compiled in, so decode steps never recompile.
 */
export function attentionBlocks(
  runner: KernelRunner,
  q: DataArg,
  k: DataArg,
  v: DataArg,
  m: number,
  capacity: number,
  p: AttentionParams,
  scoreBudget = SCORE_BUDGET_ELEMENTS,
): GpujsData {
  const { nHeads, headDim } = p;
  const group = nHeads / p.nKvHeads;
  const width = nHeads * headDim;
  const blockRows = Math.max(1, Math.min(m, Math.floor(scoreBudget / (nHeads * capacity))));
  const causal = p.causal ? 1 : 0;
  const scoreLen = blockRows * nHeads * capacity;
  let full: GpujsData | undefined;
  for (let rowStart = 0; rowStart < m; rowStart += blockRows) {
    const step = [rowStart, p.kvLen, causal, p.queryOffset];
    const scores = runner.run('attentionScores', scoreLen, { dMax: headDim }, [q, k, ...step, p.scale, nHeads, group, headDim, capacity]);
    const scoresArg = { data: scores, length: scoreLen };
    const stats = runner.run('attentionStats', blockRows * nHeads * 2, { capMax: capacity }, [scoresArg, ...step, nHeads, capacity]);
    const statsArg = { data: stats, length: blockRows * nHeads * 2 };
    const probs = runner.run('attentionProbs', scoreLen, {}, [scoresArg, statsArg, ...step, nHeads, capacity]);
    release(scores);
    release(stats);
    const probsArg = { data: probs, length: scoreLen };
    const block = runner.run('attentionOutput', blockRows * width, { capMax: capacity }, [probsArg, v, ...step, nHeads, group, headDim, capacity]);
    release(probs);
    if (blockRows === m) return block;
    const prev = full ?? runner.run('fillZero', m * width, {}, []);
    const args = [{ data: prev, length: m * width }, { data: block, length: blockRows * width }, rowStart, width, blockRows];
    full = runner.run('rowsAssemble', m * width, {}, args);
    release(prev);
    release(block);
  }
  return full ?? new Float32Array(0);
}
