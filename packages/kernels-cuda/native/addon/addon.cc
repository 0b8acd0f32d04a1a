// The Node-API surface of the CUDA backend: a driver probe and a `Context` (one device, two streams, a cuBLAS
// handle, every allocation it made). Tensors are raw device addresses passed as JS numbers (x86-64 user
// addresses fit in 2^53); the TypeScript layer (src/cuda-backend.ts) owns them and validates every argument
// with core's validateOpArgs before any call reaches here, so this file only converts, launches and reports
// CUDA errors.
#include <napi.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>
#include "../kernels/kernels.h"
#include "cublas-loader.h"

namespace skv {
namespace {

void* ptrArg(const Napi::CallbackInfo& info, size_t i) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(info[i].As<Napi::Number>().Int64Value()));
}
int intArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
int64_t i64Arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
float floatArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().FloatValue(); }
Napi::Value ptrValue(Napi::Env env, const void* p) { return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(p))); }

/** Throws a JS Error "CUDA <what>: <error name>: <error string>" (code CUDA_ERROR) unless e is cudaSuccess. */
bool check(Napi::Env env, cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  Napi::Error err = Napi::Error::New(env, std::string("CUDA ") + what + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
  err.Set("code", Napi::String::New(env, "CUDA_ERROR"));
  err.Set("cudaError", Napi::Number::New(env, static_cast<int>(e)));
  err.ThrowAsJavaScriptException();
  return false;
}

/**
 * probe(): what a `cuda()` call would find, without creating a context. driver: whether libcuda.so.1 loads;
 * deviceCount / error: cudaGetDeviceCount's answer (the first runtime call, so it also reports a driver too
 * old for this runtime); runtimeVersion: the CUDA runtime linked into this addon.
 */
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  out.Set("driver", Napi::Boolean::New(env, lib != nullptr));
  if (!lib) {
    const char* e = dlerror();
    out.Set("driverError", Napi::String::New(env, e ? e : "libcuda.so.1 not found"));
  } else {
    dlclose(lib);
  }
  int runtimeVersion = 0;
  cudaRuntimeGetVersion(&runtimeVersion);
  out.Set("runtimeVersion", Napi::Number::New(env, runtimeVersion));
  int driverVersion = 0;
  cudaDriverGetVersion(&driverVersion);
  out.Set("driverVersion", Napi::Number::New(env, driverVersion));
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  out.Set("deviceCount", Napi::Number::New(env, e == cudaSuccess ? count : 0));
  if (e != cudaSuccess) {
    out.Set("errorName", Napi::String::New(env, cudaGetErrorName(e)));
    out.Set("error", Napi::String::New(env, cudaGetErrorString(e)));
    cudaGetLastError();  // clear, so that a later probe reports afresh
  }
  return out;
}

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Context",
                       {
                           InstanceMethod("info", &Context::Info),
                           InstanceMethod("malloc", &Context::Malloc),
                           InstanceMethod("free", &Context::Free),
                           InstanceMethod("hostAlloc", &Context::HostAlloc),
                           InstanceMethod("freeHost", &Context::FreeHost),
                           InstanceMethod("memsetZero", &Context::MemsetZero),
                           InstanceMethod("upload", &Context::Upload),
                           InstanceMethod("download", &Context::Download),
                           InstanceMethod("sync", &Context::Sync),
                           InstanceMethod("setStream", &Context::SetStream),
                           InstanceMethod("fork", &Context::Fork),
                           InstanceMethod("recordEvent", &Context::RecordEvent),
                           InstanceMethod("waitEvent", &Context::WaitEvent),
                           InstanceMethod("releaseEvent", &Context::ReleaseEvent),
                           InstanceMethod("destroy", &Context::Destroy),
                           InstanceMethod("add", &Context::Add),
                           InstanceMethod("swiglu", &Context::Swiglu),
                           InstanceMethod("convert", &Context::Convert),
                           InstanceMethod("rmsNorm", &Context::RmsNorm),
                           InstanceMethod("softmax", &Context::Softmax),
                           InstanceMethod("rope", &Context::Rope),
                           InstanceMethod("embedding", &Context::Embedding),
                           InstanceMethod("writeKv", &Context::WriteKv),
                           InstanceMethod("gatherChunks", &Context::GatherChunks),
                           InstanceMethod("scatterChunks", &Context::ScatterChunks),
                           InstanceMethod("attention", &Context::Attention),
                           InstanceMethod("landmarkScores", &Context::LandmarkScores),
                           InstanceMethod("topK", &Context::TopK),
                           InstanceMethod("rebuildKeys", &Context::RebuildKeys),
                           InstanceMethod("matmul", &Context::Matmul),
                       });
  }

  explicit Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
    Napi::Env env = info.Env();
    device_ = info.Length() > 0 ? intArg(info, 0) : 0;
    if (!check(env, cudaSetDevice(device_), "cudaSetDevice")) return;
    cudaDeviceProp prop{};
    if (!check(env, cudaGetDeviceProperties(&prop, device_), "cudaGetDeviceProperties")) return;
    name_ = prop.name;
    major_ = prop.major;
    minor_ = prop.minor;
    smCount_ = prop.multiProcessorCount;
    totalMem_ = prop.totalGlobalMem;
    for (auto& s : streams_) {
      if (!check(env, cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate")) return;
    }
    std::string error;
    cublas_ = loadCublas(error);
    if (!cublas_) {
      Napi::Error err = Napi::Error::New(env, error);
      err.Set("code", Napi::String::New(env, "CUBLAS_MISSING"));
      err.ThrowAsJavaScriptException();
      return;
    }
    if (cublas_->create(&handle_) != 0) {
      Napi::Error::New(env, "cublasCreate failed (is the device usable?)").ThrowAsJavaScriptException();
      return;
    }
    ready_ = true;
  }

  ~Context() override { release(); }

 private:
  int device_ = 0, major_ = 0, minor_ = 0, smCount_ = 0;
  size_t totalMem_ = 0;
  std::string name_;
  cudaStream_t streams_[2] = {nullptr, nullptr};
  int cur_ = 0;
  bool sideUsed_ = false;  // the side stream ran work since the main stream last waited for it
  const CublasApi* cublas_ = nullptr;
  CublasHandle handle_ = nullptr;
  bool ready_ = false;
  std::unordered_set<void*> deviceAllocs_, hostAllocs_;
  std::vector<cudaEvent_t> events_;
  std::vector<int> freeEvents_;

  cudaStream_t stream() {
    if (cur_ == 1) sideUsed_ = true;
    return streams_[cur_];
  }

  /** Orders the main stream after everything queued on the side stream (before frees and reads). */
  cudaError_t joinSide() {
    if (!sideUsed_) return cudaSuccess;
    cudaEvent_t ev;
    cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    if (e != cudaSuccess) return e;
    e = cudaEventRecord(ev, streams_[1]);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(streams_[0], ev, 0);
    cudaEventDestroy(ev);
    if (e == cudaSuccess) sideUsed_ = false;
    return e;
  }

  void release() {
    if (!ready_ && !handle_ && !streams_[0]) return;
    cudaSetDevice(device_);
    cudaDeviceSynchronize();
    for (void* p : deviceAllocs_) cudaFree(p);
    for (void* p : hostAllocs_) cudaFreeHost(p);
    deviceAllocs_.clear();
    hostAllocs_.clear();
    for (auto ev : events_) if (ev) cudaEventDestroy(ev);
    events_.clear();
    freeEvents_.clear();
    if (handle_ && cublas_) cublas_->destroy(handle_);
    handle_ = nullptr;
    for (auto& s : streams_) {
      if (s) cudaStreamDestroy(s);
      s = nullptr;
    }
    ready_ = false;
  }

  bool alive(Napi::Env env) {
    // The current device is per host thread: re-select ours, in case another context (device) ran in between.
    if (ready_) return cudaSetDevice(device_) == cudaSuccess || check(env, cudaSetDevice(device_), "cudaSetDevice");
    Napi::Error::New(env, "the CUDA context was destroyed").ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name_);
    o.Set("computeCapability", std::to_string(major_) + "." + std::to_string(minor_));
    o.Set("multiprocessors", smCount_);
    o.Set("totalMemory", static_cast<double>(totalMem_));
    o.Set("cublas", cublas_ ? cublas_->path : std::string());
    int version = 0;
    if (cublas_ && handle_) cublas_->getVersion(handle_, &version);
    o.Set("cublasVersion", version);
    return o;
  }

  Napi::Value Malloc(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    int64_t bytes = i64Arg(info, 0);
    if (bytes < 256) bytes = 256;  // distinct, aligned addresses even for empty tensors
    void* p = nullptr;
    // Stream-ordered pool allocation: cheap enough for one allocation per op output, like the other backends.
    if (!check(env, cudaMallocAsync(&p, static_cast<size_t>(bytes), stream()), "cudaMallocAsync")) return env.Undefined();
    deviceAllocs_.insert(p);
    return ptrValue(env, p);
  }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    void* p = ptrArg(info, 0);
    if (deviceAllocs_.erase(p) == 0) return Napi::Boolean::New(env, false);
    // Freed on the main stream after it has waited for the side stream, so no queued kernel still reads it.
    if (!check(env, joinSide(), "join before free")) return env.Undefined();
    check(env, cudaFreeAsync(p, streams_[0]), "cudaFreeAsync");
    return Napi::Boolean::New(env, true);
  }

  Napi::Value HostAlloc(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    int64_t bytes = i64Arg(info, 0);
    if (bytes < 256) bytes = 256;
    void* p = nullptr;
    // Mapped: kernels read it directly over the bus (with UVA the host address is also the device address).
    if (!check(env, cudaHostAlloc(&p, static_cast<size_t>(bytes), cudaHostAllocMapped | cudaHostAllocPortable), "cudaHostAlloc")) {
      return env.Undefined();
    }
    hostAllocs_.insert(p);
    return ptrValue(env, p);
  }

  Napi::Value FreeHost(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    void* p = ptrArg(info, 0);
    if (hostAllocs_.erase(p) == 0) return Napi::Boolean::New(env, false);
    if (!check(env, cudaStreamSynchronize(streams_[1]), "sync") || !check(env, cudaStreamSynchronize(streams_[0]), "sync")) {
      return env.Undefined();
    }
    check(env, cudaFreeHost(p), "cudaFreeHost");
    return Napi::Boolean::New(env, true);
  }

  Napi::Value MemsetZero(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    check(env, cudaMemsetAsync(ptrArg(info, 0), 0, static_cast<size_t>(i64Arg(info, 1)), stream()), "cudaMemsetAsync");
    return env.Undefined();
  }

  /** upload(dst, typedArray): the copy is staged before this returns, so the caller may reuse the array. */
  Napi::Value Upload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    Napi::TypedArray arr = info[1].As<Napi::TypedArray>();
    const uint8_t* src = static_cast<const uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    check(env, cudaMemcpyAsync(ptrArg(info, 0), src, arr.ByteLength(), cudaMemcpyDefault, stream()), "upload");
    return env.Undefined();
  }

  /** download(src, typedArray): waits for both streams, then copies into the array. */
  Napi::Value Download(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    Napi::TypedArray arr = info[1].As<Napi::TypedArray>();
    uint8_t* dst = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
    if (!check(env, joinSide(), "join before read")) return env.Undefined();
    if (!check(env, cudaMemcpyAsync(dst, ptrArg(info, 0), arr.ByteLength(), cudaMemcpyDefault, streams_[0]), "download")) return env.Undefined();
    check(env, cudaStreamSynchronize(streams_[0]), "download");
    return env.Undefined();
  }

  Napi::Value Sync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    if (check(env, cudaStreamSynchronize(streams_[1]), "sync (side stream)") && check(env, cudaStreamSynchronize(streams_[0]), "sync")) {
      sideUsed_ = false;
      check(env, cudaGetLastError(), "sync");
    }
    return env.Undefined();
  }

  /** setStream(0 | 1): where the following ops and allocations are queued. */
  Napi::Value SetStream(const Napi::CallbackInfo& info) {
    cur_ = intArg(info, 0) == 1 ? 1 : 0;
    return info.Env().Undefined();
  }

  /** fork(): the side stream waits for everything queued on the main stream so far. */
  Napi::Value Fork(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    cudaEvent_t ev;
    if (!check(env, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "fork")) return env.Undefined();
    cudaError_t e = cudaEventRecord(ev, streams_[0]);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(streams_[1], ev, 0);
    cudaEventDestroy(ev);
    check(env, e, "fork");
    return env.Undefined();
  }

  /** recordEvent(): an event id marking the work queued so far on the current stream. */
  Napi::Value RecordEvent(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    int id;
    if (!freeEvents_.empty()) {
      id = freeEvents_.back();
      freeEvents_.pop_back();
    } else {
      cudaEvent_t ev;
      if (!check(env, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate")) return env.Undefined();
      events_.push_back(ev);
      id = static_cast<int>(events_.size()) - 1;
    }
    check(env, cudaEventRecord(events_[id], stream()), "cudaEventRecord");
    return Napi::Number::New(env, id);
  }

  /** waitEvent(id): the current stream waits for the event's work. */
  Napi::Value WaitEvent(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    const int id = intArg(info, 0);
    if (id >= 0 && id < static_cast<int>(events_.size())) check(env, cudaStreamWaitEvent(stream(), events_[id], 0), "cudaStreamWaitEvent");
    return env.Undefined();
  }

  Napi::Value ReleaseEvent(const Napi::CallbackInfo& info) {
    const int id = intArg(info, 0);
    if (ready_ && id >= 0 && id < static_cast<int>(events_.size())) freeEvents_.push_back(id);
    return info.Env().Undefined();
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    release();
    return info.Env().Undefined();
  }

  // ---- ops: (out, inputs..., sizes...) as laid out in src/native-binding.ts ----

  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) check(env, launchAdd((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const float*)ptrArg(info, 2), i64Arg(info, 3), stream()), "add");
    return env.Undefined();
  }

  Napi::Value Swiglu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) check(env, launchSwiglu((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const float*)ptrArg(info, 2), i64Arg(info, 3), stream()), "swiglu");
    return env.Undefined();
  }

  /** convert(out, toDtype, in, fromDtype, n) */
  Napi::Value Convert(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) check(env, launchConvert(ptrArg(info, 0), intArg(info, 1), ptrArg(info, 2), intArg(info, 3), i64Arg(info, 4), stream()), "convert");
    return env.Undefined();
  }

  /** rmsNorm(out, x, w, m, d, eps) */
  Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchRmsNorm((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const float*)ptrArg(info, 2), intArg(info, 3), intArg(info, 4), floatArg(info, 5), stream()), "rmsNorm");
    }
    return env.Undefined();
  }

  /** softmax(out, x, rows, n) */
  Napi::Value Softmax(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) check(env, launchSoftmax((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), i64Arg(info, 2), intArg(info, 3), stream()), "softmax");
    return env.Undefined();
  }

  /** rope(out, x, positions, invFreq, m, nHeads, headDim, attentionScaling) */
  Napi::Value Rope(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchRope((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const int32_t*)ptrArg(info, 2), (const float*)ptrArg(info, 3), intArg(info, 4), intArg(info, 5), intArg(info, 6), floatArg(info, 7), stream()), "rope");
    }
    return env.Undefined();
  }

  /** embedding(out, table, tableDtype, ids, m, hidden, vocab) */
  Napi::Value Embedding(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchEmbedding((float*)ptrArg(info, 0), ptrArg(info, 1), intArg(info, 2), (const int32_t*)ptrArg(info, 3), intArg(info, 4), intArg(info, 5), intArg(info, 6), stream()), "embedding");
    }
    return env.Undefined();
  }

  /** writeKv(cache, x, m, nKv, capacity, headDim, start) */
  Napi::Value WriteKv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchWriteKv((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), intArg(info, 2), intArg(info, 3), intArg(info, 4), intArg(info, 5), intArg(info, 6), stream()), "writeKv");
    }
    return env.Undefined();
  }

  /** gatherChunks(out, src, idx, nKv, rows, headDim, nSel, chunkSize) */
  Napi::Value GatherChunks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchGatherChunks((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const int32_t*)ptrArg(info, 2), intArg(info, 3), intArg(info, 4), intArg(info, 5), intArg(info, 6), intArg(info, 7), stream()), "gatherChunks");
    }
    return env.Undefined();
  }

  /** scatterChunks(dst, src, idx, nKv, rows, headDim, nSel, chunkSize) */
  Napi::Value ScatterChunks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchScatterChunks((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const int32_t*)ptrArg(info, 2), intArg(info, 3), intArg(info, 4), intArg(info, 5), intArg(info, 6), intArg(info, 7), stream()), "scatterChunks");
    }
    return env.Undefined();
  }

  /** attention(out, q, k, v, m, nHeads, nKv, headDim, kvLen, capacity, causal, queryOffset, scale) */
  Napi::Value Attention(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    AttentionArgs a{};
    a.m = intArg(info, 4);
    a.nHeads = intArg(info, 5);
    a.nKv = intArg(info, 6);
    a.headDim = intArg(info, 7);
    a.kvLen = intArg(info, 8);
    a.capacity = intArg(info, 9);
    a.causal = info[10].As<Napi::Boolean>().Value();
    a.queryOffset = intArg(info, 11);
    a.scale = floatArg(info, 12);
    cudaStream_t s = stream();
    const size_t ws = attentionWorkspaceBytes(a, smCount_);
    void* workspace = nullptr;
    if (ws > 0 && !check(env, cudaMallocAsync(&workspace, ws, s), "attention workspace")) return env.Undefined();
    cudaError_t e = launchAttention((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const float*)ptrArg(info, 2), (const float*)ptrArg(info, 3), a, workspace, smCount_, s);
    if (workspace) cudaFreeAsync(workspace, s);
    check(env, e, "attention");
    return env.Undefined();
  }

  /** landmarkScores(out, q, landmarks, nHeads, nKv, nChunks, headDim, scale) */
  Napi::Value LandmarkScores(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    const int nHeads = intArg(info, 3), nChunks = intArg(info, 5);
    cudaStream_t s = stream();
    float* scratch = nullptr;
    const size_t bytes = static_cast<size_t>(nHeads) * (nChunks > 0 ? nChunks : 1) * sizeof(float);
    if (!check(env, cudaMallocAsync(reinterpret_cast<void**>(&scratch), bytes, s), "landmarkScores scratch")) return env.Undefined();
    cudaError_t e = launchLandmarkScores((float*)ptrArg(info, 0), scratch, (const float*)ptrArg(info, 1), (const float*)ptrArg(info, 2), nHeads, intArg(info, 4), nChunks, intArg(info, 6), floatArg(info, 7), s);
    cudaFreeAsync(scratch, s);
    check(env, e, "landmarkScores");
    return env.Undefined();
  }

  /** topK(out, x, rows, n, k) */
  Napi::Value TopK(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) check(env, launchTopK((int32_t*)ptrArg(info, 0), (const float*)ptrArg(info, 1), intArg(info, 2), intArg(info, 3), intArg(info, 4), stream()), "topK");
    return env.Undefined();
  }

  /** rebuildKeys(out, a, b, idx, seqLen, rank, nKv, headDim, nSel, chunkSize, positionOffset, invFreq, attentionScaling) */
  Napi::Value RebuildKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (alive(env)) {
      check(env, launchRebuildKeys((float*)ptrArg(info, 0), (const float*)ptrArg(info, 1), (const float*)ptrArg(info, 2), (const int32_t*)ptrArg(info, 3), intArg(info, 4), intArg(info, 5), intArg(info, 6), intArg(info, 7), intArg(info, 8), intArg(info, 9), intArg(info, 10), (const float*)ptrArg(info, 11), floatArg(info, 12), stream()), "rebuildKeys");
    }
    return env.Undefined();
  }

  /**
   * matmul(out, x, w, wDtype, m, k, n): out[m, n] = x[m, k] · w[n, k]ᵀ, f32 accumulation throughout, x never
   * rounded below f32 precision in effect:
   * - f32 weights: cuBLAS GemmEx in f32 (CUBLAS_COMPUTE_32F: no TF32).
   * - 16-bit weights, m <= 8 (decode): the gemv16 kernel, which reads each weight once and keeps x in f32.
   * - bf16 weights, m > 8 (prefill): x split into bf16 hi + lo parts and two tensor-core GEMMs (bf16 x bf16 ->
   *   f32, the second accumulating into the first): x's error 2^-18 |x| instead of one bf16 rounding's 2^-9.
   * - f16 weights, m > 8: w widened to f32 in scratch, then the f32 GEMM (an f16 split would overflow for
   *   |x| > 65504 and lose small parts to subnormals).
   */
  Napi::Value Matmul(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!alive(env)) return env.Undefined();
    float* out = (float*)ptrArg(info, 0);
    const float* x = (const float*)ptrArg(info, 1);
    const void* w = ptrArg(info, 2);
    const int wDtype = intArg(info, 3), m = intArg(info, 4), k = intArg(info, 5), n = intArg(info, 6);
    cudaStream_t s = stream();
    if (m == 0 || n == 0) return env.Undefined();
    if (k == 0) {
      check(env, cudaMemsetAsync(out, 0, sizeof(float) * m * n, s), "matmul (k = 0)");
      return env.Undefined();
    }
    if (wDtype != kF32 && m <= kGemv16MaxRows) {
      check(env, launchGemv16(out, x, w, wDtype, m, n, k, s), "matmul (gemv16)");
      return env.Undefined();
    }
    cublas_->setStream(handle_, s);
    const float one = 1.f, zero = 0.f;
    // Row-major out[m, n] is column-major outᵀ [n, m] = wᵀ(col-major [k, n])ᵀ · xᵀ(col-major [k, m]).
    auto gemm = [&](const void* a, const void* b, cudaDataType type, const float* beta) {
      return cublas_->gemmEx(handle_, kCublasOpT, kCublasOpN, n, m, k, &one, a, type, k, b, type, k, beta, out, CUDA_R_32F, n,
                             kCublasCompute32F, kCublasGemmDefault);
    };
    int st = 0;
    void* scratch = nullptr;
    if (wDtype == kF32) {
      st = gemm(w, x, CUDA_R_32F, &zero);
    } else if (wDtype == kBF16) {
      const size_t elems = (size_t)m * k;
      if (!check(env, cudaMallocAsync(&scratch, 2 * sizeof(uint16_t) * elems, s), "matmul scratch")) return env.Undefined();
      void* hi = scratch;
      void* lo = static_cast<uint16_t*>(scratch) + elems;
      if (!check(env, launchSplitBf16(hi, lo, x, (int64_t)elems, s), "matmul split")) return env.Undefined();
      st = gemm(w, hi, CUDA_R_16BF, &zero);
      if (st == 0) st = gemm(w, lo, CUDA_R_16BF, &one);
    } else {
      if (!check(env, cudaMallocAsync(&scratch, sizeof(float) * (size_t)n * k, s), "matmul scratch")) return env.Undefined();
      if (!check(env, launchConvert(scratch, kF32, w, wDtype, (int64_t)n * k, s), "matmul widen")) return env.Undefined();
      st = gemm(scratch, x, CUDA_R_32F, &zero);
    }
    if (scratch) cudaFreeAsync(scratch, s);
    if (st != 0) {
      Napi::Error err = Napi::Error::New(env, "cublasGemmEx failed with status " + std::to_string(st));
      err.Set("code", Napi::String::New(env, "CUDA_ERROR"));
      err.ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("Context", Context::Init(env));
  return exports;
}

}  // namespace
}  // namespace skv

// The macro pastes its argument into an identifier, so it takes an unqualified function name.
static Napi::Object InitShadowkvCuda(Napi::Env env, Napi::Object exports) { return skv::Init(env, exports); }

NODE_API_MODULE(shadowkv_cuda, InitShadowkvCuda)
