// The factory: probes, then opens a context on the chosen device. Throws BackendUnavailableError naming what
// is missing (addon, driver, device, cuBLAS) and what to do; never fails at import time.
import { BackendUnavailableError, InvalidOptionError } from '@shadowkv/core';
import { CudaBackend } from './cuda-backend.js';
import { loadAddon } from './load-addon.js';
import { probeCuda } from './probe.js';

export interface CudaOptions {
  /** CUDA device index (default 0, or the first of CUDA_VISIBLE_DEVICES). */
  device?: number;
}

/** Creates the cuda backend on one GPU. */
export function cuda(options: CudaOptions = {}): CudaBackend {
  const device = options.device ?? 0;
  if (!Number.isInteger(device) || device < 0) throw new InvalidOptionError('device', `${device} must be a non-negative integer CUDA device index`);
  const probe = probeCuda();
  if (!probe.available) throw new BackendUnavailableError('cuda', probe.reason);
  if (device >= probe.deviceCount) {
    throw new InvalidOptionError('device', `device ${device} does not exist: this machine has ${probe.deviceCount} CUDA device(s), indices 0..${probe.deviceCount - 1}`);
  }
  const addon = loadAddon().addon!;
  let native;
  try {
    native = new addon.Context(device);
  } catch (e) {
    const err = e as Error & { code?: string };
    const what =
      err.code === 'CUBLAS_MISSING'
        ? `${err.message}\nset SHADOWKV_CUBLAS to libcublas.so.13 (CUDA 13 toolkit, or the nvidia-cublas Python wheel's nvidia/cu13/lib)`
        : `creating a CUDA context on device ${device} failed: ${err.message}`;
    throw new BackendUnavailableError('cuda', what, { cause: e });
  }
  return new CudaBackend(native);
}
