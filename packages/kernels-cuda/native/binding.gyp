# node-gyp build of the Node-API glue (output: native/build/Release/shadowkv_cuda.node). The CUDA kernels are
# compiled by nvcc beforehand into native/build/cuda/libskv_kernels.a (scripts/build-addon.mjs); the CUDA
# runtime is linked statically, so the addon needs only the driver (libcuda.so.1) at run time, and cuBLAS is
# loaded with dlopen. This file sits in native/, not the package root, so that no package manager runs an
# implicit `node-gyp rebuild` on install (the build is the explicit build:addon script).
{
  "variables": {
    "cuda_home%": "<!(node -p \"process.env.CUDA_HOME || '/usr/local/cuda'\")"
  },
  "targets": [
    {
      "target_name": "shadowkv_cuda",
      "sources": ["addon/addon.cc", "addon/cublas-loader.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(cuda_home)/include"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "libraries": [
        "<(module_root_dir)/build/cuda/libskv_kernels.a",
        "<(cuda_home)/lib64/libcudart_static.a",
        "-ldl",
        "-lrt",
        "-lpthread"
      ]
    }
  ]
}
