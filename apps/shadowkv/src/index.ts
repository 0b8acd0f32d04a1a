// Public API of the shadowkv package: engines, streaming generation, policies and backends.
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
export { RANDOM_PRESETS, ensureRandomModel } from './random-models.js';
export { readNiah, runNiah, isCorrect, formatNiahTable } from './bench/niah.js';
export type { NiahResult, NiahRow } from './bench/niah.js';
export { runSpeed, formatSpeedTable, syntheticPrompt } from './bench/speed.js';
export type { SpeedResult } from './bench/speed.js';
