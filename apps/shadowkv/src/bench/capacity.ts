// bench capacity: the longest context each KV cache policy reaches within a backend's memory (wasm32: 4 GiB), from
// the policies' own memory projections plus the terms the backend adds, validated against real prefills.
import { bytesPerElement, ContextLengthError, InvalidOptionError, ShadowKvError, type KernelBackend, type KvCacheContext, type KvCachePolicy, type RopeSpec } from '@shadowkv/core';
import { projectKvMemory } from '@shadowkv/kv-policies';
import { loadLlamaConfig, openSafetensors, ropeSpecFromConfig, storedWeightsDtype, type LlamaConfig, type WeightsDtype } from '@shadowkv/model-llama';
import { chooseBackend, type BackendName } from '../backends.js';
import { createEngine } from '../engine.js';
import { syntheticPrompt } from './speed.js';

/** The engine's default prefill chunk (Engine.prefill, Session: prefillChunkSize). */
export const PREFILL_CHUNK = 512;
/** The wasm allocator's block alignment and reserved heap base (kernels-wasm: wasm-allocator.ts, wasm-backend.ts). */
const WASM_ALIGN = 64;
const WASM_HEAP_BASE = 1024;
/** RoPE tables are cached up to this many positions (kernels-wasm: rope-tables.ts MAX_CACHED). */
const WASM_ROPE_MAX_CACHED = 1 << 20;
/** The blocked GEMM's packed panels per thread (kernels-wasm: assembly/matmul.ts gemmScratchBytes: NG*8*KC*4 + 32). */
const WASM_GEMM_SCRATCH = 128 * 8 * 256 * 4 + 32;
const F32 = 4;
/** Largest context the search tries (far beyond any model's positions: the budget, not this, is the limit). */
const SEARCH_CAP = 1 << 30;

/** What the projection needs to know about the backend. */
export interface CapacityBackend {
  name: string;
  /** Threads a large op runs on (wasm: its kernel scratch is per thread). */
  threads: number;
  /** Weight dtypes kept as they are (others are widened to f32, as the loader does). */
  weightDtypes: readonly string[];
  /** Whether the backend has the fused gate/up + SwiGLU op (no separate [m, intermediate] gate and up tensors). */
  fusedSwiglu: boolean;
}

/** The model as the projection sees it: shapes, weight dtype, whether an LM head is stored apart from the embedding. */
export interface CapacityModel {
  config: LlamaConfig;
  /** Weight dtype asked for, or the checkpoint's. */
  weightsDtype: WeightsDtype;
  /** lm_head.weight present and not tied to the embedding. */
  separateLmHead: boolean;
}

/** Every term of one projection, in bytes of the backend's memory unless said otherwise. */
export interface CapacityTerms {
  /** Weight tensors: matrices in the weights dtype, norms f32, each rounded to the allocator's blocks. */
  weights: number;
  /**
   * policy.projectMemory: fast-side KV bytes while prefilling as the engine does (offloading policies layer-major:
   * one layer's dense buffer beside the layers converted so far; dense: every layer's buffer).
   */
  kvPrefill: number;
  /** policy.projectMemory: fast-side KV bytes from the end of prefill until the state is full. */
  kvDecode: number;
  /** policy.projectMemory: the most fast-side KV bytes at once, endPrefill's layer-by-layer conversion included. */
  kvPeak: number;
  /** Live activations of the widest prefill chunk (its two widest points: attention inputs, MLP), f32. */
  activations: number;
  /** wasm: per-thread kernel scratch (GEMM panels, one attention row of kvLen scores), kept between calls. */
  scratch: number;
  /** wasm: cached RoPE cos/sin tables up to the next power of two of the positions, and the half-size one while it grows. */
  ropeTables: number;
  /**
   * wasm: the allocator's slack: heap base, up to one 64-byte block of rounding per live tensor, and, once one
   * attention row of scores outgrows the GEMM panels (past 65,536 tokens), the holes the growing scratch block
   * leaves below itself (one block's worth: 3.2 MB measured for a 3.1 MB block at 98,304 tokens).
   */
  alignment: number;
  /** The peak: weights + scratch + RoPE + alignment + max(prefill KV + activations, KV at endPrefill, decode KV + one-token activations). */
  total: number;
  /** Slow tier (host memory, outside the backend's memory; not limited by it): offloaded values at capacity. */
  slowBytes: number;
}

