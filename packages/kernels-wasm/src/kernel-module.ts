// Compiles the committed kernel binaries (src/generated/kernel-binaries.ts, built from assembly/ by
// scripts/build-kernels.mjs) once per variant; importing the package never needs a compiler or a file read.
import { KERNELS_SINGLE_WASM, KERNELS_THREADS_WASM } from './generated/kernel-binaries.js';

/** Export names in a fixed order: workers are told which kernel to run by index into this list. */
export const KERNEL_NAMES = [
  'gemv', 'gemm', 'attention', 'add', 'swiglu', 'rmsNorm', 'softmaxRows', 'rope', 'embedding',
  'writeKv', 'copyChunks', 'rebuildKeys', 'landmarkScores', 'topK', 'gemvAdd', 'gemvSwiglu', 'interleaveRows4',
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** Scratch-size queries exported next to the kernels. */
export interface ScratchQueries {
  gemmScratchBytes(): number;
  gemvScratchBytes(k: number): number;
  attentionScratchBytes(kvLen: number): number;
  landmarkScratchBytes(nChunks: number): number;
  topKScratchBytes(n: number): number;
}

export type KernelVariant = 'threads' | 'single';

const compiled = new Map<KernelVariant, Promise<WebAssembly.Module>>();

function decode(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The compiled module: 'threads' imports a shared memory, 'single' an unshared one. */
export function kernelModule(variant: KernelVariant): Promise<WebAssembly.Module> {
  let m = compiled.get(variant);
  if (!m) {
    m = WebAssembly.compile(decode(variant === 'threads' ? KERNELS_THREADS_WASM : KERNELS_SINGLE_WASM) as BufferSource);
    compiled.set(variant, m);
  }
  return m;
}
