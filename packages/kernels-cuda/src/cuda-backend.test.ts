// Host-side behaviour of the cuda backend, on any machine: every argument check runs before a kernel is
// queued (the conformance suite's error cases, against a recording stand-in for the native context), a
// destroyed backend refuses everything, CUDA failures become CudaRuntimeError, 16-bit weights are routed to
// the native matmul with their dtype, and side-stream results are waited for exactly once.
import { conformanceCases, SeededRng } from '@shadowkv/backend-conformance';
import { BackendDestroyedError, ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { CudaBackend } from './cuda-backend.js';
import { CudaRuntimeError } from './cuda-runtime-error.js';
import { nativeDouble } from './native-double.test-support.js';

const rope = { headDim: 8, invFreq: new Float32Array([1, 0.1, 0.01, 0.001]), attentionScaling: 1 };

function setup() {
  const d = nativeDouble();
  return { ...d, be: new CudaBackend(d.native) };
}

describe('cuda backend: shape and dtype errors before any kernel (conformance error cases)', () => {
  const cases = conformanceCases({ long: false, seed: 1, randomPerOp: 0 }).filter((c) => c.name.startsWith('throws ShapeError'));
  it('the suite has error cases for every op family', () => {
    expect(cases.length).toBeGreaterThan(15);
  });
  for (const c of cases) {
    it(`${c.op}: ${c.name}`, async () => {
      const { be, kernelCalls } = setup();
      await c.check({
        backend: be,
        reference: cpu(),
        dtype: 'f32',
        rng: SeededRng.fromString(c.name, 1),
        skip: (reason) => {
          throw new Error(`unexpected skip: ${reason}`);
        },
      });
      expect(kernelCalls()).toEqual([]);
    });
  }
});

describe('cuda backend: its own host-side checks', () => {
  it('rejects tensors of another backend and of another cuda instance', () => {
    const { be } = setup();
    const other = setup().be;
    const mine = be.zeros([2, 2]);
    expect(() => be.add(mine, cpu().zeros([2, 2]))).toThrow(/tensor from backend "cpu" passed to this cuda backend/);
    expect(() => be.add(mine, other.zeros([2, 2]))).toThrow(/another cuda backend instance/);
  });

  it('rejects a disposed tensor, and dispose twice is harmless', () => {
    const { be, calls } = setup();
    const a = be.zeros([3]);
    be.dispose(a);
    be.dispose(a);
    expect(calls.filter((c) => c.method === 'free')).toHaveLength(1);
    expect(() => be.add(a, a)).toThrow(ShapeError);
    expect(() => be.add(a, a)).toThrow(/used after dispose/);
  });

  it('takes raw 16-bit uploads only as f16/bf16, and narrows f32 data to 16 bits on the device', () => {
    const { be, calls } = setup();
    expect(() => be.upload(new Uint16Array(4), [4])).toThrow(/Uint16Array holds raw 16-bit floats/);
    expect(() => be.upload(new Uint16Array(4), [4], 'f32')).toThrow(ShapeError);
    const raw = be.upload(new Uint16Array([0x3f80, 0, 0, 0]), [4], 'bf16');
    expect(raw.dtype).toBe('bf16');
    expect(calls.some((c) => c.method === 'convert')).toBe(false);
    be.upload(new Float32Array(4), [4], 'f16');
    const conv = calls.find((c) => c.method === 'convert');
    expect(conv?.args[1]).toBe(1); // to f16
    expect(conv?.args[3]).toBe(0); // from f32
  });

  it('matmul and embedding take f16/bf16 weights (dtype passed to the native op), never i32 ones', () => {
    const { be, calls } = setup();
    const x = be.zeros([3, 8]);
    const w = be.upload(new Uint16Array(5 * 8), [5, 8], 'bf16');
    const out = be.matmul(x, w);
    expect(out.shape).toEqual([3, 5]);
    expect(calls.find((c) => c.method === 'matmul')?.args.slice(3)).toEqual([2, 3, 8, 5]);
    const table = be.upload(new Uint16Array(10 * 4), [10, 4], 'f16');
    const ids = be.upload(new Int32Array([1, 2]), [2]);
    expect(be.embedding(table, ids).shape).toEqual([2, 4]);
    expect(calls.find((c) => c.method === 'embedding')?.args[2]).toBe(1);
    expect(() => be.matmul(x, be.zeros([5, 8], 'i32'))).toThrow(/takes f32, f16, bf16 weights/);
    // 16-bit activations are not a thing here: x must be f32.
    expect(() => be.matmul(be.zeros([3, 8], 'f16'), w)).toThrow(ShapeError);
  });

  it('attention rejects head dims above the kernels\' 256', () => {
    const { be, kernelCalls } = setup();
    const q = be.zeros([1, 512]);
    const kv = be.zeros([1, 4, 512]);
    const p = { nHeads: 1, nKvHeads: 1, headDim: 512, kvLen: 4, causal: false, queryOffset: 0, scale: 1 };
    expect(() => be.attention(q, kv, kv, p)).toThrow(/headDim 512 exceeds/);
    expect(kernelCalls()).toEqual([]);
  });

  it('a CUDA failure surfaces as CudaRuntimeError naming the op', () => {
    const { be, failNext } = setup();
    const a = be.zeros([4]);
    failNext('add', 'CUDA add: cudaErrorLaunchFailure: unspecified launch failure');
    let err: unknown;
    try {
      be.add(a, a);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CudaRuntimeError);
    expect((err as CudaRuntimeError).op).toBe('add');
    expect((err as Error).message).toMatch(/cuda backend, add: .*cudaErrorLaunchFailure/);
  });

  it('uploads the RoPE frequencies once per RopeSpec', () => {
    const { be, calls } = setup();
    const x = be.zeros([2, 16]);
    const pos = be.upload(new Int32Array([0, 1]), [2]);
    const uploadsBefore = calls.filter((c) => c.method === 'upload').length;
    be.rope(x, pos, 2, rope);
    be.rope(x, pos, 2, rope);
    expect(calls.filter((c) => c.method === 'upload').length - uploadsBefore).toBe(1);
  });
});

describe('cuda backend: destroy()', () => {
  it('passes the conformance suite\'s destroy case (host layer over the native stand-in)', async () => {
    const lifecycle = conformanceCases({ long: false, seed: 1, randomPerOp: 0 }).filter((c) => c.ownBackend);
    expect(lifecycle.map((c) => c.op)).toContain('destroy');
    for (const c of lifecycle) {
      const { be } = setup();
      await c.check({
        backend: be,
        reference: cpu(),
        dtype: 'f32',
        rng: SeededRng.fromString(c.name, 1),
        skip: (reason) => {
          throw new Error(`unexpected skip: ${reason}`);
        },
        createBackend: async () => setup().be,
      });
    }
  });

  const ops: [string, (be: KernelBackend, t: Tensor, i: Tensor) => unknown][] = [
    ['upload', (be) => be.upload(new Float32Array(4), [4])],
    ['zeros', (be) => be.zeros([4])],
    ['embedding', (be, t, i) => be.embedding(t, i)],
    ['matmul', (be, t) => be.matmul(t, t)],
    ['rmsNorm', (be, t) => be.rmsNorm(t, t, 1e-5)],
    ['add', (be, t) => be.add(t, t)],
    ['swiglu', (be, t) => be.swiglu(t, t)],
    ['rope', (be, t, i) => be.rope(t, i, 1, rope)],
    ['softmax', (be, t) => be.softmax(t)],
    ['writeKv', (be, t) => be.writeKv(t, t, 0)],
    ['attention', (be, t) => be.attention(t, t, t, { nHeads: 1, nKvHeads: 1, headDim: 8, kvLen: 1, causal: false, queryOffset: 0, scale: 1 })],
    ['gatherChunks', (be, t, i) => be.gatherChunks(t, i, 1)],
    ['scatterChunks', (be, t, i) => be.scatterChunks(t, t, i, 1)],
    ['rebuildKeys', (be, t, i) => be.rebuildKeys(t, t, i, 1, 0, rope)],
    ['landmarkScores', (be, t) => be.landmarkScores(t, t, 1, 1)],
    ['topK', (be, t) => be.topK(t, 1)],
  ];
  for (const [name, op] of ops) {
    it(`${name} throws BackendDestroyedError afterwards`, () => {
      const { be, kernelCalls } = setup();
      const t = be.zeros([8, 8]);
      const i = be.upload(new Int32Array([0]), [1]);
      be.destroy();
      expect(() => op(be, t, i)).toThrow(BackendDestroyedError);
      expect(kernelCalls()).toEqual([]);
    });
  }

  it('read rejects, dispose and destroy are idempotent, the native context is destroyed once', async () => {
    const { be, calls } = setup();
    const t = be.zeros([2]);
    be.destroy();
    be.destroy();
    be.dispose(t);
    await expect(be.read(t)).rejects.toBeInstanceOf(BackendDestroyedError);
    expect(() => be.sideStream(() => 0)).toThrow(BackendDestroyedError);
    expect(calls.filter((c) => c.method === 'destroy')).toHaveLength(1);
    expect(calls.filter((c) => c.method === 'free')).toHaveLength(0);
  });
});

describe('cuda backend: side stream ordering (host bookkeeping)', () => {
  it('runs the block on stream 1 after a fork; the main stream waits once, at the first use of a result', () => {
    const { be, calls } = setup();
    const a = be.zeros([4]);
    const b = be.zeros([4]);
    const sideOut = be.sideStream(() => be.add(a, b));
    const methods = calls.map((c) => c.method);
    const fork = methods.indexOf('fork');
    expect(methods.slice(fork, fork + 2)).toEqual(['fork', 'setStream']);
    expect(calls[fork + 1].args).toEqual([1]);
    const rec = methods.lastIndexOf('recordEvent');
    expect(methods.indexOf('add')).toBeGreaterThan(fork);
    expect(rec).toBeGreaterThan(methods.indexOf('add'));
    expect(calls[rec + 1]).toEqual({ method: 'setStream', args: [0] });
    const before = calls.length;
    be.add(a, b); // independent main-stream work: no wait
    expect(calls.slice(before).some((c) => c.method === 'waitEvent')).toBe(false);
    be.add(sideOut, a);
    be.add(sideOut, a);
    expect(calls.filter((c) => c.method === 'waitEvent')).toHaveLength(1);
    expect(() => be.sideStream(() => be.sideStream(() => 0))).toThrow(/do not nest/);
  });
});