/** Bytes a block of `bytes` takes in the wasm allocator (other backends: exact). */
function block(b: CapacityBackend, bytes: number): number {
  return b.name === 'wasm' ? Math.ceil(Math.max(bytes, 1) / WASM_ALIGN) * WASM_ALIGN : bytes;
}

/** Weight bytes on the backend, as LlamaModel.load places them (matrices in the weights dtype, norms f32). */
export function weightBytes(model: CapacityModel, backend: CapacityBackend): number {
  const c = model.config;
  const dtype = model.weightsDtype === 'f32' || backend.weightDtypes.includes(model.weightsDtype) ? model.weightsDtype : 'f32';
  const per = bytesPerElement(dtype);
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  const m = (rows: number, cols: number) => block(backend, rows * cols * per);
  const layer = m(q, c.hiddenSize) + 2 * m(kv, c.hiddenSize) + m(c.hiddenSize, q) + 2 * m(c.intermediateSize, c.hiddenSize) + m(c.hiddenSize, c.intermediateSize);
  const norms = (2 * c.nLayers + 1) * block(backend, c.hiddenSize * F32);
  return m(c.vocabSize, c.hiddenSize) * (model.separateLmHead ? 2 : 1) + c.nLayers * layer + norms;
}

/**
 * f32 activations of one forward pass of `m` tokens (llama-model.ts forward, layer-tail.ts) at its two widest points:
 * around attention x, its norm, q and q rotated (or the output), k before and after RoPE, v, the ids and positions;
 * in the MLP the residual, its norm, the output and gate/up/SwiGLU (two [m, intermediate] tensors when fused: wasm's
 * prefill GEMMs keep the gate apart; three when not); then the last row's logits. The two sets are added, not
 * maxed: the MLP's [m, intermediate] blocks do not fit the holes the attention's smaller ones leave, so the
 * allocator's addresses (what the limit applies to) cover both (needle-llama on wasm: 5.0 MiB measured, 4.0 MiB
 * for the larger set alone).
 */
export function activationBytes(c: LlamaConfig, m: number, backend: CapacityBackend): number {
  const h = c.hiddenSize;
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  const b = (n: number) => block(backend, n * F32);
  const attention = 2 * b(m) + 2 * b(m * h) + 2 * b(m * q) + 3 * b(m * kv);
  const mlp = 3 * b(m * h) + (backend.fusedSwiglu ? 2 : 3) * b(m * c.intermediateSize);
  const logits = b(c.vocabSize) + 2 * b(h);
  return attention + mlp + logits;
}

/** wasm: the kernel scratch block (the largest per-thread need, times the threads), grown on demand and kept. */
export function wasmScratchBytes(kvLen: number, backend: CapacityBackend): number {
  if (backend.name !== 'wasm') return 0;
  const perThread = Math.max(WASM_GEMM_SCRATCH, wasmAttentionScratch(kvLen));
  return block(backend, Math.ceil(perThread / WASM_ALIGN) * WASM_ALIGN * backend.threads);
}

/** One attention row of scores per thread (kernels-wasm: assembly/attention.ts attentionScratchBytes). */
function wasmAttentionScratch(kvLen: number): number {
  return kvLen * 16 + 16;
}

/** wasm: the cached RoPE tables for positions 0..maxSeqLen-1 (cos and sin), plus the half-size table held while growing. */
export function wasmRopeBytes(c: LlamaConfig, maxSeqLen: number, backend: CapacityBackend): number {
  if (backend.name !== 'wasm') return 0;
  const positions = Math.min(WASM_ROPE_MAX_CACHED, Math.max(1024, 2 ** Math.ceil(Math.log2(maxSeqLen))));
  const table = (p: number) => 2 * block(backend, p * (c.headDim / 2) * F32);
  // Past the cache, calls build tables of their own rows (a chunk's worth: bounded by the growing term's slack).
  const perCall = 2 * table(PREFILL_CHUNK);
  return table(positions) + (positions > 1024 ? table(positions / 2) : 0) + perCall;
}

function cacheContext(c: LlamaConfig, rope: RopeSpec, backend: KernelBackend, maxSeqLen: number): KvCacheContext {
  return { backend, model: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim }, rope, maxSeqLen };
}

export interface ProjectOptions {
  model: CapacityModel;
  rope: RopeSpec;
  /** The backend instance (the policies' projections take a cache context) and what the projection needs of it. */
  backend: KernelBackend;
  caps: CapacityBackend;
  policy: KvCachePolicy;
  /** Tokens generated after the prompt (the state's capacity is promptLen + newTokens). */
  newTokens: number;
}

