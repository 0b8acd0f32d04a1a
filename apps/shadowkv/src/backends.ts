// Resolves a backend by name. Optional backends are imported lazily so that the CPU path never loads them.
// 'auto' (the default) picks an NVIDIA GPU through CUDA, else a real GPU through WebGPU, else the WebAssembly CPU
// backend, else the reference.
import { BackendUnavailableError, InvalidOptionError, type KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';

export type BackendName = 'auto' | 'cpu' | 'wasm' | 'webgpu' | 'gpujs' | 'cuda';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'cpu', 'wasm', 'webgpu', 'gpujs', 'cuda'];

export interface BackendOptions {
  /** Worker threads of the wasm backend (default: its own choice). */
  threads?: number;
}

/** A backend and why it was chosen (the auto decision, or that it was asked for by name). */
export interface BackendChoice {
  backend: KernelBackend;
  reason: string;
}

const loaders = new Map<string, () => Promise<unknown>>();

/**
 * Hands in a literal `import()` of an optional backend package, for entry points that bundle their code (the
 * CLI: its bundle then carries the workspace backends). Elsewhere the package is imported by name at run time,
 * so that bundlers of this library never pull in backends the page does not use.
 */
export function registerBackendLoader(pkg: string, load: () => Promise<unknown>): void {
  loaders.set(pkg, load);
}

async function importOptional(pkg: string, backend: string): Promise<Record<string, unknown>> {
  try {
    const load = loaders.get(pkg);
    return (await (load ? load() : import(/* @vite-ignore */ pkg))) as Record<string, unknown>;
  } catch (err) {
    throw new BackendUnavailableError(backend, `the package ${pkg} could not be loaded (${(err as Error).message}); install it next to shadowkv`, { cause: err });
  }
}

/** Creates a backend from a name, or passes a ready backend through. */
export async function resolveBackend(backend: BackendName | KernelBackend | undefined, opts: BackendOptions = {}): Promise<KernelBackend> {
  return (await chooseBackend(backend, opts)).backend;
}

/** Creates a backend from a name ('auto' by default), or passes a ready backend through, saying why. */
export async function chooseBackend(backend: BackendName | KernelBackend | undefined, opts: BackendOptions = {}): Promise<BackendChoice> {
  if (typeof backend === 'object') return { backend, reason: 'a backend instance was given' };
  if (backend === undefined || backend === 'auto') return chooseAuto(opts);
  if (backend === 'cpu') return { backend: cpu(), reason: 'asked for cpu (the reference backend)' };
  if (backend === 'wasm') {
    const mod = await importOptional('@shadowkv/kernels-wasm', 'wasm');
    return { backend: await wasmFactory(mod)(opts.threads === undefined ? {} : { threads: opts.threads }), reason: 'asked for wasm' };
  }
  if (backend === 'webgpu') {
    const mod = await importOptional('@shadowkv/kernels-webgpu', 'webgpu');
    return { backend: await (mod.webgpu as () => Promise<KernelBackend>)(), reason: 'asked for webgpu' };
  }
  if (backend === 'gpujs') {
    const mod = await importOptional('@shadowkv/kernels-gpujs', 'gpujs');
    return { backend: await (mod.gpujs as () => Promise<KernelBackend>)(), reason: 'asked for gpujs' };
  }
  if (backend === 'cuda') {
    // The NVIDIA backend (Node-API addon); cuda() throws BackendUnavailableError naming a missing addon, driver or GPU.
    const mod = await importOptional('@shadowkv/kernels-cuda', 'cuda');
    return { backend: (mod.cuda as () => KernelBackend)(), reason: 'asked for cuda' };
  }
  throw new InvalidOptionError('backend', `unknown backend "${String(backend)}"; use one of ${BACKEND_NAMES.join(', ')}`);
}

type WasmFactory = (o: { threads?: number }) => KernelBackend | Promise<KernelBackend>;

function wasmFactory(mod: Record<string, unknown>): WasmFactory {
  if (typeof mod.wasm !== 'function') {
    throw new BackendUnavailableError('wasm', 'the package @shadowkv/kernels-wasm does not export its wasm() factory (an older or unfinished build); use --backend cpu');
  }
  return mod.wasm as WasmFactory;
}

/** The message of an error met while trying a backend (for the auto reason, which already says "not <name>:"). */
function why(err: unknown): string {
  return err instanceof Error ? err.message.replace(/^backend "[^"]*" is not available: /, '') : String(err);
}

