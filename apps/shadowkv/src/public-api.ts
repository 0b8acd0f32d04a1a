// The shadowkv exports that run anywhere (Node and browsers): browser.ts is exactly this list, index.ts is this
// list plus public-api-node.ts. Add an export here (or there, if it needs node:*), never to index.ts/browser.ts.
export { createEngine, Engine, GenerationStream } from './engine.js';
export type { EngineOptions, FinishReason, GenerateChunk, GenerateOptions, GenerateResult, PromptInput } from './engine.js';
export { generate, generateText } from './generate.js';
export type { OneShotOptions } from './generate.js';
export { createPolicy, parsePolicySpec, POLICY_NAMES } from './policy-options.js';
export type { PolicyName, PolicyOptions } from './policy-options.js';
export { dense, kcache, shadowkv, SHADOWKV_ACCURATE } from '@shadowkv/kv-policies';
export type { KcacheParams, ShadowKvParams } from '@shadowkv/kv-policies';
export { BACKEND_NAMES, resolveBackend } from './backends.js';
export type { BackendName } from './backends.js';
export { Sampler, seededRandom } from './sampler.js';
export type { SamplingOptions } from './sampler.js';
export { StopMatcher } from './stop-matcher.js';
export { BatchScheduler } from './scheduler/batch-scheduler.js';
export type { SchedulerOptions, SchedulerStats } from './scheduler/batch-scheduler.js';
export { KvBudgetExceededError, QueueFullError, SchedulerClosedError } from './scheduler/scheduler-errors.js';
export { parseBytes } from './scheduler/parse-bytes.js';