/** All terms for a prompt of `promptLen` tokens. */
export function projectCapacity(o: ProjectOptions, promptLen: number): CapacityTerms {
  const c = o.model.config;
  const maxSeqLen = promptLen + o.newTokens;
  o.policy.validate(cacheContext(c, o.rope, o.backend, maxSeqLen), promptLen);
  const p = projectKvMemory(o.policy, cacheContext(c, o.rope, o.backend, maxSeqLen), promptLen);
  const weights = weightBytes(o.model, o.caps);
  const kvPeak = Math.max(p.prefillFastBytes, p.decodeFastBytes, p.transitionFastBytes ?? 0);
  const chunk = Math.max(1, Math.min(PREFILL_CHUNK, promptLen - 1));
  const activations = activationBytes(c, chunk, o.caps);
  const scratch = wasmScratchBytes(maxSeqLen, o.caps);
  const ropeTables = wasmRopeBytes(c, maxSeqLen, o.caps);
  const growingScratch = wasmAttentionScratch(maxSeqLen) > WASM_GEMM_SCRATCH ? scratch : 0;
  // Rounding: tensors live at once are weights (9 per layer + 3), KV state (at most 16 per layer), a forward pass (~20).
  const alignment = o.caps.name === 'wasm' ? WASM_HEAP_BASE + WASM_ALIGN * (25 * c.nLayers + 3 + 20) + growingScratch : 0;
  const fixed = weights + scratch + ropeTables + alignment;
  const total = fixed + Math.max(p.prefillFastBytes + activations, kvPeak, p.decodeFastBytes + activationBytes(c, 1, o.caps));
  return { weights, kvPrefill: p.prefillFastBytes, kvDecode: p.decodeFastBytes, kvPeak, activations, scratch, ropeTables, alignment, total, slowBytes: p.slowBytes ?? 0 };
}

/** One policy's answer. */
export interface CapacityRow {
  /** The policy as given on the command line (e.g. `shadowkv:budget=256`). */
  policy: string;
  /** Parameters the policy reports (derived ShadowKV values show as 'auto'). */
  params: Record<string, number | string | boolean>;
  /** Longest prompt (tokens) whose peak fits the budget; 0 when none does. */
  longestContext: number;
  /** The terms at that length. */
  terms: CapacityTerms | null;
  /**
   * Longest prompt if prefill held only the decode-phase state (no dense buffer at all): the ceiling the
   * layer-major prefill approaches (it adds one layer's dense buffer).
   */
  longestDecodeOnly: number;
  /** Whether the longest context passes the model's trained positions (max_position_embeddings): memory only. */
  beyondPositions: boolean;
}

export interface CapacityResult {
  model: string;
  backend: string;
  threads: number;
  weightsDtype: WeightsDtype;
  /** The budget the peak must fit (bytes). */
  memoryBytes: number;
  newTokens: number;
  maxPositionEmbeddings: number;
  rows: CapacityRow[];
}

/**
 * Largest n in [1, SEARCH_CAP] with fits(n), for fits monotone (true then false); 0 when fits(1) is false. Doubling
 * from `start` first: below 1024 tokens ShadowKV's derived state stays dense, so its decode bytes drop at 1024.
 */
