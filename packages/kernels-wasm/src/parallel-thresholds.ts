// When an op is worth handing to the worker threads. A pooled call costs a wake-up of every worker and a wait for
// the slowest, so ops below these sizes run on the calling thread alone: a tiny model's decode then pays no
// hand-off per op. Units are multiply-adds (matmul, attention, rebuildKeys, landmarkScores) or elements touched
// (elementwise ops, row ops, copies, topK).

export interface ParallelThresholds {
  /** m * n * k of matmul. */
  matmul: number;
  /** query rows * kvLen * headDim of attention (scores plus weighted values). */
  attention: number;
  /** Elements of add / swiglu / rmsNorm / softmax / rope / embedding / gather / scatter. */
  elementwise: number;
  /**
   * Selected rows * rank * headDim of rebuildKeys, nHeads * nChunks * headDim of landmarkScores, rows * n of topK,
   * elements copied by gatherChunks / scatterChunks.
   */
  sparse: number;
}

/**
 * `sparse` is 2^22 (it was 2^20): needle-llama's key rebuild at B=256 r=32 is exactly 2^20 multiply-adds, about
 * 0.12 ms on one thread, and handing it to the pool made the decode step slower (quiet machine, 2026-12-07, 4K:
 * keyRebuild 1.42 ms per step on 2 threads vs 0.80 on 1; the workers sleep between the decode's few pooled ops,
 * so a hand-off there costs more than the ~40 µs a hot loop sees). Ops of the 1B shapes (2^24) still split.
 *
 * Measured with `bench/ops.ts` (Node 20, the shared 2-core development machine under a load average of 15-20,
 * 2026-12-07; BENCHMARKS.md "kernels-wasm"): a pooled 4-element add costs 47.6 µs median (34.8 µs best) against
 * 4.8 µs (1.4 µs) on the calling thread, so a hand-off is ~35-45 µs. One thread runs the GEMV at 1.5-2.6 GFLOP/s
 * median (8-12 in its best, unpreempted rounds), i.e. ~1-5 multiply-adds per ns. A GEMV sweep at k = 256 found
 * 2 threads slower than 1 at every size up to 2^19 multiply-adds (e.g. 2^19: 523 µs vs 917 µs) because the second
 * core was busy with other work. Splitting saves half the single-thread time minus the hand-off, so it cannot pay
 * below ~2 × 45 µs of work (~2^17-2^18 multiply-adds even on an idle core), and on a loaded machine needs
 * several times that: the defaults sit at 2^20 multiply-adds (about 0.2-1 ms of single-thread work). Elementwise
 * ops run at memory speed (~1 element/ns): 2^19 elements. Decode of the needle-llama and fixture models (hidden
 * ≤ 2048) therefore runs every op on the calling thread except the large projections and the LM head.
 * Re-measured later the same day (`bench/ops.ts --only decode`, load 14-18): a pooled 4-element add 275 µs
 * median (137 µs best), 2 threads slower at every GEMV size up to 2^19 multiply-adds (2^19: 259 vs 545 µs);
 * needle-llama's 1K decode (largest op 2 × 196,608 multiply-adds) stays on the calling thread, its 4K decode
 * splits attention and ran faster on 2 threads (packages/kernels-wasm/BENCHMARKS.md): the defaults stand.
 */
export const DEFAULT_THRESHOLDS: ParallelThresholds = {
  matmul: 1 << 20,
  attention: 1 << 20,
  elementwise: 1 << 19,
  sparse: 1 << 22,
};

/**
 * While the pool's workers poll between jobs (thread-pool.ts: a machine with a free core) a hand-off costs about
 * 1-3 µs instead of the 45-85 µs of waking a sleeping worker (bench/decode-kernels.ts --only handoff), so the
 * backend then splits ops this many times smaller: matmul, attention and elementwise (the thresholds above were
 * measured with sleeping workers). At 2^17 multiply-adds (~15-30 µs of one thread's GEMV) a split saves several
 * hand-offs' worth; needle-llama's gate/up, down and LM head GEMVs and its attention from 1K context then split.
 */
export const POLLING_DIVISOR = 8;

/** The thresholds in force while the workers poll: matmul, attention and elementwise divided by POLLING_DIVISOR. */
export function pollingThresholds(t: ParallelThresholds): ParallelThresholds {
  return { ...t, matmul: t.matmul / POLLING_DIVISOR, attention: t.attention / POLLING_DIVISOR, elementwise: t.elementwise / POLLING_DIVISOR };
}
