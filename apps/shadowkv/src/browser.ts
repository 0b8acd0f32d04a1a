// Public API of the shadowkv package in browsers (the "browser" export condition): engines, streaming
// generation, policies and sampling, without the CLI, benchmarks and random-model writers (they need node:fs).
export { createEngine, Engine, GenerationStream } from './engine.js';
export type { EngineOptions, FinishReason, GenerateChunk, GenerateOptions, GenerateResult, PromptInput } from './engine.js';
export { generate, generateText } from './generate.js';
export type { OneShotOptions } from './generate.js';
export { createPolicy, POLICY_NAMES } from './policy-options.js';
export type { PolicyName, PolicyOptions } from './policy-options.js';
export { dense, kcache, shadowkv, SHADOWKV_ACCURATE } from '@shadowkv/kv-policies';
export type { KcacheParams, ShadowKvParams } from '@shadowkv/kv-policies';
export { BACKEND_NAMES, resolveBackend } from './backends.js';
export type { BackendName } from './backends.js';
export { Sampler, seededRandom } from './sampler.js';
export type { SamplingOptions } from './sampler.js';
export { StopMatcher } from './stop-matcher.js';
