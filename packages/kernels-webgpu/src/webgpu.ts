// The webgpu() factory: finds a GPU (injected, navigator.gpu, or Dawn in Node), checks the adapter's
// limits and returns a WebGpuBackend. In browsers nothing Node-specific is loaded.
import { BackendUnavailableError, InvalidOptionError } from '@shadowkv/core';
import type { WebGpuEntry, WebGpuPowerPreference } from './public-gpu-types.js';
import { WebGpuBackend } from './webgpu-backend.js';

export interface WebGpuOptions {
  /** A GPU to use (navigator.gpu, or a Dawn instance you keep alive yourself). Default: navigator.gpu, else Dawn in Node. */
  gpu?: WebGpuEntry;
  powerPreference?: WebGpuPowerPreference;
  /** Node only: options passed to the `webgpu` package's create(), e.g. ['backend=vulkan']. */
  dawnOptions?: string[];
  /**
   * Bind at most this many bytes per storage binding (default: the adapter's maxStorageBufferBindingSize).
   * Lowering it exercises the row-range splitting that large weights need, on small tensors.
   */
  maxBindingBytes?: number;
  /**
   * Testing aid: fill every reused arena buffer with NaN before an op gets it, so a kernel that leaves part
   * of its output unwritten (relying on fresh buffers being zero) fails loudly. Costs an upload per reuse.
   */
  poisonReusedBuffers?: boolean;
  /** Use the adapter's subgroups feature when it has one (default true); false takes the workgroup-memory reductions. */
  subgroups?: boolean;
}

/** Storage buffers one kernel binds at most (rebuildKeys: a, b, idx, rope table, out). */
const STORAGE_BUFFERS_NEEDED = 5;
/** Workgroup memory the kernels use at most (attention tiles). */
const WORKGROUP_BYTES_NEEDED = 16384;
/** Invocations per workgroup the kernels use at most. */
const INVOCATIONS_NEEDED = 256;

const SETUP_HINT =
  'On Debian 12 without a GPU, install the software adapter with `pnpm setup:webgpu` (scripts/setup-webgpu.sh); in a browser, use one with WebGPU enabled.';

/** Creates the WebGPU backend. Throws BackendUnavailableError when no usable adapter exists. */
export async function webgpu(opts: WebGpuOptions = {}): Promise<WebGpuBackend> {
  let gpu = (opts.gpu as GPU | undefined) ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  let keepAlive: unknown;
  let driverNote = '';
  if (!gpu) {
    if (typeof process === 'undefined' || !process.versions?.node) {
      throw new BackendUnavailableError('webgpu', `navigator.gpu is missing. ${SETUP_HINT}`);
    }
    const { loadNodeGpu } = await import('./node-gpu.js');
    try {
      const node = await loadNodeGpu(opts.dawnOptions);
      gpu = node.gpu;
      keepAlive = node.gpu;
      if (node.lavapipeIcd) {
        driverNote = ` (the lavapipe driver ${node.lavapipeIcd} was added to Vulkan's drivers but gave no adapter; rerun scripts/setup-webgpu.sh --force)`;
      } else if (node.userDriverEnv.length > 0) {
        driverNote = ` (Vulkan drivers chosen by ${node.userDriverEnv.join(', ')}; unset them to use the lavapipe install)`;
      }
    } catch (cause) {
      throw new BackendUnavailableError('webgpu', `the Dawn binding (npm package "webgpu") failed to load: ${String(cause)}`, { cause });
    }
  }
  const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  if (!adapter) {
    throw new BackendUnavailableError('webgpu', `no WebGPU adapter was found${driverNote}. ${SETUP_HINT}`);
  }
  const l = adapter.limits;
  const short: string[] = [];
  if (l.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS_NEEDED) short.push(`maxStorageBuffersPerShaderStage ${l.maxStorageBuffersPerShaderStage} < ${STORAGE_BUFFERS_NEEDED}`);
  if (l.maxComputeWorkgroupStorageSize < WORKGROUP_BYTES_NEEDED) short.push(`maxComputeWorkgroupStorageSize ${l.maxComputeWorkgroupStorageSize} < ${WORKGROUP_BYTES_NEEDED}`);
  if (l.maxComputeInvocationsPerWorkgroup < INVOCATIONS_NEEDED) short.push(`maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup} < ${INVOCATIONS_NEEDED}`);
  if (short.length > 0) throw new BackendUnavailableError('webgpu', `the adapter's limits are too small: ${short.join('; ')}. Use another adapter.`);
  const maxBindingBytes = opts.maxBindingBytes ?? l.maxStorageBufferBindingSize;
  if (!Number.isInteger(maxBindingBytes) || maxBindingBytes < 1024 || maxBindingBytes > l.maxStorageBufferBindingSize || maxBindingBytes % 4 !== 0) {
    throw new InvalidOptionError('maxBindingBytes', `${maxBindingBytes} must be a multiple of 4 in [1024, ${l.maxStorageBufferBindingSize}] (this adapter's maxStorageBufferBindingSize)`);
  }
  const f16 = adapter.features.has('shader-f16');
  // Subgroups let the GEMV reduce a dot product without workgroup memory; SHADOWKV_WEBGPU_NO_SUBGROUPS=1
  // (Node) turns them off to compare or to test the workgroup-memory path.
  const noSubgroups = typeof process !== 'undefined' && process.env?.SHADOWKV_WEBGPU_NO_SUBGROUPS === '1';
  const subgroups = adapter.features.has('subgroups' as GPUFeatureName) && !(opts.subgroups === false || noSubgroups);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      // timestamp-query: GPU time per decode step in the counters (see gpu-timer.ts).
      requiredFeatures: [
        ...(f16 ? ['shader-f16' as const] : []),
        ...(subgroups ? ['subgroups' as GPUFeatureName] : []),
        ...(adapter.features.has('timestamp-query') ? ['timestamp-query' as const] : []),
      ],
      requiredLimits: {
        maxBufferSize: l.maxBufferSize,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxStorageBuffersPerShaderStage: Math.max(STORAGE_BUFFERS_NEEDED, Math.min(l.maxStorageBuffersPerShaderStage, 8)),
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      },
    });
  } catch (cause) {
    throw new BackendUnavailableError('webgpu', `the adapter refused to create a device: ${String(cause)}`, { cause });
  }
  const info = adapter.info;
  const adapterName = [info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' / ') || 'unknown adapter';
  return new WebGpuBackend(device, { adapterName, maxBindingBytes, keepAlive, poisonReusedBuffers: opts.poisonReusedBuffers });
}
