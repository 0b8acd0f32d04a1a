// The typed table of every gpu.js kernel source, looked up by name by the kernel runner.
import { ATTENTION_OUTPUT, ATTENTION_PROBS, ATTENTION_SCORES, ATTENTION_STATS, ROWS_ASSEMBLE, WRITE_KV } from './kernels/attention.kernels.js';
import { ADD, COPY, EMBEDDING, FILL_ZERO, SWIGLU } from './kernels/elementwise.kernels.js';
import { MATMUL } from './kernels/matmul.kernels.js';
import { REBUILD_KEYS, ROPE } from './kernels/rope.kernels.js';
import { RMS_APPLY, RMS_STATS, SOFTMAX_APPLY, SOFTMAX_STATS } from './kernels/row-reduce.kernels.js';
import { GATHER_CHUNKS, LANDMARK_LOGITS, LANDMARK_MAX, TOPK_COMPACT, TOPK_RANKS } from './kernels/sparse.kernels.js';

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
  rope: ROPE,
  rebuildKeys: REBUILD_KEYS,
  writeKv: WRITE_KV,
  attentionScores: ATTENTION_SCORES,
  attentionStats: ATTENTION_STATS,
  attentionProbs: ATTENTION_PROBS,
  attentionOutput: ATTENTION_OUTPUT,
  rowsAssemble: ROWS_ASSEMBLE,
  gatherChunks: GATHER_CHUNKS,
  landmarkLogits: LANDMARK_LOGITS,
  landmarkMax: LANDMARK_MAX,
  topkRanks: TOPK_RANKS,
  topkCompact: TOPK_COMPACT,
} as const satisfies Record<string, string>;

export type KernelName = keyof typeof KERNELS;
