// GQA attention over the head-major KV layout [nKv, capacity, headDim], f32 throughout, online softmax.
//
// Decode (few query rows): split over the sequence ("flash-decoding"). A block owns one KV head, one query
// row, up to 8 query heads of that KV head's group (GQA-packed: every K/V row loaded serves all of them) and
// one slice of the keys; a second kernel merges the slices' (max, sum, unnormalised output) triples. The
// number of slices is chosen to give about four blocks per multiprocessor, so one token at 128K context
// still spreads over the whole GPU.
//
// Prefill (many query rows): a tiled kernel. A block owns 32 (query row, head) pairs of one KV head and walks
// 32-key tiles of K and V through shared memory; 4 threads share a pair (8 keys of the tile each for the
// scores, every 4th output column for the values). Keys past a row's causal limit get probability 0, and K/V
// rows at or past kvLen are never read (the conformance suite fills them with values that wreck any result).
#include "common.cuh"

namespace skv {

constexpr int kDecodeThreads = 128;
constexpr int kDecodeTile = 64;
constexpr int kDecodeMaxRows = 4;  // query rows up to which the split decode path is taken
constexpr int kTileRows = 32, kTileKeys = 32, kPrefillThreads = 128;

template <int GB, int CPT>
__global__ void __launch_bounds__(kDecodeThreads) decodeKernel(const float* __restrict__ q, const float* __restrict__ k,
                                                               const float* __restrict__ v, AttentionArgs a, int nSplits,
                                                               int splitLen, int headBlocks, float* partAcc, float* partML) {
  extern __shared__ float smem[];
  const int D = a.headDim, G = a.nHeads / a.nKv;
  const int split = blockIdx.x, g = blockIdx.y;
  const int i = blockIdx.z / headBlocks, h0 = (blockIdx.z % headBlocks) * GB;
  const int nh = min(GB, G - h0);
  float* sQ = smem;                    // [GB][D], scaled queries
  float* sS = sQ + GB * D;             // [GB][tile] scores, then probabilities
  float* sM = sS + GB * kDecodeTile;   // running max per head
  float* sL = sM + GB;                 // running sum per head
  float* sC = sL + GB;                 // this tile's rescale factor per head
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int t = threadIdx.x; t < GB * D; t += blockDim.x) {
    const int hh = t / D, e = t % D;
    sQ[t] = hh < nh ? q[((int64_t)i * a.nHeads + g * G + h0 + hh) * D + e] * a.scale : 0.f;
  }
  if (threadIdx.x < GB) {
    sM[threadIdx.x] = -INFINITY;
    sL[threadIdx.x] = 0.f;
    sC[threadIdx.x] = 0.f;
  }
  const int lim = a.causal ? min(a.kvLen, a.queryOffset + i + 1) : a.kvLen;
  const int j0 = split * splitLen, j1 = min(lim, j0 + splitLen);
  const float* kb = k + (int64_t)g * a.capacity * D;
  const float* vb = v + (int64_t)g * a.capacity * D;
  float acc[GB][CPT];
#pragma unroll
  for (int hh = 0; hh < GB; hh++)
#pragma unroll
    for (int c = 0; c < CPT; c++) acc[hh][c] = 0.f;
  __syncthreads();
  for (int t0 = j0; t0 < j1; t0 += kDecodeTile) {
    const int tn = min(kDecodeTile, j1 - t0);
    // Scores: one warp per key, lanes over the head dimension, all heads of the block at once.
    for (int kk = warp; kk < tn; kk += kDecodeThreads / 32) {
      const float* kr = kb + (int64_t)(t0 + kk) * D;
      float dots[GB];
#pragma unroll
      for (int hh = 0; hh < GB; hh++) dots[hh] = 0.f;
      for (int e = lane; e < D; e += 32) {
        const float kv = kr[e];
#pragma unroll
        for (int hh = 0; hh < GB; hh++) dots[hh] += sQ[hh * D + e] * kv;
      }
#pragma unroll
      for (int hh = 0; hh < GB; hh++) dots[hh] = warpSum(dots[hh]);
      if (lane == 0) {
#pragma unroll
        for (int hh = 0; hh < GB; hh++) sS[hh * kDecodeTile + kk] = dots[hh];
      }
    }
    __syncthreads();
    // Online softmax: one warp per head, two scores per lane.
    for (int hh = warp; hh < nh; hh += kDecodeThreads / 32) {
      float* row = sS + hh * kDecodeTile;
      const float s0 = lane < tn ? row[lane] : -INFINITY;
      const float s1 = lane + 32 < tn ? row[lane + 32] : -INFINITY;
      const float mOld = sM[hh];
      const float mNew = fmaxf(mOld, warpMax(fmaxf(s0, s1)));
      const float p0 = lane < tn ? expf(s0 - mNew) : 0.f;
      const float p1 = lane + 32 < tn ? expf(s1 - mNew) : 0.f;
      if (lane < tn) row[lane] = p0;
      if (lane + 32 < tn) row[lane + 32] = p1;
      const float sum = warpSum(p0 + p1);
      if (lane == 0) {
        const float c = mOld == -INFINITY ? 0.f : expf(mOld - mNew);
        sC[hh] = c;
        sL[hh] = sL[hh] * c + sum;
        sM[hh] = mNew;
      }
    }
    __syncthreads();
    // Values: each thread owns CPT columns of every head; each V element is loaded once for all heads.
#pragma unroll
    for (int c = 0; c < CPT; c++) {
      const int e = threadIdx.x + c * kDecodeThreads;
      if (e >= D) continue;
#pragma unroll
      for (int hh = 0; hh < GB; hh++) acc[hh][c] *= sC[hh];
      for (int kk = 0; kk < tn; kk++) {
        const float vv = vb[(int64_t)(t0 + kk) * D + e];
#pragma unroll
        for (int hh = 0; hh < GB; hh++) acc[hh][c] += sS[hh * kDecodeTile + kk] * vv;
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int hh = 0; hh < GB; hh++) {
    if (hh >= nh) break;
    const int64_t slot = ((int64_t)i * a.nHeads + g * G + h0 + hh) * nSplits + split;
#pragma unroll
    for (int c = 0; c < CPT; c++) {
      const int e = threadIdx.x + c * kDecodeThreads;
      if (e < D) partAcc[slot * D + e] = acc[hh][c];
    }
    if (threadIdx.x == 0) {
      partML[slot * 2] = sM[hh];
      partML[slot * 2 + 1] = sL[hh];
    }
  }
}

/** Merges the slices of one (row, head): out = Σ_s w_s acc_s / Σ_s w_s l_s with w_s = exp(m_s - max_s m_s). */
__global__ void combineKernel(float* out, const float* partAcc, const float* partML, int nSplits, int D) {
  const int64_t row = blockIdx.x;  // i * nHeads + h
  const float* ml = partML + row * nSplits * 2;
  float mx = -INFINITY;
  for (int s = 0; s < nSplits; s++) mx = fmaxf(mx, ml[2 * s]);
  float denom = 0.f;
  for (int s = 0; s < nSplits; s++) {
    const float m = ml[2 * s];
    if (m != -INFINITY) denom += expf(m - mx) * ml[2 * s + 1];
  }
  for (int e = threadIdx.x; e < D; e += blockDim.x) {
    float num = 0.f;
    for (int s = 0; s < nSplits; s++) {
      const float m = ml[2 * s];
      if (m != -INFINITY) num += expf(m - mx) * partAcc[(row * nSplits + s) * D + e];
    }
    out[row * D + e] = denom > 0.f ? num / denom : 0.f;
  }
}

template <int DMAX>
__global__ void __launch_bounds__(kPrefillThreads) prefillKernel(float* __restrict__ out, const float* __restrict__ q,
                                                                 const float* __restrict__ k, const float* __restrict__ v,
                                                                 AttentionArgs a) {
  extern __shared__ float smem[];
  const int D = a.headDim, ld = D + 1;  // +1: rows of sQ/sK read by neighbouring threads fall in different banks
  const int G = a.nHeads / a.nKv, g = blockIdx.y;
  const int R = a.m * G;  // (query row, head of the group) pairs, row-major like the CPU reference
  float* sQ = smem;                     // [kTileRows][ld]
  float* sK = sQ + kTileRows * ld;      // [kTileKeys][ld]
  float* sV = sK + kTileKeys * ld;      // [kTileKeys][D]
  float* sP = sV + kTileKeys * D;       // [kTileRows][kTileKeys + 1]
  const int r0 = blockIdx.x * kTileRows;
  const int rr = threadIdx.x >> 2, sub = threadIdx.x & 3;
  const int r = r0 + rr;
  const bool valid = r < R;
  const int i = valid ? r / G : 0, h = g * G + (valid ? r % G : 0);
  for (int t = threadIdx.x; t < kTileRows * D; t += kPrefillThreads) {
    const int row = t / D, e = t % D, rg = r0 + row;
    sQ[row * ld + e] = rg < R ? q[((int64_t)(rg / G) * a.nHeads + g * G + rg % G) * D + e] * a.scale : 0.f;
  }
  const int lim = !valid ? 0 : a.causal ? min(a.kvLen, a.queryOffset + i + 1) : a.kvLen;
  const int iLast = (min(r0 + kTileRows, R) - 1) / G;  // rows are ordered by query index: the last sees the most keys
  const int maxLim = max(0, a.causal ? min(a.kvLen, a.queryOffset + iLast + 1) : a.kvLen);
  const float* kb = k + (int64_t)g * a.capacity * D;
  const float* vb = v + (int64_t)g * a.capacity * D;
  float mRun = -INFINITY, lRun = 0.f;
  float acc[DMAX / 4];
#pragma unroll
  for (int c = 0; c < DMAX / 4; c++) acc[c] = 0.f;
  for (int j0 = 0; j0 < maxLim; j0 += kTileKeys) {
    __syncthreads();  // the previous tile is consumed (first pass: sQ is written)
    for (int t = threadIdx.x; t < kTileKeys * D; t += kPrefillThreads) {
      const int row = t / D, e = t % D, j = j0 + row;
      const bool in = j < maxLim;
      sK[row * ld + e] = in ? kb[(int64_t)j * D + e] : 0.f;
      sV[row * D + e] = in ? vb[(int64_t)j * D + e] : 0.f;
    }
    __syncthreads();
    float s[kTileKeys / 4];
    float tmax = -INFINITY;
#pragma unroll
    for (int c = 0; c < kTileKeys / 4; c++) {
      const int kk = sub + 4 * c;
      float dot = 0.f;
      for (int e = 0; e < D; e++) dot += sQ[rr * ld + e] * sK[kk * ld + e];
      s[c] = j0 + kk < lim ? dot : -INFINITY;
      tmax = fmaxf(tmax, s[c]);
    }
    tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
    tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 2));
    const float mNew = fmaxf(mRun, tmax);
    const float corr = mRun == -INFINITY ? 0.f : expf(mRun - mNew);
    float psum = 0.f;
#pragma unroll
    for (int c = 0; c < kTileKeys / 4; c++) {
      const float p = s[c] == -INFINITY ? 0.f : expf(s[c] - mNew);
      sP[rr * (kTileKeys + 1) + sub + 4 * c] = p;
      psum += p;
    }
    psum += __shfl_xor_sync(0xffffffffu, psum, 1);
    psum += __shfl_xor_sync(0xffffffffu, psum, 2);
    lRun = lRun * corr + psum;
    mRun = mNew;
#pragma unroll
    for (int c = 0; c < DMAX / 4; c++) acc[c] *= corr;
    __syncwarp();  // the 4 threads of a row (same warp) wrote sP; each reads the whole row
    for (int kk = 0; kk < kTileKeys; kk++) {
      const float p = sP[rr * (kTileKeys + 1) + kk];
#pragma unroll
      for (int c = 0; c < DMAX / 4; c++) {
        const int d = sub + 4 * c;
        if (d < D) acc[c] += p * sV[kk * D + d];
      }
    }
  }
  if (!valid) return;
  float* o = out + ((int64_t)i * a.nHeads + h) * D;
#pragma unroll
  for (int c = 0; c < DMAX / 4; c++) {
    const int d = sub + 4 * c;
    if (d < D) o[d] = lRun > 0.f ? acc[c] / lRun : 0.f;
  }
}

