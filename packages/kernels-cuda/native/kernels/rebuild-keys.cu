// Low-rank key rebuild fused with RoPE: for selected chunk c of KV head g, token t = c*chunkSize + j,
// out[g, s*chunkSize + j, :] = rope(a[t, :] · b[g, :, :], t + positionOffset). One block per (selected chunk,
// KV head); a thread computes both members of a rotated pair (e, e + headDim/2), so the rotation needs no
// exchange. Reads of b are coalesced over e; a's row is the same for the whole block (broadcast).
#include "common.cuh"
#include "rope.cuh"

namespace skv {

__global__ void rebuildKeysKernel(float* out, const float* a, const float* b, const int32_t* idx, int seqLen, int rank, int nSel,
                                  int chunkSize, int headDim, int positionOffset, const float* invFreq, float scaling) {
  const int sel = blockIdx.x, g = blockIdx.y, nKvSel = nSel;
  const int half = headDim / 2;
  const int c = idx[g * nKvSel + sel];
  const bool inRange = c >= 0 && c < seqLen / chunkSize;
  const float* bg = b + (int64_t)g * rank * headDim;
  float* og = out + ((int64_t)g * nSel * chunkSize + (int64_t)sel * chunkSize) * headDim;
  for (int t = threadIdx.x; t < chunkSize * half; t += blockDim.x) {
    const int j = t / half, e = t % half;
    float x1 = 0.f, x2 = 0.f;
    if (inRange) {
      const int tok = c * chunkSize + j;
      const float* ar = a + (int64_t)tok * rank;
      for (int r = 0; r < rank; r++) {
        const float av = ar[r];
        x1 += av * bg[(int64_t)r * headDim + e];
        x2 += av * bg[(int64_t)r * headDim + e + half];
      }
      ropePair(x1, x2, tok + positionOffset, invFreq[e], scaling);
    }
    og[(int64_t)j * headDim + e] = x1;
    og[(int64_t)j * headDim + e + half] = x2;
  }
}

cudaError_t launchRebuildKeys(float* out, const float* a, const float* b, const int32_t* idx, int seqLen, int rank, int nKv, int headDim,
                              int nSel, int chunkSize, int positionOffset, const float* invFreq, float attentionScaling, cudaStream_t s) {
  if (nSel == 0 || nKv == 0) return cudaSuccess;
  dim3 grid(nSel, nKv);
  rebuildKeysKernel<<<grid, 128, 0, s>>>(out, a, b, idx, seqLen, rank, nSel, chunkSize, headDim, positionOffset, invFreq, attentionScaling);
  return cudaGetLastError();
}

}  // namespace skv
