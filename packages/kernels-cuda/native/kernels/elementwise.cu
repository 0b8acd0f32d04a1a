// Elementwise kernels: add, SwiGLU, dtype conversion (f32 <-> f16/bf16) and the bf16 hi/lo split, grid-stride loops.
#include "common.cuh"

namespace skv {

__global__ void addKernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) out[i] = a[i] + b[i];
}

__global__ void swigluKernel(float* out, const float* gate, const float* up, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = gate[i];
    // expf (not __expf): the f32 conformance bound is 1e-5 relative and the fast intrinsic is looser for large |g|.
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

__global__ void convertKernel(void* out, int to, const void* in, int from, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = loadAsFloat(in, from, i);
    if (to == kF16) static_cast<__half*>(out)[i] = __float2half_rn(v);
    else if (to == kBF16) static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v);
    else static_cast<float*>(out)[i] = v;
  }
}

__global__ void splitBf16Kernel(__nv_bfloat16* hi, __nv_bfloat16* lo, const float* x, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = x[i];
    const __nv_bfloat16 h = __float2bfloat16_rn(v);
    hi[i] = h;
    lo[i] = __float2bfloat16_rn(v - __bfloat162float(h));  // v - h is exact in f32 (Sterbenz: h is within a factor 2 of v)
  }
}

cudaError_t launchSplitBf16(void* hi, void* lo, const float* x, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  splitBf16Kernel<<<gridFor(n, 256), 256, 0, s>>>(static_cast<__nv_bfloat16*>(hi), static_cast<__nv_bfloat16*>(lo), x, n);
  return cudaGetLastError();
}

cudaError_t launchAdd(float* out, const float* a, const float* b, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  addKernel<<<gridFor(n, 256), 256, 0, s>>>(out, a, b, n);
  return cudaGetLastError();
}

cudaError_t launchSwiglu(float* out, const float* gate, const float* up, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  swigluKernel<<<gridFor(n, 256), 256, 0, s>>>(out, gate, up, n);
  return cudaGetLastError();
}

cudaError_t launchConvert(void* out, int to, const void* in, int from, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  convertKernel<<<gridFor(n, 256), 256, 0, s>>>(out, to, in, from, n);
  return cudaGetLastError();
}

}  // namespace skv
