// Public API of @shadowkv/model-llama.
export * from './io-index.js';
export { LlamaModel } from './llama-model.js';
export type { ForwardOptions, LoadModelOptions, LoadProgress } from './llama-model.js';
export { forwardBatch } from './batch-forward.js';
export type { BatchForwardOptions, BatchForwardResult, BatchSequence } from './batch-forward.js';
export { LayerMajorPrefill, prefillCuts, takesLayerMajorPrefill } from './layer-major-prefill.js';
export type { LayerMajorPrefillOptions } from './layer-major-prefill.js';
