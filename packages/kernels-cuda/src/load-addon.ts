// Finds and loads the compiled addon on first use (never at import), so that importing the package works on
// machines without a GPU, a driver or a build. Loading needs no driver: the CUDA runtime is linked statically
// and only dlopens libcuda.so.1 at the first CUDA call.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './native-binding.js';

export const ADDON_FILE = 'shadowkv_cuda.node';
export const BUILD_COMMAND = 'pnpm --filter @shadowkv/kernels-cuda build:addon';

export type AddonLoad = { addon: NativeAddon; path: string } | { addon: undefined; error: string; tried: string[] };

let cached: AddonLoad | undefined;

/**
 * Places the addon may be: $SHADOWKV_CUDA_ADDON alone when set (an explicit choice is never second-guessed),
 * else the package's native/build/Release, then next to this module (a bundle carries it beside itself).
 */
export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  if (process.env.SHADOWKV_CUDA_ADDON) return [resolve(process.env.SHADOWKV_CUDA_ADDON)];
  const out: string[] = [];
  out.push(join(here, '..', 'native', 'build', 'Release', ADDON_FILE), join(here, ADDON_FILE));
  return out;
}

/** Loads the addon once per process; the result (or why it failed) is cached. */
export function loadAddon(): AddonLoad {
  if (cached) return cached;
  const tried = addonCandidates();
  const require = createRequire(import.meta.url);
  for (const path of tried) {
    if (!existsSync(path)) continue;
    try {
      cached = { addon: require(path) as NativeAddon, path };
      return cached;
    } catch (e) {
      cached = { addon: undefined, error: `${path} exists but failed to load: ${(e as Error).message}`, tried };
      return cached;
    }
  }
  cached = { addon: undefined, error: `${ADDON_FILE} was not found (looked in ${tried.join(', ')})`, tried };
  return cached;
}
