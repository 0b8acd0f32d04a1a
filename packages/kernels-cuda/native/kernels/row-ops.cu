// Row kernels: RMSNorm and softmax, one block per row with block-wide reductions in f32.
#include "common.cuh"

namespace skv {

__global__ void rmsNormKernel(float* out, const float* x, const float* w, int d, float eps) {
  __shared__ float red[32];
  const int64_t base = (int64_t)blockIdx.x * d;
  float ss = 0.f;
  for (int c = threadIdx.x; c < d; c += blockDim.x) ss += x[base + c] * x[base + c];
  ss = blockSum(ss, red);
  // rsqrtf is within 2 ulp; sqrtf + division keeps the 1e-5 elementwise bound with room.
  const float r = 1.f / sqrtf(ss / d + eps);
  for (int c = threadIdx.x; c < d; c += blockDim.x) out[base + c] = x[base + c] * r * w[c];
}

__global__ void softmaxKernel(float* out, const float* x, int n) {
  __shared__ float red[32];
  const int64_t base = (int64_t)blockIdx.x * n;
  float mx = -INFINITY;
  for (int c = threadIdx.x; c < n; c += blockDim.x) mx = fmaxf(mx, x[base + c]);
  mx = blockMax(mx, red);
  float sum = 0.f;
  for (int c = threadIdx.x; c < n; c += blockDim.x) {
    const float e = expf(x[base + c] - mx);
    out[base + c] = e;
    sum += e;
  }
  sum = blockSum(sum, red);  // its __syncthreads also orders the writes above before the reads below
  const float inv = 1.f / sum;
  for (int c = threadIdx.x; c < n; c += blockDim.x) out[base + c] *= inv;
}

static int rowBlock(int n) { return n >= 1024 ? 256 : n >= 256 ? 128 : 64; }

cudaError_t launchRmsNorm(float* out, const float* x, const float* w, int m, int d, float eps, cudaStream_t s) {
  if (m == 0 || d == 0) return cudaSuccess;
  rmsNormKernel<<<m, rowBlock(d), 0, s>>>(out, x, w, d, eps);
  return cudaGetLastError();
}

cudaError_t launchSoftmax(float* out, const float* x, int64_t rows, int n, cudaStream_t s) {
  if (rows == 0 || n == 0) return cudaSuccess;
  // Rows beyond the grid's x limit cannot occur for the shapes here (2^31 - 1 blocks).
  softmaxKernel<<<(unsigned)rows, rowBlock(n), 0, s>>>(out, x, n);
  return cudaGetLastError();
}

}  // namespace skv
