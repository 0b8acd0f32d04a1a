// When an op is worth handing to the worker threads. A pooled call costs a wake-up of every worker and a wait for
// the slowest (measured with bench/handoff.ts, see BENCHMARKS.md "kernels-wasm"), so ops below these sizes run on
// the calling thread alone: a tiny model's decode then pays no hand-off per op. Units are multiply-adds
// (matmul, attention, rebuildKeys, landmarkScores) or elements touched (elementwise, rows, copies).

export interface ParallelThresholds {
  /** m * n * k of matmul. */
  matmul: number;
  /** query rows * kvLen * headDim of attention (scores plus weighted values). */
  attention: number;
  /** Elements of add / swiglu / rmsNorm / softmax / rope / embedding / gather / scatter. */
  elementwise: number;
  /** Selected rows * rank * headDim of rebuildKeys, nHeads * nChunks * headDim of landmarkScores, rows * n of topK. */
  sparse: number;
}

/**
 * Defaults measured on the 2-core development machine (Node 20): a pooled no-op round trip costs about 10-30 µs
 * there (median, loaded machine), and the kernels do roughly 2-8 multiply-adds per ns per thread, so splitting pays
 * off from about 2^17 multiply-adds; copies and elementwise ops run at memory speed and need larger sizes.
 */
export const DEFAULT_THRESHOLDS: ParallelThresholds = {
  matmul: 1 << 17,
  attention: 1 << 17,
  elementwise: 1 << 17,
  sparse: 1 << 17,
};
