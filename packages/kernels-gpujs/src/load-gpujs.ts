// Loads the optional `gpu.js` peer dependency lazily, so importing this package never requires it.
import { BackendUnavailableError } from '@shadowkv/core';

/** The few parts of gpu.js's API this package uses (gpu.js ships its own typings; these keep it optional). */
export interface GpujsKernel {
  (...args: unknown[]): unknown;
}

export interface GpujsInstance {
  /** The kernel class gpu.js chose for the mode (HeadlessGLKernel, WebGL2Kernel, WebAssemblyKernel, CPUKernel, …). */
  Kernel: { name: string; features?: { isFloatRead?: boolean; isTextureFloat?: boolean } } | null;
  createKernel(source: string, settings: Record<string, unknown>): GpujsKernel;
  destroy(): void;
}

export interface GpujsModule {
  GPU: new (settings: { mode?: string }) => GpujsInstance;
}

/** What to run to get the optional dependency. */
export const GPUJS_INSTALL_HINT =
  'install the optional peer dependency: `npm install gpu.js@2.24.1` (its optional `gl` dependency, needed for the ' +
  'headlessgl mode in Node, builds from source: run scripts/setup-gpujs.sh or `apt-get install build-essential python3 libxi-dev` first)';

let loaded: Promise<GpujsModule> | undefined;

/**
 * Imports gpu.js (or the module `specifier` names) and returns its GPU class; throws BackendUnavailableError
 * naming the install command when it is missing.
 */
export async function importGpujs(specifier = 'gpu.js'): Promise<GpujsModule> {
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (cause) {
    throw new BackendUnavailableError('gpujs', `${specifier} could not be imported (${(cause as Error).message ?? cause}); ${GPUJS_INSTALL_HINT}`, { cause });
  }
  // gpu.js is CommonJS: the class is a named export or a property of the default export.
  const m = mod as { GPU?: GpujsModule['GPU']; default?: { GPU?: GpujsModule['GPU'] } };
  const GPU = m.GPU ?? m.default?.GPU;
  if (!GPU) throw new BackendUnavailableError('gpujs', `${specifier} does not export a GPU class; ${GPUJS_INSTALL_HINT}`);
  return { GPU };
}

/** Imports gpu.js once per process (a failed import is retried on the next call). */
export function loadGpujs(): Promise<GpujsModule> {
  loaded ??= importGpujs().catch((e: unknown) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}
