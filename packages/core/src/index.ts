// Public API of @shadowkv/core.
export type { DType, WeightDType, Shape, Tensor } from './tensor.js';
export { numel, bytesPerElement, shapeToString } from './tensor.js';
export type {
  AttentionParams,
  BackendCapabilities,
  BackendCounters,
  BackendFactory,
  ChunkCacheUpdate,
  ChunkCacheUpdateParams,
  KernelBackend,
  RopeSpec,
} from './backend.js';
export { assertShape, assertSameShape } from './validate.js';
export { validateOpArgs } from './validate-op-args.js';
export { mulberry32 } from './seeded-random.js';
export { bf16ToF32, f16Table, f16ToF32, f32ToBf16, f32ToF16, f32ToF16Bits, halfToF32 } from './half-float.js';
export type {
  KvAppendInput,
  KvCacheContext,
  KvCachePolicy,
  KvCacheState,
  KvMemoryProjection,
  KvMemoryReport,
  KvModelShape,
  KvStep,
  KvStepStats,
  LayerAttentionInput,
} from './kv-policy.js';
export { emptyStepStats } from './kv-policy.js';
export {
  BackendDestroyedError,
  BackendUnavailableError,
  ContextLengthError,
  GenerationAbortedError,
  KvCapacityError,
  NumericalError,
  InvalidOptionError,
  ModelFormatError,
  ShadowKvError,
  ShapeError,
  UnsupportedModelError,
} from './errors.js';
