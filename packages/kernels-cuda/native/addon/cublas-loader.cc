// dlopen-based loading of cuBLAS (see cublas-loader.h for why).
#include "cublas-loader.h"
#include <dlfcn.h>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace skv {

namespace {
CublasApi api;
bool loaded = false;
std::string loadError;
std::once_flag once;

template <typename F>
bool bind(void* lib, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  return fn != nullptr;
}

void load() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("SHADOWKV_CUBLAS")) candidates.emplace_back(env);
  candidates.emplace_back("libcublas.so.13");
  candidates.emplace_back("libcublas.so");
  candidates.emplace_back("/usr/local/cuda/lib64/libcublas.so.13");
  std::string tried;
  for (const auto& path : candidates) {
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      tried += "\n  " + path + ": " + (e ? e : "not found");
      continue;
    }
    std::string missing;
    bind(lib, "cublasCreate_v2", api.create, missing);
    bind(lib, "cublasDestroy_v2", api.destroy, missing);
    bind(lib, "cublasSetStream_v2", api.setStream, missing);
    bind(lib, "cublasGemmEx", api.gemmEx, missing);
    bind(lib, "cublasGetVersion_v2", api.getVersion, missing);
    if (!missing.empty()) {
      tried += "\n  " + path + ": lacks " + missing;
      dlclose(lib);
      continue;
    }
    api.path = path;
    loaded = true;
    return;
  }
  loadError = "cuBLAS could not be loaded; tried:" + tried;
}
}  // namespace

const CublasApi* loadCublas(std::string& error) {
  std::call_once(once, load);
  if (!loaded) {
    error = loadError;
    return nullptr;
  }
  return &api;
}

}  // namespace skv
