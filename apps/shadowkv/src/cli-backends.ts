// The CLI's imports of the optional backend packages, written out literally so that the bundle the CLI runs
// from (scripts/shadowkv.mjs, from the sources) carries them; the library itself imports them by name at run
// time. Called by cli.ts only. A package that is not installed still fails when used, with the usual message.
// (`as string`: esbuild drops the assertion and follows the literal, while tsc does not type-check those two
// packages here: kernels-webgpu needs the WebGPU type declarations, which the app does not load.)
import { registerBackendLoader } from './backends.js';

/** Registers the literal imports (an explicit call: the app is side-effect free, so a bare import would be dropped). */
export function registerCliBackends(): void {
  registerBackendLoader('@shadowkv/kernels-wasm', () => import('@shadowkv/kernels-wasm'));
  registerBackendLoader('@shadowkv/kernels-webgpu', () => import('@shadowkv/kernels-webgpu' as string));
  registerBackendLoader('@shadowkv/kernels-gpujs', () => import('@shadowkv/kernels-gpujs' as string));
}
