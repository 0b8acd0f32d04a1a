// The typed table of every gpu.js kernel source, looked up by name by the kernel runner.
import { ATTENTION_OUTPUT, ATTENTION_PROBS, ATTENTION_SCORES, ATTENTION_STATS, ROWS_ASSEMBLE, WRITE_KV } from './kernels/attention.kernels.js';
import { ADD, COPY, EMBEDDING, FILL_ZERO, SWIGLU } from './kernels/elementwise.kernels.js';
import { MATMUL } from './kernels/matmul.kernels.js';
import { REBUILD_KEYS, ROPE } from './kernels/rope.kernels.js';
import { RMS_APPLY, RMS_STATS, SOFTMAX_APPLY, SOFTMAX_MERGE, SOFTMAX_PARTIAL, SOFTMAX_STATS } from './kernels/row-reduce.kernels.js';
import {
  GATHER_CHUNKS,
  LANDMARK_LOGITS,
  LANDMARK_MAX,
  SCATTER_CHUNKS,
  SCATTER_INVERSE,
  TOPK_BITONIC_STEP,
  TOPK_COMPACT,
  TOPK_IOTA,
  TOPK_RANKS,
  TOPK_SLICE,
} from './kernels/sparse.kernels.js';

export const KERNELS = {
  copy: COPY,
  fillZero: FILL_ZERO,
  add: ADD,
  swiglu: SWIGLU,
  embedding: EMBEDDING,
  matmul: MATMUL,
  rmsStats: RMS_STATS,
  rmsApply: RMS_APPLY,
  softmaxStats: SOFTMAX_STATS,
  softmaxApply: SOFTMAX_APPLY,
  softmaxPartial: SOFTMAX_PARTIAL,
  softmaxMerge: SOFTMAX_MERGE,
  rope: ROPE,
  rebuildKeys: REBUILD_KEYS,
  writeKv: WRITE_KV,
  attentionScores: ATTENTION_SCORES,
  attentionStats: ATTENTION_STATS,
  attentionProbs: ATTENTION_PROBS,
  attentionOutput: ATTENTION_OUTPUT,
  rowsAssemble: ROWS_ASSEMBLE,
  gatherChunks: GATHER_CHUNKS,
  scatterInverse: SCATTER_INVERSE,
  scatterChunks: SCATTER_CHUNKS,
  landmarkLogits: LANDMARK_LOGITS,
  landmarkMax: LANDMARK_MAX,
  topkRanks: TOPK_RANKS,
  topkCompact: TOPK_COMPACT,
  topkIota: TOPK_IOTA,
  topkBitonicStep: TOPK_BITONIC_STEP,
  topkSlice: TOPK_SLICE,
} as const satisfies Record<string, string>;

export type KernelName = keyof typeof KERNELS;

/**
 * Kernels with an inner loop: their texture reads dominate, and index math on compile-time sizes makes them
 * ~3x faster in software GL, so these are the ones `specializeShapes` compiles per shape. The others read
 * one or two elements per thread and always take their sizes as uniforms.
 */
export const LOOP_KERNELS: ReadonlySet<KernelName> = new Set<KernelName>([
  'matmul',
  'rmsStats',
  'softmaxStats',
  'softmaxPartial',
  'softmaxMerge',
  'rebuildKeys',
  'attentionScores',
  'attentionStats',
  'attentionOutput',
  'scatterInverse',
  'landmarkLogits',
  'landmarkMax',
  'topkRanks',
  'topkCompact',
]);
