// Public API of @shadowkv/core.
export type { DType, WeightDType, Shape, Tensor } from './tensor.js';
export { numel, bytesPerElement, shapeToString } from './tensor.js';
export type {
  AttentionParams,
  BackendCapabilities,
  BackendFactory,
  KernelBackend,
  RopeSpec,
} from './backend.js';
export { assertShape, assertSameShape } from './validate.js';
export { validateOpArgs } from './validate-op-args.js';
export { mulberry32 } from './seeded-random.js';
export type {
  KvAppendInput,
  KvCacheContext,
  KvCachePolicy,
  KvCacheState,
  KvMemoryReport,
  KvModelShape,
  KvStepStats,
  LayerAttentionInput,
} from './kv-policy.js';
export { emptyStepStats } from './kv-policy.js';
export {
  BackendDestroyedError,
  BackendUnavailableError,
  ContextLengthError,
  GenerationAbortedError,
  InvalidOptionError,
  ModelFormatError,
  ShadowKvError,
  ShapeError,
  UnsupportedModelError,
} from './errors.js';
