// The factory: `await wasm({ threads })` compiles the kernel module (once per process), creates the memory and
// starts the worker threads. Threads need SharedArrayBuffer: in a browser page that is not cross-origin isolated
// (no COOP/COEP headers) it runs single-threaded and says why once.
import { BackendUnavailableError } from '@shadowkv/core';
import { KERNEL_NAMES, kernelModule } from './kernel-module.js';
import { warmUpKernels } from './kernel-warm-up.js';
import { DEFAULT_THRESHOLDS, type ParallelThresholds } from './parallel-thresholds.js';
import { ThreadPool } from './thread-pool.js';
import { WasmBackend } from './wasm-backend.js';
import type { WeightLayout } from './weight-layout.js';
import { WASM32_MAX_BYTES } from './wasm-memory-error.js';

export interface WasmOptions {
  /**
   * Threads per large op, the calling thread included: a number, or 'auto' (default) for the logical CPU count
   * (os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers), at most 8. 1 = no workers.
   */
  threads?: number | 'auto';
  /** Ceiling of the WebAssembly memory in bytes (default and maximum 4 GiB, all wasm32 addresses). */
  maxMemoryBytes?: number;
  /** Override the sizes above which ops are split across threads (benchmarks, tests). */
  thresholds?: Partial<ParallelThresholds>;
  /** Called once with the reason when threads were asked for but cannot be used (default: console.warn). */
  onSingleThreaded?: (reason: string) => void;
  /**
   * Run the kernels on small problems once per compiled module before returning (default true), so that the first
   * decode steps do not run in the engine's baseline tier (kernel-warm-up.ts; about 0.1 s once per process).
   */
  warmUp?: boolean;
  /** How 16-bit weight matrices are stored (default 'rows4', see WeightLayout); 'rows' for comparisons. */
  weightLayout?: WeightLayout;
}

const PAGE = 65536;
let warned = false;

async function hardwareThreads(): Promise<number> {
  if (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) return navigator.hardwareConcurrency;
  if (typeof process !== 'undefined' && process.versions?.node) {
    const specifier = 'node:os';
    const os = (await import(/* @vite-ignore */ specifier)) as typeof import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return 1;
}

/** Why shared memory (threads) is unavailable here, or null when it is available. */
export function threadsUnavailableReason(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is not available (in a browser the page must be cross-origin isolated: serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  const g = globalThis as { crossOriginIsolated?: boolean; window?: unknown };
  if (g.window !== undefined && g.crossOriginIsolated === false) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof Worker === 'undefined' && !(typeof process !== 'undefined' && process.versions?.node)) return 'this environment has no Worker';
  return null;
}

/** Creates the WebAssembly SIMD backend (multi-threaded where shared memory is available). */
export async function wasm(options: WasmOptions = {}): Promise<WasmBackend> {
  if (typeof WebAssembly === 'undefined') throw new BackendUnavailableError('wasm', 'this JavaScript engine has no WebAssembly');
  const limitBytes = Math.min(WASM32_MAX_BYTES, options.maxMemoryBytes ?? WASM32_MAX_BYTES);
  const maxPages = Math.floor(limitBytes / PAGE);
  let threads = options.threads === undefined || options.threads === 'auto' ? Math.min(8, await hardwareThreads()) : options.threads;
  if (!Number.isInteger(threads) || threads < 1) throw new BackendUnavailableError('wasm', `threads = ${options.threads} must be 'auto' or an integer >= 1`);
  let singleThreadReason: string | null = null;
  if (threads > 1) {
    singleThreadReason = threadsUnavailableReason();
    if (singleThreadReason) {
      threads = 1;
      const say = options.onSingleThreaded ?? ((r: string) => { if (!warned) console.warn(`[shadowkv] wasm backend runs single-threaded: ${r}`); warned = true; });
      say(singleThreadReason);
    }
  }
  const shared = threads > 1;
  let module: WebAssembly.Module;
  let memory: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  try {
    module = await kernelModule(shared ? 'threads' : 'single');
    memory = new WebAssembly.Memory({ initial: 16, maximum: maxPages, shared } as WebAssembly.MemoryDescriptor);
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (err) {
    throw new BackendUnavailableError('wasm', `the kernel module did not load (${(err as Error).message}); this engine needs WebAssembly SIMD128${shared ? ' and threads' : ''}`, { cause: err });
  }
  // The backend's heap (from address 1024, wasm-backend.ts) is empty until it exists: the warm-up's inputs lie there.
  if (options.warmUp !== false) warmUpKernels(module, instance.exports, memory, 1024);
  const fns = KERNEL_NAMES.map((n) => instance.exports[n] as (...a: number[]) => void);
  const pool = shared ? await ThreadPool.start(threads, module, memory, KERNEL_NAMES, fns) : null;
  return new WasmBackend({ memory, instance, pool, limitBytes, thresholds: { ...DEFAULT_THRESHOLDS, ...options.thresholds }, singleThreadReason, weightLayout: options.weightLayout });
}
