// Public API of @shadowkv/model-llama in browsers (the "browser" export condition): everything that does not
// need node:fs. Weights come over HTTP (openHttpSafetensors, or LlamaModel.load with a folder URL), the
// tokenizer from parsed JSON (createTokenizer) or a folder URL (loadTokenizer).
export type { LlamaConfig, HfLlamaConfigJson } from './config.js';
export { parseLlamaConfig, loadLlamaConfig } from './config.js';
export type { RopeScaling } from './config-rope-scaling.js';
export type { RopeSpecOptions } from './rope-spec.js';
export { ropeSpecFromConfig } from './rope-spec.js';
export type { TensorInfo, WeightSource } from './weight-source.js';
export type { HttpFetchOptions } from './http-file.js';
export { HttpWeightSource, openHttpSafetensors, openHttpSafetensorsFile } from './http-weight-source.js';
export type { SafetensorsHeader } from './safetensors-header.js';
export { MAX_SAFETENSORS_HEADER_BYTES, parseSafetensorsHeader } from './safetensors-header.js';
export { SAFETENSORS_DTYPE_BYTES, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './safetensors-dtype.js';
export type { LlamaWeightSpec } from './weight-source-validate.js';
export { llamaWeightSpecs, validateLlamaWeights } from './weight-source-validate.js';
export type { ChatMessage, ChatTemplateRenderOptions } from './chat-template.js';
export { ChatTemplate } from './chat-template.js';
export type { StreamDecoder } from './stream-decoder.js';
export { createStreamDecoder } from './stream-decoder.js';
export type { CreateTokenizerOptions, LlamaTokenizer } from './tokenizer.js';
export { createTokenizer, loadTokenizer } from './tokenizer.js';
export { LlamaModel } from './llama-model.js';
export { forwardBatch } from './batch-forward.js';
export { LayerMajorPrefill, prefillCuts, takesLayerMajorPrefill } from './layer-major-prefill.js';
export type { LayerMajorPrefillOptions } from './layer-major-prefill.js';
export type { BatchForwardOptions, BatchForwardResult, BatchSequence } from './batch-forward.js';
export type { ForwardOptions, LoadModelOptions, LoadProgress } from './llama-model.js';
