// Matrix-vector products with 16-bit weights (f16 or bf16), f32 activations and f32 accumulation, for
// decode (m <= 8 rows): one warp per output column n, all m rows at once so each weight is read once. The
// step is bound by reading the weights, so 16-byte loads of 8 weights each are the point of this kernel.
#include "common.cuh"

namespace skv {

__device__ __forceinline__ void unpack8(const uint4& raw, const __half*, float f[8]) {
  const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

__device__ __forceinline__ void unpack8(const uint4& raw, const __nv_bfloat16*, float f[8]) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__global__ void gemv16Kernel(float* out, const float* __restrict__ x, const T* __restrict__ w, int m, int n, int k) {
  const int col = (int)((blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
  if (col >= n) return;
  const T* wr = w + (int64_t)col * k;
  float acc[kGemv16MaxRows];
#pragma unroll
  for (int r = 0; r < kGemv16MaxRows; r++) acc[r] = 0.f;
  if ((k & 7) == 0) {
    // Rows start 16-byte aligned: the allocation is (256-byte aligned) and k*2 bytes is a multiple of 16.
    for (int kk = lane * 8; kk < k; kk += 256) {
      float f[8];
      unpack8(*reinterpret_cast<const uint4*>(wr + kk), static_cast<const T*>(nullptr), f);
#pragma unroll
      for (int r = 0; r < kGemv16MaxRows; r++) {
        if (r >= m) break;
        const float4 x0 = *reinterpret_cast<const float4*>(x + (int64_t)r * k + kk);
        const float4 x1 = *reinterpret_cast<const float4*>(x + (int64_t)r * k + kk + 4);
        acc[r] += f[0] * x0.x + f[1] * x0.y + f[2] * x0.z + f[3] * x0.w + f[4] * x1.x + f[5] * x1.y + f[6] * x1.z + f[7] * x1.w;
      }
    }
  } else {
    for (int kk = lane; kk < k; kk += 32) {
      const float wv = toFloat(wr[kk]);
#pragma unroll
      for (int r = 0; r < kGemv16MaxRows; r++) {
        if (r >= m) break;
        acc[r] += wv * x[(int64_t)r * k + kk];
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kGemv16MaxRows; r++) {
    if (r >= m) break;
    const float v = warpSum(acc[r]);
    if (lane == 0) out[(int64_t)r * n + col] = v;
  }
}

cudaError_t launchGemv16(float* out, const float* x, const void* w, int wDtype, int m, int n, int k, cudaStream_t s) {
  if (m == 0 || n == 0) return cudaSuccess;
  if (m > kGemv16MaxRows) return cudaErrorInvalidValue;
  const int threads = 256;  // 8 warps = 8 output columns per block
  const unsigned blocks = (unsigned)(((int64_t)n * 32 + threads - 1) / threads);
  if (wDtype == kF16) gemv16Kernel<__half><<<blocks, threads, 0, s>>>(out, x, static_cast<const __half*>(w), m, n, k);
  else gemv16Kernel<__nv_bfloat16><<<blocks, threads, 0, s>>>(out, x, static_cast<const __nv_bfloat16*>(w), m, n, k);
  return cudaGetLastError();
}

}  // namespace skv
