import { BackendUnavailableError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { hostF32, hostI32, hostStorage } from './host-storage.js';

describe('hostStorage', () => {
  it("returns the cpu tensor's own array, so writes land in the tensor", async () => {
    const backend = cpu();
    const t = backend.zeros([2, 3]);
    hostF32(backend, t)[4] = 7;
    expect((await backend.read(t))[4]).toBe(7);
    expect(hostI32(backend, backend.zeros([1], 'i32'))).toBeInstanceOf(Int32Array);
    expect(() => hostI32(backend, t)).toThrow(/expected an i32/);
  });

  it('refuses backends without host-visible tensors, or whose readSync copies', () => {
    const base = cpu();
    const t = base.zeros([1]);
    // Stand-ins for other backends: only the property hostStorage probes differs from the real cpu backend.
    const noSync = { name: 'webgpu' } as unknown as KernelBackend;
    expect(() => hostStorage(noSync, t)).toThrow(BackendUnavailableError);
    expect(() => hostStorage(noSync, t)).toThrow(/backend "webgpu".*readSync/);
    const copying = { name: 'copying', readSync: (x: Tensor) => base.readSync(x).slice() } as unknown as KernelBackend;
    expect(() => hostStorage(copying, t)).toThrow(/returns copies/);
  });
});
