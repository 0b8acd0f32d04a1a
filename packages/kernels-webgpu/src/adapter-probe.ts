// Finds the WebGPU adapter webgpu() would use and says whether it is a real GPU or a software rasteriser
// (lavapipe/llvmpipe, SwiftShader, WARP): `backend: 'auto'` takes WebGPU only for real GPUs, because software
// adapters run the kernels far slower than the CPU backends.
import type { WebGpuEntry } from './public-gpu-types.js';

/** What the probe saw: the adapter's identity and, when it is not a usable real GPU, why. */
export interface AdapterProbe {
  /** An adapter was found. */
  found: boolean;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter says it is a fallback (software) adapter (GPUAdapterInfo.isFallbackAdapter or the older adapter field). */
  isFallbackAdapter: boolean;
  /** Why this is not a real GPU (no adapter, fallback flag, a known software renderer), or null for a real GPU. */
  notRealGpu: string | null;
}

type InfoLike = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };

/** Software renderers by the names they report (vendor, architecture, device, description, lower-cased). */
const SOFTWARE_NAMES: readonly [RegExp, string][] = [
  [/llvmpipe|lavapipe/, 'Mesa llvmpipe/lavapipe (software Vulkan on the CPU)'],
  [/swiftshader/, 'SwiftShader (software Vulkan on the CPU)'],
  [/microsoft basic render|\bwarp\b/, 'Microsoft WARP (software Direct3D)'],
  [/softpipe/, 'Mesa softpipe (software)'],
];

/**
 * Why an adapter with this info is not a real GPU, or null when it is one. Checks the fallback flag, the
 * architecture Mesa reports for CPU drivers ("software") and the names of known software renderers.
 */
export function softwareAdapterReason(info: InfoLike, adapterFallback = false): string | null {
  const label = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ') || 'unnamed adapter';
  if (info.isFallbackAdapter || adapterFallback) return `the WebGPU adapter (${label}) is a fallback (software) adapter`;
  const names = [info.vendor, info.architecture, info.device, info.description].join(' ').toLowerCase();
  for (const [re, what] of SOFTWARE_NAMES) if (re.test(names)) return `the WebGPU adapter (${label}) is ${what}`;
  if ((info.architecture ?? '').toLowerCase() === 'software') return `the WebGPU adapter (${label}) reports a software architecture`;
  return null;
}

/**
 * Asks for the adapter webgpu() would use (the injected `gpu`, navigator.gpu, or Dawn in Node with the same
 * process-wide instance) and classifies it. Never throws for a missing binding or adapter: `found` is false
 * and `notRealGpu` says why.
 */
export async function probeWebGpuAdapter(opts: { gpu?: WebGpuEntry; dawnOptions?: string[] } = {}): Promise<AdapterProbe> {
  const none = (why: string): AdapterProbe => ({
    found: false, vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false, notRealGpu: why,
  });
  let gpu = (opts.gpu as GPU | undefined) ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    if (typeof process === 'undefined' || !process.versions?.node) return none('navigator.gpu is missing (no WebGPU in this browser)');
    try {
      const { loadNodeGpu } = await import('./node-gpu.js');
      gpu = (await loadNodeGpu(opts.dawnOptions)).gpu;
    } catch (err) {
      return none(`the Dawn binding (npm package "webgpu") failed to load: ${String(err)}`);
    }
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return none(`requestAdapter failed: ${String(err)}`);
  }
  if (!adapter) return none('no WebGPU adapter was found');
  const info = (adapter.info ?? {}) as InfoLike;
  const adapterFallback = Boolean((adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return {
    found: true,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter) || adapterFallback,
    notRealGpu: softwareAdapterReason(info, adapterFallback),
  };
}
