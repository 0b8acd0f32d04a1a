// Direct access to a tensor's host memory on backends that keep tensors in host arrays (the CPU backend).
import { BackendUnavailableError, type KernelBackend, type Tensor } from '@shadowkv/core';

type HostVisible = { readSync(t: Tensor): Float32Array | Int32Array };

/**
 * The array that stores `t`, for backends whose tensors live in host memory and that expose it through
 * `readSync` (the CPU backend does). Offloading caches need it twice per decode step: to learn which chunks
 * were selected (the value store and the hit bookkeeping are on the host) and to copy only the missed chunks
 * into the fast-side buffer in place. KernelBackend has no synchronous read and no per-head in-place chunk
 * copy yet, so other backends are refused with a clear error instead of silently copying whole buffers.
 */
export function hostStorage(backend: KernelBackend, t: Tensor): Float32Array | Int32Array {
  const readSync = (backend as Partial<HostVisible>).readSync;
  if (typeof readSync !== 'function') {
    throw new BackendUnavailableError(
      backend.name,
      'offloaded KV caches (shadowkv, kcache) need host-visible tensors (a synchronous readSync), which this backend does not offer; use the cpu backend for these policies, or the dense policy',
    );
  }
  const data = readSync.call(backend, t);
  // A copy would make in-place writes vanish; the same array twice means it is the tensor's storage.
  if (data !== readSync.call(backend, t)) {
    throw new BackendUnavailableError(backend.name, 'readSync returns copies, so the offloaded caches cannot write chunks in place; use the cpu backend or the dense policy');
  }
  return data;
}

/** hostStorage for f32 tensors. */
export function hostF32(backend: KernelBackend, t: Tensor): Float32Array {
  const a = hostStorage(backend, t);
  if (!(a instanceof Float32Array)) throw new TypeError(`expected an f32 tensor, got ${t.dtype}`);
  return a;
}

/** hostStorage for i32 tensors. */
export function hostI32(backend: KernelBackend, t: Tensor): Int32Array {
  const a = hostStorage(backend, t);
  if (!(a instanceof Int32Array)) throw new TypeError(`expected an i32 tensor, got ${t.dtype}`);
  return a;
}
