// Copy kernels of the KV layout: embedding rows, writeKv, chunk gather and scatter. Grid-stride loops over
// output elements; ids outside their range read zeros / write nothing (the host cannot see device ids).
#include "common.cuh"

namespace skv {

__global__ void embeddingKernel(float* out, const void* table, int dtype, const int32_t* ids, int m, int hidden, int vocab) {
  const int64_t n = (int64_t)m * hidden;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int row = (int)(i / hidden), c = (int)(i % hidden);
    const int id = ids[row];
    out[i] = (id >= 0 && id < vocab) ? loadAsFloat(table, dtype, (int64_t)id * hidden + c) : 0.f;
  }
}

__global__ void writeKvKernel(float* cache, const float* x, int m, int nKv, int capacity, int headDim, int start) {
  const int64_t n = (int64_t)m * nKv * headDim;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int e = (int)(i % headDim);
    const int64_t rg = i / headDim;  // row * nKv + g
    const int g = (int)(rg % nKv), row = (int)(rg / nKv);
    cache[((int64_t)g * capacity + start + row) * headDim + e] = x[i];
  }
}

/** Element i of the packed [nKv, nSel*chunkSize, headDim] side -> element of the [nKv, rows, headDim] side, or -1. */
__device__ __forceinline__ int64_t chunkElement(int64_t i, const int32_t* idx, int nKv, int rows, int headDim, int nSel, int chunkSize) {
  const int64_t perHead = (int64_t)nSel * chunkSize * headDim;
  const int g = (int)(i / perHead);
  const int64_t r = i % perHead;
  const int e = (int)(r % headDim);
  const int packedRow = (int)(r / headDim);
  const int sel = packedRow / chunkSize, j = packedRow % chunkSize;
  const int c = idx[g * nSel + sel];
  const int nChunks = rows / chunkSize;
  if (c < 0 || c >= nChunks) return -1;
  return ((int64_t)g * rows + (int64_t)c * chunkSize + j) * headDim + e;
}

__global__ void gatherChunksKernel(float* out, const float* src, const int32_t* idx, int nKv, int rows, int headDim, int nSel, int chunkSize) {
  const int64_t n = (int64_t)nKv * nSel * chunkSize * headDim;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t from = chunkElement(i, idx, nKv, rows, headDim, nSel, chunkSize);
    out[i] = from >= 0 ? src[from] : 0.f;
  }
}

__global__ void scatterChunksKernel(float* dst, const float* src, const int32_t* idx, int nKv, int rows, int headDim, int nSel, int chunkSize) {
  const int64_t n = (int64_t)nKv * nSel * chunkSize * headDim;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t to = chunkElement(i, idx, nKv, rows, headDim, nSel, chunkSize);
    if (to >= 0) dst[to] = src[i];
  }
}

cudaError_t launchEmbedding(float* out, const void* table, int tableDtype, const int32_t* ids, int m, int hidden, int vocab, cudaStream_t s) {
  const int64_t n = (int64_t)m * hidden;
  if (n == 0) return cudaSuccess;
  embeddingKernel<<<gridFor(n, 256), 256, 0, s>>>(out, table, tableDtype, ids, m, hidden, vocab);
  return cudaGetLastError();
}

cudaError_t launchWriteKv(float* cache, const float* x, int m, int nKv, int capacity, int headDim, int start, cudaStream_t s) {
  const int64_t n = (int64_t)m * nKv * headDim;
  if (n == 0) return cudaSuccess;
  writeKvKernel<<<gridFor(n, 256), 256, 0, s>>>(cache, x, m, nKv, capacity, headDim, start);
  return cudaGetLastError();
}

cudaError_t launchGatherChunks(float* out, const float* src, const int32_t* idx, int nKv, int rows, int headDim, int nSel, int chunkSize, cudaStream_t s) {
  const int64_t n = (int64_t)nKv * nSel * chunkSize * headDim;
  if (n == 0) return cudaSuccess;
  gatherChunksKernel<<<gridFor(n, 256), 256, 0, s>>>(out, src, idx, nKv, rows, headDim, nSel, chunkSize);
  return cudaGetLastError();
}

cudaError_t launchScatterChunks(float* dst, const float* src, const int32_t* idx, int nKv, int rows, int headDim, int nSel, int chunkSize, cudaStream_t s) {
  const int64_t n = (int64_t)nKv * nSel * chunkSize * headDim;
  if (n == 0) return cudaSuccess;
  scatterChunksKernel<<<gridFor(n, 256), 256, 0, s>>>(dst, src, idx, nKv, rows, headDim, nSel, chunkSize);
  return cudaGetLastError();
}

}  // namespace skv