struct DecodePlan {
  int gb, headBlocks, nSplits, splitLen;
};

static DecodePlan planDecode(const AttentionArgs& a, int smCount) {
  const int G = a.nHeads / a.nKv;
  DecodePlan p{};
  p.gb = 1;  // heads per block: the power of two covering the group, at most 8 (G = 3 runs as 4, one masked)
  while (p.gb < G && p.gb < 8) p.gb <<= 1;
  p.headBlocks = (G + p.gb - 1) / p.gb;
  const int64_t base = (int64_t)a.nKv * a.m * p.headBlocks;
  const int64_t target = 4LL * (smCount > 0 ? smCount : 1);
  const int maxSplits = (a.kvLen + kDecodeTile - 1) / kDecodeTile;
  int n = (int)((target + base - 1) / base);
  if (n > maxSplits) n = maxSplits;
  if (n < 1) n = 1;
  int len = (a.kvLen + n - 1) / n;
  len = ((len + kDecodeTile - 1) / kDecodeTile) * kDecodeTile;
  if (len < kDecodeTile) len = kDecodeTile;
  p.splitLen = len;
  p.nSplits = a.kvLen == 0 ? 1 : (a.kvLen + len - 1) / len;
  return p;
}

static bool useDecode(const AttentionArgs& a) { return a.m <= kDecodeMaxRows; }

