// The factory of the gpu.js backend: loads the optional gpu.js, creates it in the requested mode and checks
// with a tiny kernel that the mode really runs here before handing the backend out.
import { BackendUnavailableError, InvalidOptionError } from '@shadowkv/core';
import { SCORE_BUDGET_ELEMENTS } from './attention-blocks.js';
import { GpujsBackend } from './gpujs-backend.js';
import { loadGpujs } from './load-gpujs.js';

/**
 * gpu.js modes this backend accepts: 'gpu' lets gpu.js pick (headlessgl → webgl2 → webgl → webasm); the
 * others force one. gpu.js's 'webgpu' and 'async' modes return Promises from every kernel and do not fit the
 * synchronous op model; use `@shadowkv/kernels-webgpu` for WebGPU.
 */
export type GpujsMode = 'gpu' | 'headlessgl' | 'webgl2' | 'webgl' | 'webasm' | 'cpu';

export const GPUJS_MODES: readonly GpujsMode[] = ['gpu', 'headlessgl', 'webgl2', 'webgl', 'webasm', 'cpu'];

export interface GpujsOptions {
  /** Default 'gpu'. */
  mode?: GpujsMode;
  /**
   * Elements of attention's score buffer [rows, nHeads, capacity] per block of query rows (default 2^22,
   * 16 MiB): long prefills run in blocks of floor(budget / (nHeads * capacity)) rows, at least one.
   */
  attentionScoreBudget?: number;
  /**
   * Default true: kernels are compiled per distinct tensor shape, with sizes baked in (fastest kernels; a
   * decode step never recompiles because per-step values are uniforms). false: one kernel per op and
   * loop-bound bucket with sizes as uniforms (far fewer compiles when shapes keep changing; in software GL
   * the kernels run ~3x slower).
   */
  specializeShapes?: boolean;
}

const MODE_HINTS: Partial<Record<GpujsMode, string>> = {
  headlessgl:
    'headlessgl needs the optional `gl` package built (pnpm: list it in onlyBuiltDependencies; apt: build-essential python3 libxi-dev) ' +
    'and an X server at run time (set DISPLAY, e.g. run under `xvfb-run`)',
  webgl2: 'webgl2 needs a browser with WebGL 2',
  webgl: 'webgl needs a browser with WebGL',
};

/** Creates the gpu.js backend; throws BackendUnavailableError when gpu.js or the mode is unavailable. */
export async function gpujs(opts: GpujsOptions = {}): Promise<GpujsBackend> {
  const mode = opts.mode ?? 'gpu';
  if (!GPUJS_MODES.includes(mode)) {
    throw new InvalidOptionError('mode', `"${String(mode)}" is not one of ${GPUJS_MODES.join(', ')} (gpu.js's webgpu/async modes are asynchronous; use @shadowkv/kernels-webgpu)`);
  }
  const budget = opts.attentionScoreBudget ?? SCORE_BUDGET_ELEMENTS;
  if (!Number.isInteger(budget) || budget < 1) {
    throw new InvalidOptionError('attentionScoreBudget', `${budget} must be a positive integer number of elements (default ${SCORE_BUDGET_ELEMENTS})`);
  }
  const { GPU } = await loadGpujs();
  let backend: GpujsBackend;
  try {
    backend = new GpujsBackend(new GPU({ mode }), budget, opts.specializeShapes ?? true);
  } catch (cause) {
    const hint = MODE_HINTS[mode] ?? 'try mode "webasm" or "cpu"';
    throw new BackendUnavailableError('gpujs', `gpu.js mode "${mode}" does not work here (${(cause as Error).message}); ${hint}`, { cause });
  }
  try {
    const a = backend.upload(new Float32Array([1, 2, 3]), [3]);
    const sum = backend.add(a, a);
    const got = await backend.read(sum);
    backend.dispose(a);
    backend.dispose(sum);
    if (got[0] !== 2 || got[1] !== 4 || got[2] !== 6) throw new Error(`a probe kernel returned [${Array.from(got).join(', ')}] instead of [2, 4, 6]`);
  } catch (cause) {
    backend.destroy();
    throw new BackendUnavailableError('gpujs', `gpu.js mode "${mode}" (${backend.mode}) failed its probe: ${(cause as Error).message}`, { cause });
  }
  return backend;
}

/** Whether gpu.js runs here in `mode`, and which kernel implementation it chose; never throws. */
export async function probeGpujs(mode: GpujsMode = 'gpu'): Promise<{ ok: true; mode: GpujsBackend['mode'] } | { ok: false; reason: string }> {
  try {
    const backend = await gpujs({ mode });
    const chosen = backend.mode;
    backend.destroy();
    return { ok: true, mode: chosen };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
