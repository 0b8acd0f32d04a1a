// The page's work, apart from the DOM: a WebGPU backend from navigator.gpu (or the wasm backend on the CPU),
// the model and tokenizer fetched from folder URLs, and a greedy generate() whose tokens are reported as they stream.
import { BackendUnavailableError, ModelFormatError, type KernelBackend } from '@shadowkv/core';
import { wasm } from '@shadowkv/kernels-wasm';
import { webgpu } from '@shadowkv/kernels-webgpu';
import { createTokenizer, LlamaModel, openHttpSafetensors, parseLlamaConfig, type LlamaTokenizer, type LoadProgress } from '@shadowkv/model-llama';
import { createEngine, type FinishReason, type GenerateChunk } from 'shadowkv';
import type { PageOptions } from './page-options.js';

/** The adapter the browser gave, as far as WebGPU reports it. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBufferBindingSize: number;
}

/** What a finished generation exposes (the page puts it on window.__result). */
export interface PageResult {
  tokens: number[];
  /** Decoded text, or null without a tokenizer. */
  text: string | null;
  backend: string;
  /** WebGPU adapter name, or "wasm (N threads)". */
  adapterName: string;
  /** The WebGPU adapter (null on the wasm backend). */
  adapterInfo: AdapterReport | null;
  /** wasm backend: threads per large op, and why it runs single-threaded when it does (else null). */
  wasmThreads: number | null;
  singleThreadReason: string | null;
  promptTokens: number;
  finishReason: FinishReason;
  loadMs: number;
  prefillMs: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
}

export interface RunEvents {
  onStatus(text: string): void;
  onAdapter(info: AdapterReport): void;
  onToken(chunk: GenerateChunk): void;
}

/** Runs one generation; rejects with the library's typed errors (their messages say what to fix). */
export async function runGeneration(opts: PageOptions, events: RunEvents): Promise<PageResult> {
  if (opts.backend === 'wasm') {
    events.onStatus('Starting the wasm backend…');
    // Threads need a cross-origin isolated page (COOP/COEP headers); otherwise wasm() runs single-threaded and
    // reports why (shown in the status line once).
    const backend = await wasm({ threads: 'auto', onSingleThreaded: (reason) => events.onStatus(`wasm runs single-threaded: ${reason}`) });
    try {
      return await generateOn(backend, `wasm (${backend.threads} thread${backend.threads > 1 ? 's' : ''})`, null, opts, events, {
        wasmThreads: backend.threads,
        singleThreadReason: backend.singleThreadReason,
      });
    } finally {
      backend.destroy(); // stops its workers; the next run starts a fresh backend
    }
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    throw new BackendUnavailableError('webgpu', 'navigator.gpu is missing: open the page in a browser with WebGPU (Chrome or Edge 113+, or Chromium started with --enable-unsafe-webgpu), over http://localhost or https');
  }
  events.onStatus('Requesting a WebGPU adapter…');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new BackendUnavailableError('webgpu', 'navigator.gpu.requestAdapter() gave no adapter; enable WebGPU (chrome://flags/#enable-unsafe-webgpu) or update the GPU driver');
  const adapterInfo = reportAdapter(adapter);
  events.onAdapter(adapterInfo);
  const backend = await webgpu({ gpu });
  return generateOn(backend, backend.adapterName, adapterInfo, opts, events, { wasmThreads: null, singleThreadReason: null });
}

async function generateOn(
  backend: KernelBackend,
  adapterName: string,
  adapterInfo: AdapterReport | null,
  opts: PageOptions,
  events: RunEvents,
  extra: Pick<PageResult, 'wasmThreads' | 'singleThreadReason'>,
): Promise<PageResult> {
  const t0 = performance.now();
  const configUrl = fileUrl(opts.modelUrl, 'config.json');
  events.onStatus(`Loading ${configUrl}…`);
  const config = parseLlamaConfig(await fetchJson(configUrl, true), configUrl);
  const source = await openHttpSafetensors(opts.modelUrl);
  let model: LlamaModel;
  try {
    model = await LlamaModel.fromSource(opts.modelUrl, config, source, {
      backend,
      onProgress: (p: LoadProgress) => events.onStatus(`Loading weights ${p.done}/${p.total}: ${p.name}`),
    });
  } finally {
    await source.close();
  }
  const tokenizer = opts.tokenizerUrl === null ? null : await fetchTokenizer(opts.tokenizerUrl);
  const loadMs = performance.now() - t0;

  try {
    const engine = await createEngine({ model, backend, tokenizer });
    events.onStatus('Generating…');
    const stream = engine.generate(opts.inputIds !== null ? { inputIds: opts.inputIds } : (opts.prompt ?? ''), {
      maxNewTokens: opts.maxNewTokens,
      temperature: 0,
    });
    for await (const chunk of stream) events.onToken(chunk);
    const r = await stream.result;
    return {
      tokens: r.tokens,
      text: tokenizer ? r.text : null,
      backend: r.backend,
      adapterName,
      adapterInfo,
      ...extra,
      promptTokens: r.promptTokens,
      finishReason: r.finishReason,
      loadMs,
      prefillMs: r.prefillMs,
      decodeMs: r.decodeMs,
      decodeTokensPerSecond: r.decodeTokensPerSecond,
    };
  } finally {
    model.dispose();
  }
}

function reportAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    features: [...adapter.features].sort(),
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** tokenizer.json (required) and tokenizer_config.json (optional) from a folder URL. */
async function fetchTokenizer(folder: string): Promise<LlamaTokenizer> {
  const tokenizerFile = fileUrl(folder, 'tokenizer.json');
  const configFile = fileUrl(folder, 'tokenizer_config.json');
  const [tok, config] = await Promise.all([fetchJson(tokenizerFile, true), fetchJson(configFile, false)]);
  return createTokenizer(tok, config ?? {}, { tokenizerFile, configFile });
}

function fileUrl(folder: string, name: string): string {
  return new URL(name, new URL(folder.endsWith('/') ? folder : `${folder}/`, location.href)).href;
}

/** Parsed JSON of `url`; null on 404 unless `required`. */
async function fetchJson(url: string, required: boolean): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new ModelFormatError(url, undefined, `cannot be fetched (${(err as Error).message}); check the URL and, for another origin, its CORS headers`);
  }
  if (res.status === 404 && !required) return null;
  if (!res.ok) throw new ModelFormatError(url, undefined, `the server answered HTTP ${res.status}; check the URL`);
  try {
    return await res.json();
  } catch (err) {
    throw new ModelFormatError(url, undefined, `is not valid JSON: ${(err as Error).message}`);
  }
}