export function largestFitting(fits: (n: number) => boolean, start = 1024): number {
  let lo = 0;
  let hi = 0;
  if (fits(start)) {
    lo = start;
    hi = start * 2;
    while (hi <= SEARCH_CAP && fits(hi)) {
      lo = hi;
      hi *= 2;
    }
    if (hi > SEARCH_CAP) return lo;
  } else hi = start;
  // fits(lo) (or lo = 0), !fits(hi)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Whether the projection at n fits `budget`; a policy that cannot take n tokens (validate throws) does not fit. */
function fitsAt(o: ProjectOptions, budget: number, n: number, decodeOnly: boolean): boolean {
  let t: CapacityTerms;
  try {
    t = projectCapacity(o, n);
  } catch (e) {
    if (e instanceof ShadowKvError) return false; // e.g. an explicit budget larger than a short prompt
    throw e;
  }
  if (!decodeOnly) return t.total <= budget;
  return t.weights + t.scratch + t.ropeTables + t.alignment + t.kvDecode + activationBytes(o.model.config, Math.min(PREFILL_CHUNK, n), o.caps) <= budget;
}

/** The longest context per policy within `memoryBytes`. */
export function findCapacity(o: Omit<ProjectOptions, 'policy'>, policies: { label: string; policy: KvCachePolicy }[], memoryBytes: number, modelName: string): CapacityResult {
  const rows = policies.map(({ label, policy }): CapacityRow => {
    const po = { ...o, policy };
    const longestContext = largestFitting((n) => fitsAt(po, memoryBytes, n, false));
    const longestDecodeOnly = largestFitting((n) => fitsAt(po, memoryBytes, n, true));
    return {
      policy: label,
      params: { ...policy.params },
      longestContext,
      terms: longestContext > 0 ? projectCapacity(po, longestContext) : null,
      longestDecodeOnly,
      beyondPositions: longestContext + o.newTokens > o.model.config.maxPositionEmbeddings,
    };
  });
  return {
    model: modelName,
    backend: o.caps.name,
    threads: o.caps.threads,
    weightsDtype: o.model.weightsDtype,
    memoryBytes,
    newTokens: o.newTokens,
    maxPositionEmbeddings: o.model.config.maxPositionEmbeddings,
    rows,
  };
}

/** What a context that does not fit costs: thrown by `checkContextFits` as the backend's typed error. */
export interface CapacityShortfall {
  policy: string;
  context: number;
  terms: CapacityTerms;
  memoryBytes: number;
  /** The longest context that fits this policy (0: none). */
  longest: number;
}

export function describeShortfall(s: CapacityShortfall): string {
  const t = s.terms;
  return (
    `the ${s.policy} KV cache and working buffers of a ${s.context}-token context (weights ${mib(t.weights)} + KV peak ${mib(Math.max(t.kvPeak, t.kvPrefill))}` +
    ` + activations ${mib(t.activations)} + scratch ${mib(t.scratch)} + RoPE tables ${mib(t.ropeTables)} = ${mib(t.total)} needed; ` +
    `the longest ${s.policy} context that fits is ${s.longest} tokens)`
  );
}

/**
 * Throws the backend's typed capacity error when `context` does not fit: WasmOutOfMemoryError (bytes needed beyond
 * the weights, the weights in use, the limit, and what to do) on wasm; a ContextLengthError naming --memory elsewhere.
 */
export async function checkContextFits(o: Omit<ProjectOptions, 'policy'>, policies: { label: string; policy: KvCachePolicy }[], context: number, memoryBytes: number): Promise<CapacityTerms[]> {
  const out: CapacityTerms[] = [];
  for (const { label, policy } of policies) {
    const po = { ...o, policy };
    const terms = projectCapacity(po, context);
    if (terms.total > memoryBytes) {
      const s: CapacityShortfall = { policy: label, context, terms, memoryBytes, longest: largestFitting((n) => fitsAt(po, memoryBytes, n, false)) };
      if (o.caps.name === 'wasm') {
        const { WasmOutOfMemoryError } = await import('@shadowkv/kernels-wasm');
        throw new WasmOutOfMemoryError(describeShortfall(s), terms.total - terms.weights, terms.weights, memoryBytes);
      }
      throw new ContextLengthError(
        `${describeShortfall(s)} exceed the --memory budget of ${mib(memoryBytes)}; use a shorter context, 16-bit weights (--weights-dtype bf16), ShadowKV or KCache, or a larger --memory`,
      );
    }
    out.push(terms);
  }
  return out;
}

/** One real run compared with its projection. */
export interface CapacityCheck {
  policy: string;
  context: number;
  projected: CapacityTerms;
  /** Backend bytes in use after loading the weights (fresh backend). */
  weightsMeasured: number;
  /** memory().fastBytes of the state after prefill and newTokens decode steps (upper bound: kvDecode). */
  fastBytes: number;
  slowBytes: number;
  /** Peak bytes held (backend counters) during load + prefill + decode. */
  peakBytesInUse: number;
  /** Peak address used (what the limit applies to: peak held + holes below it + heap base). */
  peakBytesAddressed: number;
}

interface PeakStats {
  bytesInUse: number;
  peakBytesInUse: number;
  peakBytesAddressed: number;
}

/**
 * Real runs on a fresh wasm backend per (policy, context): load the model, prefill a synthetic prompt, decode
 * `newTokens` tokens, and read the backend's counters and the state's memory report.
 */
export async function validateCapacity(opts: {
  modelDir: string;
  model: CapacityModel;
  policies: { label: string; policy: KvCachePolicy }[];
  contexts: number[];
  newTokens: number;
  threads?: number;
  memoryBytes: number;
  onProgress?: (line: string) => void;
}): Promise<CapacityCheck[]> {
  const { wasm } = await import('@shadowkv/kernels-wasm');
  const checks: CapacityCheck[] = [];
  for (const context of opts.contexts) {
    for (const { label, policy } of opts.policies) {
      const backend = await wasm({ threads: opts.threads, maxMemoryBytes: opts.memoryBytes });
      try {
        const engine = await createEngine({ model: opts.modelDir, backend, cache: policy, weightsDtype: opts.model.weightsDtype });
        try {
          const stats = () => (backend as unknown as { memoryStats(): PeakStats }).memoryStats();
          const weightsMeasured = stats().bytesInUse;
          const caps = capacityBackend(backend);
          const projected = projectCapacity({ model: opts.model, rope: engine.model.rope, backend, caps, policy, newTokens: opts.newTokens }, context);
          const ids = syntheticPrompt(context, engine.model.config.vocabSize, engine.model.config.bosTokenId);
          const { state, logits } = await engine.prefill(ids, policy, context + opts.newTokens);
          await engine.greedy(state, logits, opts.newTokens + 1); // newTokens forward steps: the state holds context + newTokens
          const mem = state.memory();
          const s = stats();
          checks.push({ policy: label, context, projected, weightsMeasured, fastBytes: mem.fastBytes, slowBytes: mem.slowBytes, peakBytesInUse: s.peakBytesInUse, peakBytesAddressed: s.peakBytesAddressed });
          state.dispose();
          opts.onProgress?.(`checked ${label} at ${context} tokens: peak ${mib(s.peakBytesAddressed)} addressed, projected ${mib(projected.total)}`);
        } finally {
          engine.dispose();
        }
      } finally {
        backend.destroy();
      }
    }
  }
  return checks;
}

/** The projection's view of a backend instance. */
export function capacityBackend(backend: KernelBackend): CapacityBackend {
  return {
    name: backend.name,
    threads: (backend as { threads?: number }).threads ?? 1,
    weightDtypes: backend.capabilities.weightDtypes,
    fusedSwiglu: typeof backend.matmulSwiglu === 'function',
  };
}

function mib(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** The table of longest contexts, and every term at each. */
export function formatCapacityTable(r: CapacityResult): string {
  const lines = [
    `${r.model} on ${r.backend} (${r.threads} thread${r.threads === 1 ? '' : 's'}), ${r.weightsDtype} weights, budget ${mib(r.memoryBytes)}, ${r.newTokens} new tokens; trained positions ${r.maxPositionEmbeddings}`,
    '',
    '| policy | longest context | weights | KV prefill | KV decode | KV peak | activations | scratch | RoPE tables | allocator slack | peak total | slow tier (host) | decode state only* |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    const t = row.terms;
    const cells = t
      ? [t.weights, t.kvPrefill, t.kvDecode, t.kvPeak, t.activations, t.scratch, t.ropeTables, t.alignment, t.total, t.slowBytes].map(mib)
      : Array.from({ length: 10 }, () => '-');
    lines.push(`| ${row.policy} | ${row.longestContext}${row.beyondPositions ? ' †' : ''} | ${cells.join(' | ')} | ${row.longestDecodeOnly} |`);
  }
  lines.push('', '† beyond the model\'s trained positions: memory only (RoPE extrapolates; quality untested).');
  lines.push('* longest context if prefill held only the decode-phase state (no dense buffer at all); the offloading policies\' layer-major prefill holds one layer\'s dense buffer beside it.');
  return lines.join('\n');
}

/** Projection vs measurement, per run. */
export function formatValidationTable(checks: CapacityCheck[]): string {
  const lines = [
    '| policy | context | weights proj / meas | KV fastBytes (state) / proj decode | slow proj / meas | peak addressed (meas) | peak held (meas) | projected total | proj / meas |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of checks) {
    const p = c.projected;
    lines.push(
      `| ${c.policy} | ${c.context} | ${mib(p.weights)} / ${mib(c.weightsMeasured)} | ${mib(c.fastBytes)} / ${mib(p.kvDecode)} | ${mib(p.slowBytes)} / ${mib(c.slowBytes)} | ` +
        `${mib(c.peakBytesAddressed)} | ${mib(c.peakBytesInUse)} | ${mib(p.total)} | ${(p.total / c.peakBytesAddressed).toFixed(3)} |`,
    );
  }
  return lines.join('\n');
}

/** The model's shapes from config.json, its checkpoint dtype and LM head from the safetensors header (no weights read). */
export async function readCapacityModel(dir: string, weightsDtype?: WeightsDtype): Promise<CapacityModel> {
  const config = await loadLlamaConfig(dir);
  const source = await openSafetensors(dir);
  try {
    return {
      config,
      weightsDtype: weightsDtype ?? storedWeightsDtype(source.info('model.embed_tokens.weight')),
      separateLmHead: source.has('lm_head.weight') && !config.tieWordEmbeddings,
    };
  } finally {
    await source.close();
  }
}

export interface CapacityCommandOptions {
  /** Model directory (a --random preset already written by ensureRandomModel). */
  modelDir: string;
  backend: BackendName;
  /** Budget in bytes; default: the backend's addressable limit (wasm32: 4 GiB); required elsewhere. */
  memoryBytes?: number;
  threads?: number;
  weightsDtype?: WeightsDtype;
  policies: { label: string; policy: KvCachePolicy }[];
  newTokens: number;
  /** Check this prompt length (typed error when a policy does not fit) instead of only searching. */
  context?: number;
  /** Prompt lengths to run for real (wasm) and compare with the projection. */
  validate?: number[];
  onProgress?: (line: string) => void;
}

export interface CapacityReport {
  result: CapacityResult;
  /** Terms at --context, one per policy. */
  atContext?: { context: number; terms: CapacityTerms[] };
  checks?: CapacityCheck[];
}

/** `shadowkv bench capacity`: search (and check --context, and validate) for every policy. */
export async function runCapacity(o: CapacityCommandOptions): Promise<CapacityReport> {
  if (!Number.isInteger(o.newTokens) || o.newTokens < 1) throw new InvalidOptionError('new-tokens', `${o.newTokens} must be an integer >= 1`);
  if (o.validate && o.backend !== 'wasm') throw new InvalidOptionError('validate', `runs on the wasm backend (its allocator counts the bytes); use --backend wasm, not ${o.backend}`);
  const wasmMod = o.backend === 'wasm' ? await import('@shadowkv/kernels-wasm') : undefined;
  let memoryBytes = o.memoryBytes;
  if (wasmMod) {
    memoryBytes ??= wasmMod.WASM32_MAX_BYTES;
    if (memoryBytes > wasmMod.WASM32_MAX_BYTES) {
      throw new InvalidOptionError('memory', `${memoryBytes} bytes is more than wasm32 addresses (${wasmMod.WASM32_MAX_BYTES}, 4 GiB); give at most that, or another backend`);
    }
  } else if (memoryBytes === undefined) {
    throw new InvalidOptionError('memory', `the ${o.backend} backend has no fixed addressable limit; give the budget with --memory (e.g. 8GiB)`);
  }
  if (!(memoryBytes > 0)) throw new InvalidOptionError('memory', `${memoryBytes} must be a positive number of bytes`);
  const model = await readCapacityModel(o.modelDir, o.weightsDtype);
  const backend = wasmMod
    ? await wasmMod.wasm({ threads: o.threads, maxMemoryBytes: memoryBytes })
    : (await chooseBackend(o.backend, { threads: o.threads })).backend;
  try {
    const base = { model, rope: ropeSpecFromConfig(model.config), backend, caps: capacityBackend(backend), newTokens: o.newTokens };
    const report: CapacityReport = { result: findCapacity(base, o.policies, memoryBytes, o.modelDir) };
    if (o.context !== undefined) report.atContext = { context: o.context, terms: await checkContextFits(base, o.policies, o.context, memoryBytes) };
    if (o.validate) {
      report.checks = await validateCapacity({ modelDir: o.modelDir, model, policies: o.policies, contexts: o.validate, newTokens: o.newTokens, threads: o.threads, memoryBytes, onProgress: o.onProgress });
    }
    return report;
  } finally {
    (backend as { destroy?: () => void }).destroy?.();
  }
}

/** The whole report as markdown. */
export function formatCapacityReport(r: CapacityReport): string {
  const parts = [formatCapacityTable(r.result)];
  if (r.atContext) {
    parts.push(`At ${r.atContext.context} tokens every policy fits: ${r.atContext.terms.map((t, i) => `${r.result.rows[i].policy} ${mib(t.total)}`).join(', ')}.`);
  }
  if (r.checks) parts.push(`Projection vs a real prefill + decode on wasm (fresh backend per run):\n\n${formatValidationTable(r.checks)}`);
  return parts.join('\n\n');
}
