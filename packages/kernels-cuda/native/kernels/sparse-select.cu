// Chunk selection kernels: landmark scores (per-head softmax over chunks, max over each KV head's group) and
// top-k per row (radix select of the k-th largest key, then an index-ordered compaction with ties taken from
// the lowest indices, exactly as the CPU reference's quickselect + ascending pass).
#include <cub/block/block_scan.cuh>
#include "common.cuh"

namespace skv {

/** scratch[h, c] = scale * q_h · landmark[g(h), c]: one warp per chunk, all heads of the group. */
__global__ void landmarkDotsKernel(float* scratch, const float* q, const float* lm, int nHeads, int nKv, int nChunks, int D, float scale) {
  const int G = nHeads / nKv, g = blockIdx.y;
  const int c = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (c >= nChunks) return;
  const float* l = lm + ((int64_t)g * nChunks + c) * D;
  for (int hh = 0; hh < G; hh++) {
    const int h = g * G + hh;
    float dot = 0.f;
    for (int e = lane; e < D; e += 32) dot += q[(int64_t)h * D + e] * l[e];
    dot = warpSum(dot);
    if (lane == 0) scratch[(int64_t)h * nChunks + c] = dot * scale;
  }
}

__global__ void groupMaxKernel(float* out, const float* probs, int nHeads, int nKv, int nChunks) {
  const int G = nHeads / nKv;
  const int64_t n = (int64_t)nKv * nChunks;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int g = (int)(i / nChunks), c = (int)(i % nChunks);
    float mx = -INFINITY;
    for (int hh = 0; hh < G; hh++) mx = fmaxf(mx, probs[(int64_t)(g * G + hh) * nChunks + c]);
    out[i] = mx;
  }
}

cudaError_t launchLandmarkScores(float* out, float* scratch, const float* q, const float* landmarks, int nHeads, int nKv, int nChunks,
                                 int headDim, float scale, cudaStream_t s) {
  if (nChunks == 0 || nKv == 0) return cudaSuccess;
  dim3 grid((nChunks + 3) / 4, nKv);
  landmarkDotsKernel<<<grid, 128, 0, s>>>(scratch, q, landmarks, nHeads, nKv, nChunks, headDim, scale);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  e = launchSoftmax(scratch, scratch, nHeads, nChunks, s);  // in place: each element is read and written by one thread
  if (e != cudaSuccess) return e;
  groupMaxKernel<<<gridFor((int64_t)nKv * nChunks, 256), 256, 0, s>>>(out, scratch, nHeads, nKv, nChunks);
  return cudaGetLastError();
}

/** An unsigned key with the order of the floats (-0 counts as +0, as the reference's comparisons do). */
__device__ __forceinline__ uint32_t orderKey(float f) {
  const uint32_t b = __float_as_uint(f == 0.f ? 0.f : f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

constexpr int kTopKThreads = 256;

__global__ void __launch_bounds__(kTopKThreads) topKKernel(int32_t* out, const float* x, int n, int k) {
  using Scan = cub::BlockScan<int, kTopKThreads>;
  __shared__ typename Scan::TempStorage scanTemp;
  __shared__ int hist[256];
  __shared__ uint32_t sPrefix, sMask;
  __shared__ int sRemaining;
  const float* row = x + (int64_t)blockIdx.x * n;
  int32_t* o = out + (int64_t)blockIdx.x * k;
  if (threadIdx.x == 0) {
    sPrefix = 0;
    sMask = 0;
    sRemaining = k;
  }
  // Radix select, 8 bits a pass from the top: afterwards sPrefix is the k-th largest key and sRemaining the
  // number of elements equal to it that belong to the top k.
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
    __syncthreads();
    const uint32_t prefix = sPrefix, mask = sMask;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const uint32_t key = orderKey(row[i]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int rem = sRemaining;
      for (int b = 255; b >= 0; b--) {
        if (hist[b] >= rem) {
          sPrefix = prefix | ((uint32_t)b << shift);
          sMask = mask | (255u << shift);
          sRemaining = rem;
          break;
        }
        rem -= hist[b];
      }
    }
    __syncthreads();
  }
  const uint32_t T = sPrefix;
  const int ties = sRemaining;
  int written = 0, tiesSeen = 0;
  for (int start = 0; start < n; start += kTopKThreads) {
    const int i = start + threadIdx.x;
    const uint32_t key = i < n ? orderKey(row[i]) : 0u;
    const int isTie = i < n && key == T ? 1 : 0;
    int tieRank, tieTotal;
    Scan(scanTemp).ExclusiveSum(isTie, tieRank, tieTotal);
    __syncthreads();
    const int sel = i < n && (key > T || (isTie && tiesSeen + tieRank < ties)) ? 1 : 0;
    int pos, total;
    Scan(scanTemp).ExclusiveSum(sel, pos, total);
    __syncthreads();
    if (sel) o[written + pos] = i;
    written += total;
    tiesSeen += tieTotal;
  }
}

cudaError_t launchTopK(int32_t* out, const float* x, int rows, int n, int k, cudaStream_t s) {
  if (rows == 0 || k == 0) return cudaSuccess;
  topKKernel<<<rows, kTopKThreads, 0, s>>>(out, x, n, k);
  return cudaGetLastError();
}

}  // namespace skv
