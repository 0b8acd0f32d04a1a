// RoPE over x [m, nHeads*headDim]: one block per (row, head), one thread per rotated pair.
#include "common.cuh"
#include "rope.cuh"

namespace skv {

__global__ void ropeKernel(float* out, const float* x, const int32_t* pos, const float* invFreq, int nHeads, int headDim,
                           float scaling) {
  const int half = headDim / 2;
  const int row = blockIdx.x / nHeads;
  const int64_t base = (int64_t)blockIdx.x * headDim;  // (row * nHeads + head) * headDim
  const int p = pos[row];
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float x1 = x[base + i], x2 = x[base + i + half];
    ropePair(x1, x2, p, invFreq[i], scaling);
    out[base + i] = x1;
    out[base + i + half] = x2;
  }
}

cudaError_t launchRope(float* out, const float* x, const int32_t* pos, const float* invFreq, int m, int nHeads, int headDim,
                       float attentionScaling, cudaStream_t s) {
  if (m == 0 || nHeads == 0) return cudaSuccess;
  const int half = headDim / 2;
  ropeKernel<<<m * nHeads, half < 32 ? 32 : (half > 128 ? 128 : half), 0, s>>>(out, x, pos, invFreq, nHeads, headDim, attentionScaling);
  return cudaGetLastError();
}

}  // namespace skv
