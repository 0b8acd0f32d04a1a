// Test helper: creates the WebGPU backend if an adapter exists, else returns why not (tests then skip).
import { BackendUnavailableError } from '@shadowkv/core';
import type { WebGpuBackend } from '../webgpu-backend.js';
import { webgpu, type WebGpuOptions } from '../webgpu.js';

export type Probe = { backend: WebGpuBackend; skip?: undefined } | { backend?: undefined; skip: string };

/** One backend per call; prints the reason when there is no adapter. */
export async function probeWebGpu(opts: WebGpuOptions = {}): Promise<Probe> {
  try {
    return { backend: await webgpu(opts) };
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    console.warn(`[kernels-webgpu] skipping GPU tests: ${e.message}`);
    return { skip: e.message };
  }
}
