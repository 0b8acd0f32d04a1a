// Says whether the cuda backend can run here, and if not which of addon, driver or device is missing and what
// to do. Cheap: loads the addon, dlopens libcuda.so.1 and asks cudaGetDeviceCount; creates no context.
import { BUILD_COMMAND, loadAddon } from './load-addon.js';

export type CudaMissing = 'addon' | 'driver' | 'device';

export interface CudaProbe {
  available: boolean;
  /** What is missing when not available. */
  missing?: CudaMissing;
  /** One sentence: what is missing and what to do (or what was found). */
  reason: string;
  deviceCount: number;
  addonPath?: string;
  /** CUDA runtime version linked into the addon (e.g. 13000), when the addon loaded. */
  runtimeVersion?: number;
  driverVersion?: number;
}

export function probeCuda(): CudaProbe {
  const load = loadAddon();
  if (!load.addon) {
    return {
      available: false,
      missing: 'addon',
      deviceCount: 0,
      reason: `the CUDA addon is not built: ${load.error}; run \`${BUILD_COMMAND}\` on a machine with nvcc (CUDA 13), or set SHADOWKV_CUDA_ADDON to a built ${'shadowkv_cuda.node'}`,
    };
  }
  const p = load.addon.probe();
  const base = { addonPath: load.path, runtimeVersion: p.runtimeVersion, driverVersion: p.driverVersion };
  if (!p.driver) {
    return {
      ...base,
      available: false,
      missing: 'driver',
      deviceCount: 0,
      reason: `no CUDA driver: libcuda.so.1 could not be loaded (${p.driverError ?? 'not found'}); install the NVIDIA driver (CUDA 13 needs 580 or newer) on a machine with an NVIDIA GPU`,
    };
  }
  if (p.deviceCount === 0) {
    const why = p.errorName ? `${p.errorName}: ${p.error}` : 'no devices';
    return {
      ...base,
      available: false,
      missing: 'device',
      deviceCount: 0,
      reason: `no CUDA device: cudaGetDeviceCount reported ${why}; check nvidia-smi, CUDA_VISIBLE_DEVICES and that the driver supports CUDA ${Math.floor(p.runtimeVersion / 1000)}.${(p.runtimeVersion % 1000) / 10}`,
    };
  }
  return { ...base, available: true, deviceCount: p.deviceCount, reason: `${p.deviceCount} CUDA device(s), addon ${load.path}` };
}
