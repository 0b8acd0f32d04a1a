// A stand-in for the native CUDA context in host-side tests: hands out fake addresses and records every call,
// so that tests can check which checks run before anything reaches the GPU. It computes nothing; numerical
// behaviour is tested only against a real device (cuda.conformance.test.ts).
import type { NativeContext, NativeDeviceInfo } from './native-binding.js';

/** Native methods that launch kernels (as opposed to memory, stream and lifetime management). */
export const KERNEL_METHODS = [
  'add', 'swiglu', 'convert', 'rmsNorm', 'softmax', 'rope', 'embedding', 'writeKv', 'gatherChunks', 'scatterChunks',
  'attention', 'landmarkScores', 'topK', 'rebuildKeys', 'matmul',
] as const;

export interface NativeDouble {
  native: NativeContext;
  calls: { method: string; args: unknown[] }[];
  /** Makes the next call of `method` throw like the addon does on a CUDA error. */
  failNext(method: string, message: string): void;
  kernelCalls(): string[];
}

export function nativeDouble(): NativeDouble {
  const calls: { method: string; args: unknown[] }[] = [];
  const failures = new Map<string, string>();
  let next = 0x7f0000000000;
  let events = 0;
  const info: NativeDeviceInfo = { name: 'test double', computeCapability: '9.0', multiprocessors: 132, totalMemory: 80e9, cublas: '', cublasVersion: 0 };
  const results: Record<string, (...args: unknown[]) => unknown> = {
    info: () => info,
    malloc: () => (next += 0x10000),
    hostAlloc: () => (next += 0x10000),
    free: () => true,
    freeHost: () => true,
    recordEvent: () => events++,
  };
  const native = new Proxy({} as NativeContext, {
    get(_t, method: string) {
      return (...args: unknown[]) => {
        calls.push({ method, args });
        const fail = failures.get(method);
        if (fail !== undefined) {
          failures.delete(method);
          throw Object.assign(new Error(fail), { code: 'CUDA_ERROR' });
        }
        return results[method]?.(...args);
      };
    },
  });
  return {
    native,
    calls,
    failNext: (method, message) => failures.set(method, message),
    kernelCalls: () => calls.map((c) => c.method).filter((m) => (KERNEL_METHODS as readonly string[]).includes(m)),
  };
}