/** The candidates of 'auto', best first; cpu (the reference) when none is usable. */
export const AUTO_ORDER = ['cuda', 'webgpu', 'wasm'] as const;
export type AutoCandidate = (typeof AUTO_ORDER)[number];

/** What the probe of a candidate found: usable (`on` says on what), or why not. */
export type AutoProbe = { usable: true; on?: string } | { usable: false; why: string };

/** The next step of 'auto': run the probe of a candidate, or use a backend for the reason given. */
export type AutoStep = { probe: AutoCandidate } | { use: AutoCandidate | 'cpu'; reason: string };

/**
 * The 'auto' decision, a pure function of what the probes found so far: CUDA when the addon is built and an
 * NVIDIA GPU is present; else WebGPU when its adapter is a real GPU (software adapters such as lavapipe or
 * SwiftShader are slower than the CPU backends); else wasm when @shadowkv/kernels-wasm loads; else cpu. A
 * candidate is probed only when every better one was ruled out, so a CUDA machine never loads Dawn. The reason
 * names the choice and why each better candidate was skipped.
 */
export function decideAuto(found: Partial<Record<AutoCandidate, AutoProbe>>): AutoStep {
  const skipped: string[] = [];
  for (const name of AUTO_ORDER) {
    const p = found[name];
    if (p === undefined) return { probe: name };
    if (p.usable) return { use: name, reason: `auto: ${name}${p.on ? ` on ${p.on}` : ''}${skipped.length ? ` (${skipped.join('; ')})` : ''}` };
    skipped.push(`not ${name}: ${p.why}`);
  }
  return { use: 'cpu', reason: `auto: cpu, the reference backend (${skipped.join('; ')})` };
}

/**
 * Probes one candidate of 'auto' without creating its backend: cheap and silent where it is missing (CUDA:
 * loads the addon and asks the driver for a device count, no context; WebGPU: asks for an adapter; wasm: loads
 * the package). Never throws: a failure is the reason the candidate is skipped.
 */
export async function probeAutoCandidate(name: AutoCandidate): Promise<AutoProbe> {
  try {
    if (name === 'cuda') {
      // The addon is a Node-API module: nothing to try in browsers.
      if (typeof process === 'undefined' || !process.versions?.node) return { usable: false, why: 'not running in Node.js' };
      const mod = await importOptional('@shadowkv/kernels-cuda', 'cuda');
      const probe = (mod.probeCuda as () => { available: boolean; reason: string })();
      return probe.available ? { usable: true, on: `an NVIDIA GPU (${probe.reason})` } : { usable: false, why: probe.reason };
    }
    if (name === 'webgpu') {
      const mod = await importOptional('@shadowkv/kernels-webgpu', 'webgpu');
      const probe = await (mod.probeWebGpuAdapter as () => Promise<{ notRealGpu: string | null; vendor: string; description: string }>)();
      if (probe.notRealGpu !== null) return { usable: false, why: probe.notRealGpu };
      return { usable: true, on: `a real GPU (${[probe.vendor, probe.description].filter(Boolean).join(' / ')})` };
    }
    wasmFactory(await importOptional('@shadowkv/kernels-wasm', 'wasm'));
    return { usable: true };
  } catch (err) {
    return { usable: false, why: why(err) };
  }
}

/** Runs decideAuto's steps: probes, then creates the chosen backend; one that fails to start is skipped with its error. */
async function chooseAuto(opts: BackendOptions): Promise<BackendChoice> {
  const found: Partial<Record<AutoCandidate, AutoProbe>> = {};
  for (;;) {
    const step = decideAuto(found);
    if ('probe' in step) {
      found[step.probe] = await probeAutoCandidate(step.probe);
      continue;
    }
    if (step.use === 'cpu') return { backend: cpu(), reason: step.reason };
    try {
      const backend =
        step.use === 'webgpu'
          ? await ((await importOptional('@shadowkv/kernels-webgpu', 'webgpu')).webgpu as (o: { powerPreference: 'high-performance' }) => Promise<KernelBackend>)({ powerPreference: 'high-performance' })
          : (await chooseBackend(step.use, opts)).backend;
      return { backend, reason: step.reason };
    } catch (err) {
      found[step.use] = { usable: false, why: why(err) };
    }
  }
}
