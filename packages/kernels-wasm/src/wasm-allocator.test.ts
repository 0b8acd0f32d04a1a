// The allocator (free-list reuse, coalescing, growth) and the typed out-of-memory error of the backend.
import { ShadowKvError } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { WasmAllocator } from './wasm-allocator.js';
import { WasmOutOfMemoryError } from './wasm-memory-error.js';
import { wasm } from './wasm.js';

function memory(pages = 1, maximum = 1024): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum });
}

describe('WasmAllocator', () => {
  it('hands out disjoint 64-byte aligned blocks and grows the memory when the bump pointer passes its end', () => {
    const mem = memory(1);
    const a = new WasmAllocator(mem, 1024, 1024 * 65536);
    const p1 = a.alloc(100, 't1');
    const p2 = a.alloc(65536, 't2');
    expect(p1 % 64).toBe(0);
    expect(p2).toBeGreaterThanOrEqual(p1 + 128);
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(p2 + 65536);
    expect(a.bytesInUse).toBe(128 + 65536);
  });

  it('reuses freed blocks of the same size (a decode step does not grow memory) and coalesces neighbours', () => {
    const a = new WasmAllocator(memory(1), 1024, 1024 * 65536);
    const keep = a.alloc(1000, 'weights');
    for (let step = 0; step < 3; step++) {
      const tmp = [a.alloc(4096, 'x'), a.alloc(512, 'y'), a.alloc(4096, 'z')];
      for (const p of tmp) expect(p).toBeGreaterThan(keep);
      a.release(tmp[1], 512);
      a.release(tmp[0], 4096);
      a.release(tmp[2], 4096);
    }
    // Everything above `keep` went back to the bump pointer: no free blocks left, one allocation in use.
    expect(a.freeBlocks).toBe(0);
    expect(a.bytesInUse).toBe(1024);
    const x = a.alloc(64, 'a');
    const y = a.alloc(64, 'b');
    const z = a.alloc(64, 'c');
    a.alloc(64, 'guard');
    a.release(x, 64);
    a.release(z, 64);
    expect(a.freeBlocks).toBe(2);
    a.release(y, 64); // joins x and z into one block
    expect(a.freeBlocks).toBe(1);
    expect(a.alloc(192, 'fits the coalesced block')).toBe(x);
  });

  it('splits a larger free block (best fit) instead of growing', () => {
    const a = new WasmAllocator(memory(1), 1024, 1024 * 65536);
    const big = a.alloc(8192, 'big');
    a.alloc(64, 'guard');
    a.release(big, 8192);
    expect(a.alloc(1000, 'small')).toBe(big);
    expect(a.alloc(1000, 'small 2')).toBe(big + 1024);
  });

  it('keeps high-water marks of bytes held and of addresses used (holes below the bump pointer count in the latter)', () => {
    const a = new WasmAllocator(memory(1), 1024, 1024 * 65536);
    const x = a.alloc(4096, 'x');
    const y = a.alloc(8192, 'y');
    a.alloc(64, 'guard');
    a.release(y, 8192);
    a.release(x, 4096);
    expect(a.bytesInUse).toBe(64);
    expect(a.peakBytesInUse).toBe(4096 + 8192 + 64);
    expect(a.peakBytesAddressed).toBe(1024 + 4096 + 8192 + 64);
    a.resetPeaks();
    expect(a.peakBytesInUse).toBe(64);
    // A block that does not fit the hole (12 KiB, after the guard) raises the address peak by its size, not by the bytes held.
    a.alloc(16384, 'z');
    expect(a.peakBytesInUse).toBe(64 + 16384);
    expect(a.peakBytesAddressed).toBe(1024 + 4096 + 8192 + 64 + 16384);
  });

  it('throws WasmOutOfMemoryError with the bytes needed and what to do when the limit is passed', () => {
    const a = new WasmAllocator(memory(1), 1024, 4 * 65536);
    a.alloc(100_000, 'first');
    let err: unknown;
    try {
      a.alloc(300_000, 'a f32 tensor [75000]');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WasmOutOfMemoryError);
    expect(err).toBeInstanceOf(ShadowKvError);
    const e = err as WasmOutOfMemoryError;
    expect(e.code).toBe('WASM_OUT_OF_MEMORY');
    expect(e.bytesNeeded).toBe(300_000);
    expect(e.bytesInUse).toBe(100_032);
    expect(e.limitBytes).toBe(4 * 65536);
    expect(e.message).toMatch(/300000 bytes .*a f32 tensor \[75000\]/);
    expect(e.message).toMatch(/16 bits/);
    expect(e.message).toMatch(/ShadowKV/);
    expect(e.message).toMatch(/--backend/);
  });
});

describe('wasm backend memory limits', () => {
  it('a tensor larger than the memory ceiling throws WasmOutOfMemoryError, and the backend stays usable', async () => {
    const be = await wasm({ threads: 1, maxMemoryBytes: 64 * 65536 });
    try {
      expect(() => be.zeros([1024, 1024 * 2])).toThrow(WasmOutOfMemoryError); // 8 MiB > 4 MiB
      const t = be.upload(Float32Array.of(1, 2, 3), [3]);
      expect(Array.from((await be.read(t)) as Float32Array)).toEqual([1, 2, 3]);
    } finally {
      be.destroy();
    }
  });

  it('the default ceiling is 4 GiB (wasm32): a 5 GiB request names the bytes needed', async () => {
    const be = await wasm({ threads: 1 });
    try {
      let err: unknown;
      try {
        be.zeros([5 * 2 ** 28]); // 5 GiB of f32
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WasmOutOfMemoryError);
      expect((err as WasmOutOfMemoryError).bytesNeeded).toBe(5 * 2 ** 30);
      expect((err as WasmOutOfMemoryError).limitBytes).toBe(2 ** 32);
    } finally {
      be.destroy();
    }
  });

  it('dispose returns memory: a loop of allocate + dispose keeps bytesInUse flat', async () => {
    const be = await wasm({ threads: 1 });
    try {
      const w = be.upload(new Float32Array(256 * 256).fill(0.5), [256, 256]);
      // The first matmul allocates the kernel scratch the backend keeps for later calls (the GEMV's permuted x):
      // count from after it.
      be.dispose(be.matmul(be.upload(new Float32Array(256), [1, 256]), w));
      const before = be.memoryStats().bytesInUse;
      let reserved = 0;
      for (let step = 0; step < 20; step++) {
        const x = be.upload(new Float32Array(256).fill(1), [1, 256]);
        const y = be.matmul(x, w);
        const z = be.add(y, y);
        be.dispose(x);
        be.dispose(y);
        be.dispose(z);
        if (step === 1) reserved = be.memoryStats().bytesReserved;
      }
      expect(be.memoryStats().bytesInUse).toBe(before);
      expect(be.memoryStats().bytesReserved).toBe(reserved);
    } finally {
      be.destroy();
    }
  });
});