size_t attentionWorkspaceBytes(const AttentionArgs& a, int smCount) {
  if (!useDecode(a)) return 0;
  const DecodePlan p = planDecode(a, smCount);
  const size_t slots = (size_t)a.m * a.nHeads * p.nSplits;
  return slots * ((size_t)a.headDim + 2) * sizeof(float);
}

template <int GB, int CPT>
static cudaError_t runDecode(float* out, const float* q, const float* k, const float* v, const AttentionArgs& a, const DecodePlan& p,
                             float* partAcc, float* partML, cudaStream_t s) {
  const size_t shm = (size_t)(GB * a.headDim + GB * kDecodeTile + 3 * GB) * sizeof(float);
  dim3 grid(p.nSplits, a.nKv, a.m * p.headBlocks);
  decodeKernel<GB, CPT><<<grid, kDecodeThreads, shm, s>>>(q, k, v, a, p.nSplits, p.splitLen, p.headBlocks, partAcc, partML);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  combineKernel<<<a.m * a.nHeads, a.headDim <= 64 ? 64 : 128, 0, s>>>(out, partAcc, partML, p.nSplits, a.headDim);
  return cudaGetLastError();
}

template <int GB>
static cudaError_t decodeFor(float* out, const float* q, const float* k, const float* v, const AttentionArgs& a, const DecodePlan& p,
                             float* partAcc, float* partML, cudaStream_t s) {
  if (a.headDim <= kDecodeThreads) return runDecode<GB, 1>(out, q, k, v, a, p, partAcc, partML, s);
  return runDecode<GB, 2>(out, q, k, v, a, p, partAcc, partML, s);
}

