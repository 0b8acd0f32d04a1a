// cuBLAS loaded at run time with dlopen: the addon builds with nvcc alone (no cuBLAS headers or libraries on
// the build machine) and a machine without cuBLAS gets a clear "cuBLAS not found" instead of a load error.
// Only the five entry points the backend uses are declared; their signatures and enum values are those of
// cuBLAS 13's cublas_api.h (cublasGemmEx is unchanged since cuBLAS 11).
#pragma once
#include <cuda_runtime_api.h>
#include <library_types.h>
#include <string>

namespace skv {

using CublasHandle = void*;
using CublasStatus = int;
constexpr int kCublasOpN = 0, kCublasOpT = 1;
constexpr int kCublasCompute32F = 68;  // CUBLAS_COMPUTE_32F: f32 accumulation, no TF32 down-conversion
constexpr int kCublasGemmDefault = -1;

struct CublasApi {
  CublasStatus (*create)(CublasHandle*) = nullptr;
  CublasStatus (*destroy)(CublasHandle) = nullptr;
  CublasStatus (*setStream)(CublasHandle, cudaStream_t) = nullptr;
  CublasStatus (*gemmEx)(CublasHandle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                         int lda, const void* B, cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                         int computeType, int algo) = nullptr;
  CublasStatus (*getVersion)(CublasHandle, int*) = nullptr;
  std::string path;  // the library that was loaded
};

/**
 * Loads cuBLAS once per process: $SHADOWKV_CUBLAS (a file path) first, then libcublas.so.13 / libcublas.so on
 * the loader's path, then /usr/local/cuda/lib64. Returns nullptr and sets `error` (every path tried) if none loads.
 */
const CublasApi* loadCublas(std::string& error);

}  // namespace skv
