// Host-callable launchers of the CUDA kernels (one .cu file per family). Plain C++ types only, so that the
// Node-API glue (compiled by g++) never includes CUDA device headers. Every launcher queues work on `stream`
// and returns the launch error (cudaSuccess when queued); arguments were validated on the JS side.
#pragma once
#include <cstdint>
#include <cuda_runtime_api.h>

namespace skv {

/** Element types of tensors; the numbers travel from JS (cuda-dtype.ts). */
enum DTypeCode : int { kF32 = 0, kF16 = 1, kBF16 = 2, kI32 = 3 };

// ---- elementwise.cu ----
cudaError_t launchAdd(float* out, const float* a, const float* b, int64_t n, cudaStream_t s);
cudaError_t launchSwiglu(float* out, const float* gate, const float* up, int64_t n, cudaStream_t s);
/** out (dtype `to`) = in (dtype `from`) for f32 <-> f16/bf16; f32 -> 16 bits rounds to nearest even. */
cudaError_t launchConvert(void* out, int to, const void* in, int from, int64_t n, cudaStream_t s);

/**
 * Splits f32 x into two bf16 parts, hi = bf16(x) and lo = bf16(x - hi), so that a bf16 x bf16 GEMM of each with
 * f32 accumulation sums to x·w with x's error at most 2^-18 |x| (one bf16 GEMM alone: 2^-9 |x|).
 */
cudaError_t launchSplitBf16(void* hi, void* lo, const float* x, int64_t n, cudaStream_t s);

// ---- row-ops.cu ----
cudaError_t launchRmsNorm(float* out, const float* x, const float* w, int m, int d, float eps, cudaStream_t s);
cudaError_t launchSoftmax(float* out, const float* x, int64_t rows, int n, cudaStream_t s);

// ---- rope.cu ----
cudaError_t launchRope(float* out, const float* x, const int32_t* pos, const float* invFreq, int m, int nHeads, int headDim,
                       float attentionScaling, cudaStream_t s);

// ---- kv-copy.cu ----
/** out[m, hidden] f32 = table[ids[i]] (table f32/f16/bf16); ids outside [0, vocab) give a zero row. */
cudaError_t launchEmbedding(float* out, const void* table, int tableDtype, const int32_t* ids, int m, int hidden, int vocab,
                            cudaStream_t s);
cudaError_t launchWriteKv(float* cache, const float* x, int m, int nKv, int capacity, int headDim, int start, cudaStream_t s);
/** Chunk ids outside [0, rows/chunkSize) gather zeros. `src` may be mapped pinned host memory. */
cudaError_t launchGatherChunks(float* out, const float* src, const int32_t* idx, int nKv, int rows, int headDim, int nSel,
                               int chunkSize, cudaStream_t s);
/** Chunk ids outside [0, rows/chunkSize) write nothing. */
cudaError_t launchScatterChunks(float* dst, const float* src, const int32_t* idx, int nKv, int rows, int headDim, int nSel,
                                int chunkSize, cudaStream_t s);

// ---- attention.cu ----
struct AttentionArgs {
  int m, nHeads, nKv, headDim, kvLen, capacity;
  bool causal;
  int queryOffset;
  float scale;
};
/** Bytes of scratch the decode path needs (0 when the tiled prefill path is taken). */
size_t attentionWorkspaceBytes(const AttentionArgs& a, int smCount);
cudaError_t launchAttention(float* out, const float* q, const float* k, const float* v, const AttentionArgs& a, void* workspace,
                            int smCount, cudaStream_t s);

// ---- sparse-select.cu ----
/** Scratch floats landmarkScores needs: nHeads * nChunks. */
cudaError_t launchLandmarkScores(float* out, float* scratch, const float* q, const float* landmarks, int nHeads, int nKv,
                                 int nChunks, int headDim, float scale, cudaStream_t s);
cudaError_t launchTopK(int32_t* out, const float* x, int rows, int n, int k, cudaStream_t s);

// ---- rebuild-keys.cu ----
cudaError_t launchRebuildKeys(float* out, const float* a, const float* b, const int32_t* idx, int seqLen, int rank, int nKv,
                              int headDim, int nSel, int chunkSize, int positionOffset, const float* invFreq,
                              float attentionScaling, cudaStream_t s);

// ---- gemv16.cu ----
/** out[m, n] = x[m, k] · w[n, k]ᵀ for 16-bit w (kF16 or kBF16), f32 x and accumulation; for small m. */
cudaError_t launchGemv16(float* out, const float* x, const void* w, int wDtype, int m, int n, int k, cudaStream_t s);
/** Largest m that launchGemv16 takes (register-blocked rows). */
constexpr int kGemv16MaxRows = 8;

}  // namespace skv
