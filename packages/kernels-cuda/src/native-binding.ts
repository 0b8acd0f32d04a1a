// The shape of the compiled addon (native/addon/addon.cc) as TypeScript sees it. Device addresses are plain
// numbers; sizes are element counts unless named bytes. Only cuda-backend.ts calls these, after validation.
export interface NativeProbe {
  /** libcuda.so.1 could be dlopen'ed. */
  driver: boolean;
  driverError?: string;
  /** cudaGetDeviceCount's count (0 when it failed). */
  deviceCount: number;
  /** cudaGetDeviceCount's error, e.g. cudaErrorInsufficientDriver / cudaErrorNoDevice. */
  errorName?: string;
  error?: string;
  /** CUDA runtime linked into the addon, e.g. 13000. */
  runtimeVersion: number;
  /** Version the driver supports (0 without a driver). */
  driverVersion: number;
}

export interface NativeDeviceInfo {
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  /** Path cuBLAS was loaded from. */
  cublas: string;
  cublasVersion: number;
}

export interface NativeContext {
  info(): NativeDeviceInfo;
  malloc(bytes: number): number;
  free(ptr: number): boolean;
  hostAlloc(bytes: number): number;
  freeHost(ptr: number): boolean;
  memsetZero(ptr: number, bytes: number): void;
  upload(dst: number, data: Float32Array | Int32Array | Uint16Array): void;
  download(src: number, into: Float32Array | Int32Array): void;
  sync(): void;
  setStream(stream: 0 | 1): void;
  fork(): void;
  recordEvent(): number;
  waitEvent(id: number): void;
  releaseEvent(id: number): void;
  destroy(): void;
  add(out: number, a: number, b: number, n: number): void;
  swiglu(out: number, gate: number, up: number, n: number): void;
  convert(out: number, toDtype: number, input: number, fromDtype: number, n: number): void;
  rmsNorm(out: number, x: number, w: number, m: number, d: number, eps: number): void;
  softmax(out: number, x: number, rows: number, n: number): void;
  rope(out: number, x: number, positions: number, invFreq: number, m: number, nHeads: number, headDim: number, attentionScaling: number): void;
  embedding(out: number, table: number, tableDtype: number, ids: number, m: number, hidden: number, vocab: number): void;
  writeKv(cache: number, x: number, m: number, nKv: number, capacity: number, headDim: number, start: number): void;
  gatherChunks(out: number, src: number, idx: number, nKv: number, rows: number, headDim: number, nSel: number, chunkSize: number): void;
  scatterChunks(dst: number, src: number, idx: number, nKv: number, rows: number, headDim: number, nSel: number, chunkSize: number): void;
  attention(
    out: number, q: number, k: number, v: number, m: number, nHeads: number, nKv: number, headDim: number, kvLen: number,
    capacity: number, causal: boolean, queryOffset: number, scale: number,
  ): void;
  landmarkScores(out: number, q: number, landmarks: number, nHeads: number, nKv: number, nChunks: number, headDim: number, scale: number): void;
  topK(out: number, x: number, rows: number, n: number, k: number): void;
  rebuildKeys(
    out: number, a: number, b: number, idx: number, seqLen: number, rank: number, nKv: number, headDim: number, nSel: number,
    chunkSize: number, positionOffset: number, invFreq: number, attentionScaling: number,
  ): void;
  matmul(out: number, x: number, w: number, wDtype: number, m: number, k: number, n: number): void;
}

export interface NativeAddon {
  probe(): NativeProbe;
  Context: new (device: number) => NativeContext;
}
