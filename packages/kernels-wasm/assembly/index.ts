// Entry of the kernel module: every export is one op (or a scratch-size query) over raw addresses in the shared
// memory; the host (src/wasm-backend.ts) allocates tensors and passes (tid, nth) to split work across threads.
export { gemv, gemvAdd, gemvSwiglu, gemvScratchBytes, gemm, gemmScratchBytes } from './matmul';
export { attention, attentionScratchBytes } from './attention';
export { add, swiglu, rmsNorm, softmaxRows, rope, embedding } from './elementwise';
export { writeKv, copyChunks, rebuildKeys, landmarkScores, landmarkScratchBytes, topK, topKScratchBytes } from './sparse';
export { interleaveRows4 } from './weight-layout';
