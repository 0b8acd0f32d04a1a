// Row statistics for softmax: [max, sum of exp(x - max)] per row of x [rows, n], in one pass for short rows
// and in two (blocks, then a merge) for long ones such as KCache's scores over every cached token.
import type { GpujsData } from './gpujs-tensor.js';
import type { DataArg, KernelRunner } from './kernel-runner.js';

/** Rows longer than this are reduced in blocks of STATS_BLOCK elements. */
export const STATS_SINGLE_PASS_MAX = 8192;
export const STATS_BLOCK = 4096;

/** → [rows * 2] as [max, sum] pairs. */
export function rowStats(runner: KernelRunner, x: DataArg, rows: number, n: number): GpujsData {
  if (n <= STATS_SINGLE_PASS_MAX) return runner.run('softmaxStats', rows * 2, { nMax: n }, [x, n]);
  const nBlocks = Math.ceil(n / STATS_BLOCK);
  const partials = runner.run('softmaxPartial', rows * nBlocks * 2, { bMax: STATS_BLOCK }, [x, n, STATS_BLOCK, nBlocks]);
  const stats = runner.run('softmaxMerge', rows * 2, { blocksMax: nBlocks }, [{ data: partials, length: rows * nBlocks * 2 }, nBlocks]);
  if (!(partials instanceof Float32Array)) partials.delete();
  return stats;
}
