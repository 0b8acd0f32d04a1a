// Resolves a backend by name. Optional backends are imported lazily so that the CPU path never loads them.
import { BackendUnavailableError, InvalidOptionError, type KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';

export type BackendName = 'cpu' | 'webgpu' | 'gpujs';
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'webgpu', 'gpujs'];

async function importOptional(pkg: string, backend: string): Promise<Record<string, unknown>> {
  try {
    return (await import(/* @vite-ignore */ pkg)) as Record<string, unknown>;
  } catch (err) {
    throw new BackendUnavailableError(backend, `the package ${pkg} could not be loaded (${(err as Error).message}); install it next to shadowkv`, { cause: err });
  }
}

/** Creates a backend from a name, or passes a ready backend through. */
export async function resolveBackend(backend: BackendName | KernelBackend | undefined): Promise<KernelBackend> {
  if (backend === undefined || backend === 'cpu') return cpu();
  if (typeof backend === 'object') return backend;
  if (backend === 'webgpu') {
    const mod = await importOptional('@shadowkv/kernels-webgpu', 'webgpu');
    return (mod.webgpu as () => Promise<KernelBackend>)();
  }
  if (backend === 'gpujs') {
    const mod = await importOptional('@shadowkv/kernels-gpujs', 'gpujs');
    return (mod.gpujs as () => Promise<KernelBackend>)();
  }
  throw new InvalidOptionError('backend', `unknown backend "${String(backend)}"; use one of ${BACKEND_NAMES.join(', ')}`);
}
