// Resolves a backend by name. Optional backends are imported lazily so that the CPU path never loads them.
// 'auto' (the default) picks a real GPU through WebGPU, else the WebAssembly CPU backend, else the reference.
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

/** The message of an error met while trying a backend (for the auto reason). */
function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The 'auto' decision: WebGPU when its adapter is a real GPU (software adapters such as lavapipe or
 * SwiftShader are slower than the CPU backends), else wasm when @shadowkv/kernels-wasm loads, else cpu.
 */
async function chooseAuto(opts: BackendOptions): Promise<BackendChoice> {
  const skipped: string[] = [];
  try {
    const mod = await importOptional('@shadowkv/kernels-webgpu', 'webgpu');
    const probe = await (mod.probeWebGpuAdapter as () => Promise<{ notRealGpu: string | null; vendor: string; description: string }>)();
    if (probe.notRealGpu === null) {
      const backend = await (mod.webgpu as (o: { powerPreference: 'high-performance' }) => Promise<KernelBackend>)({ powerPreference: 'high-performance' });
      return { backend, reason: `auto: webgpu on a real GPU (${[probe.vendor, probe.description].filter(Boolean).join(' / ')})` };
    }
    skipped.push(`not webgpu: ${probe.notRealGpu}`);
  } catch (err) {
    skipped.push(`not webgpu: ${why(err)}`);
  }
  try {
    const mod = await importOptional('@shadowkv/kernels-wasm', 'wasm');
    const backend = await wasmFactory(mod)(opts.threads === undefined ? {} : { threads: opts.threads });
    return { backend, reason: `auto: wasm (${skipped.join('; ')})` };
  } catch (err) {
    skipped.push(`not wasm: ${why(err)}`);
  }
  return { backend: cpu(), reason: `auto: cpu, the reference backend (${skipped.join('; ')})` };
}