template <int DMAX>
static cudaError_t runPrefill(float* out, const float* q, const float* k, const float* v, const AttentionArgs& a, cudaStream_t s) {
  const int D = a.headDim;
  const size_t shm = (size_t)(kTileRows * (D + 1) + kTileKeys * (D + 1) + kTileKeys * D + kTileRows * (kTileKeys + 1)) * sizeof(float);
  // Above 48 KiB of dynamic shared memory a kernel must opt in (sm_80: 163 KiB, sm_90: 227 KiB available).
  cudaError_t e = cudaFuncSetAttribute(prefillKernel<DMAX>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shm);
  if (e != cudaSuccess) return e;
  const int R = a.m * (a.nHeads / a.nKv);
  dim3 grid((R + kTileRows - 1) / kTileRows, a.nKv);
  prefillKernel<DMAX><<<grid, kPrefillThreads, shm, s>>>(out, q, k, v, a);
  return cudaGetLastError();
}

cudaError_t launchAttention(float* out, const float* q, const float* k, const float* v, const AttentionArgs& a, void* workspace,
                            int smCount, cudaStream_t s) {
  if (a.m == 0) return cudaSuccess;
  if (a.headDim > 256) return cudaErrorInvalidValue;  // the JS side rejects this first with a ShapeError
  if (useDecode(a)) {
    const DecodePlan p = planDecode(a, smCount);
    float* partAcc = static_cast<float*>(workspace);
    float* partML = partAcc + (size_t)a.m * a.nHeads * p.nSplits * a.headDim;
    switch (p.gb) {
      case 1: return decodeFor<1>(out, q, k, v, a, p, partAcc, partML, s);
      case 2: return decodeFor<2>(out, q, k, v, a, p, partAcc, partML, s);
      case 4: return decodeFor<4>(out, q, k, v, a, p, partAcc, partML, s);
      default: return decodeFor<8>(out, q, k, v, a, p, partAcc, partML, s);
    }
  }
  if (a.headDim <= 64) return runPrefill<64>(out, q, k, v, a, s);
  if (a.headDim <= 128) return runPrefill<128>(out, q, k, v, a, s);
  return runPrefill<256>(out, q, k, v, a, s);
}

}  // namespace skv
