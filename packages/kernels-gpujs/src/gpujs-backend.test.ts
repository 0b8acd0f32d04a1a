// Behaviour of the gpu.js backend beyond op-by-op conformance: option errors, kernel reuse across decode
// steps and shapes, blocked attention for long prefills, and tensor ownership. Runs in gpu.js's cpu mode
// (available wherever gpu.js is installed; the kernels and the caching logic are the same in every mode).
import { compareOutputs, makeRopeSpec, SeededRng } from '@shadowkv/backend-conformance';
import { BackendUnavailableError, InvalidOptionError, ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { gpujs, probeGpujs, type GpujsMode } from './gpujs.js';
import { importGpujs } from './load-gpujs.js';

const probe = await probeGpujs('cpu');

describe.skipIf(!probe.ok)(`gpujs backend (cpu mode)${probe.ok ? '' : ` — skipped: ${probe.reason}`}`, () => {
  it('rejects unknown modes and reports modes that cannot run here', async () => {
    await expect(gpujs({ mode: 'webgpu' as GpujsMode })).rejects.toThrow(InvalidOptionError);
    await expect(gpujs({ mode: 'cpu', attentionScoreBudget: 0 })).rejects.toThrow(/attentionScoreBudget/);
    // No browser in Node: gpu.js has no WebGL 1 context to offer.
    const err = await gpujs({ mode: 'webgl' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/mode "webgl"/);
  });

  it('runs a decode loop without compiling new kernels after the first step, matching the cpu backend', async () => {
    const be = await gpujs({ mode: 'cpu' });
    const ref = cpu();
    const rng = new SeededRng(7);
    const nHeads = 8, nKv = 2, d = 64, cap = 40;
    const rope = makeRopeSpec(d);
    const pair = (b: KernelBackend, data: Float32Array | Int32Array, shape: number[]) => b.upload(data, shape);
    const caches = [be, ref].map((b) => ({ b, k: b.zeros([nKv, cap, d]), v: b.zeros([nKv, cap, d]) }));
    let compiledAfterFirst = 0;
    const outs: Tensor[] = [];
    for (let t = 0; t < 12; t++) {
      const q = rng.normals(nHeads * d);
      const k = rng.normals(nKv * d);
      const v = rng.normals(nKv * d);
      outs.length = 0;
      for (const c of caches) {
        const pos = pair(c.b, new Int32Array([t]), [1]);
        c.b.writeKv(c.k, c.b.rope(pair(c.b, k, [1, nKv * d]), pos, nKv, rope), t);
        c.b.writeKv(c.v, pair(c.b, v, [1, nKv * d]), t);
        const qr = c.b.rope(pair(c.b, q, [1, nHeads * d]), pos, nHeads, rope);
        outs.push(c.b.attention(qr, c.k, c.v, { nHeads, nKvHeads: nKv, headDim: d, kvLen: t + 1, causal: false, queryOffset: 0, scale: 1 / Math.sqrt(d) }));
      }
      if (t === 0) compiledAfterFirst = be.compiledKernels;
    }
    // kvLen, positions and the write row changed every step; all of them are uniforms.
    expect(be.compiledKernels).toBe(compiledAfterFirst);
    const [got, want] = [await be.read(outs[0]), await ref.read(outs[1])];
    compareOutputs('decode step 12', got, want, [1, nHeads * d], { kind: 'reduction', length: 12 + d }, 'f32');
    be.destroy();
  });

  it('compiles per shape by default, and per loop bucket with specializeShapes: false', async () => {
    const rng = new SeededRng(3);
    const counts: number[][] = [];
    for (const specializeShapes of [true, false]) {
      const be = await gpujs({ mode: 'cpu', specializeShapes });
      const run = (m: number, k: number, n: number) => be.matmul(be.upload(rng.normals(m * k), [m, k]), be.upload(rng.normals(n * k), [n, k]));
      const seen: number[] = [];
      run(3, 100, 7);
      seen.push(be.compiledKernels);
      run(1, 120, 50); // k = 100 and 120 both loop to 128; m and n only size the output
      run(9, 65, 3);
      seen.push(be.compiledKernels);
      run(2, 129, 4); // k = 129 needs the 256 bucket
      seen.push(be.compiledKernels);
      counts.push(seen);
      be.destroy();
    }
    // Specialized: every new shape compiles its uploads and its matmul. Dynamic: only the new bucket does.
    expect(counts[0][1]).toBeGreaterThan(counts[0][0]);
    expect(counts[1]).toEqual([counts[1][0], counts[1][0], counts[1][0] + 1]);
  });

  it('computes long prefills in blocks of query rows when the score buffer is capped', async () => {
    // A budget of 200 elements over nHeads * capacity = 4 * 48 = 192 gives one query row per block.
    const be = await gpujs({ mode: 'cpu', attentionScoreBudget: 200 });
    const ref = cpu();
    const rng = new SeededRng(11);
    const nHeads = 4, nKv = 2, d = 64, cap = 48, m = 7, offset = 30;
    const data = [rng.normals(m * nHeads * d), rng.normals(nKv * cap * d), rng.normals(nKv * cap * d)];
    const p = { nHeads, nKvHeads: nKv, headDim: d, kvLen: offset + m, causal: true, queryOffset: offset, scale: 1 / Math.sqrt(d) };
    const shapes = [[m, nHeads * d], [nKv, cap, d], [nKv, cap, d]];
    const run = async (b: KernelBackend) => {
      const [q, k, v] = data.map((x, i) => b.upload(x, shapes[i]));
      return b.read(b.attention(q, k, v, p));
    };
    compareOutputs('blocked causal prefill', await run(be), await run(ref), shapes[0], { kind: 'reduction', length: offset + m + d }, 'f32');
    be.destroy();
  });

  it('selects top-k by counting for short rows and by bitonic sort for long ones, identically', async () => {
    const be = await gpujs({ mode: 'cpu' });
    const ref = cpu();
    const rng = new SeededRng(5);
    for (const [rows, n, k] of [[3, 13, 5], [2, 64, 64], [4, 100, 1], [1, 9, 0]]) {
      // Few distinct values: ties across the k-th boundary must go to the lower index in both methods.
      const data = Float32Array.from(rng.ints(rows * n, 0, 6), (v) => v * 0.5);
      const want = await ref.read(ref.topK(ref.upload(data, [rows, n]), k));
      for (const countingMaxN of [1024, 8]) {
        be.topKCountingMaxN = countingMaxN;
        const got = await be.read(be.topK(be.upload(data, [rows, n]), k));
        compareOutputs(`topK rows=${rows} n=${n} k=${k} countingMaxN=${countingMaxN}`, got, want, [rows, k], { kind: 'exact' }, 'f32');
      }
    }
    be.destroy();
  });

  it('reduces long softmax rows in blocks (the path KCache scores over many tokens take)', async () => {
    const be = await gpujs({ mode: 'cpu' });
    const ref = cpu();
    const rng = new SeededRng(9);
    const [rows, n] = [3, 20001]; // above STATS_SINGLE_PASS_MAX, with a partial last block
    const data = rng.normals(rows * n, 4);
    data[5] = -Infinity;
    const got = await be.read(be.softmax(be.upload(data, [rows, n])));
    const want = await ref.read(ref.softmax(ref.upload(data, [rows, n])));
    compareOutputs('softmax [3, 20001]', got, want, [rows, n], { kind: 'reduction', length: n }, 'f32');
    be.destroy();
  });

  it('rejects tensors of another gpujs backend instance', async () => {
    const a = await gpujs({ mode: 'cpu' });
    const b = await gpujs({ mode: 'cpu' });
    const x = a.upload(new Float32Array(4), [2, 2]);
    expect(() => b.add(x, x)).toThrow(ShapeError);
    expect(a.mode).toBe('cpu');
    expect(a.capabilities.dtypes).toEqual(['f32', 'i32']);
    a.destroy();
    b.destroy();
  });
});

describe('loading gpu.js', () => {
  it('turns a missing gpu.js into BackendUnavailableError with the install command', async () => {
    const err = await importGpujs('gpu.js-not-installed-here').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/npm install gpu\.js@2\.24\.1/);
    // A module without a GPU class is rejected the same way.
    await expect(importGpujs('node:path')).rejects.toThrow(/does not export a GPU class/);
  });
});
