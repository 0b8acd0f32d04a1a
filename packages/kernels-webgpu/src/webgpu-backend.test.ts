// Backend behaviour beyond op values: typed errors like the CPU reference's, queue ordering and batching,
// deferred disposal, and that decode steps compile no new pipelines.
import { InvalidOptionError, ShapeError, type RopeSpec } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { expectExact } from './test-utils/error-bounds.js';
import { Rng } from './test-utils/seeded-rng.js';
import { probeWebGpu } from './test-utils/webgpu-probe.js';
import { webgpu } from './webgpu.js';

const probe = await probeWebGpu();
const gpu = probe.backend!;
afterAll(() => probe.backend?.destroy());

const rope: RopeSpec = { headDim: 64, attentionScaling: 1, invFreq: Float32Array.from({ length: 32 }, (_, i) => 10000 ** (-i / 32)) };

describe.skipIf(!probe.backend)('webgpu backend behaviour', () => {
  it('describes itself', () => {
    expect(gpu.name).toBe('webgpu');
    expect(gpu.capabilities.dtypes).toEqual(['f32', 'i32']);
    expect(gpu.capabilities.maxTensorBytes).toBeGreaterThanOrEqual(2 ** 28);
    expect(typeof gpu.f16).toBe('boolean');
    expect(gpu.adapterName.length).toBeGreaterThan(0);
  });

  it('rejects bad calls with ShapeErrors that name the op and the value', () => {
    const table = gpu.upload(new Float32Array(12), [4, 3]);
    expect(() => gpu.embedding(table, gpu.upload(Int32Array.from([1, 4]), [2]))).toThrow(/embedding: token id 4 at index 1 is outside the vocabulary \[0, 4\)/);
    const src = gpu.zeros([2, 16, 8]);
    expect(() => gpu.gatherChunks(src, gpu.upload(Int32Array.from([0, 2]), [2, 1]), 8)).toThrow(/gatherChunks: chunk id 2 at idx\[1, 0\] \(rows 16..24\) is outside \[0, 2\): src holds 16 rows/);
    const a = gpu.zeros([10, 4]);
    const b = gpu.zeros([1, 4, 64]);
    expect(() => gpu.rebuildKeys(a, b, gpu.upload(Int32Array.from([1]), [1, 1]), 8, 0, rope)).toThrow(/rebuildKeys: chunk id 1 at idx\[0, 0\] \(rows 8..16\) is outside \[0, 1\): a holds 10 rows/);
    expect(() => gpu.matmul(gpu.zeros([2, 3]), gpu.zeros([4, 5]))).toThrow(ShapeError);
    expect(() => gpu.topK(gpu.zeros([2, 3]), 4)).toThrow(/k = 4 must be an integer in \[0, 3\]/);
    expect(() => gpu.writeKv(gpu.zeros([2, 5, 8]), gpu.zeros([2, 16]), 4)).toThrow(/rows 4..6 exceed the cache capacity 5/);
    expect(() => gpu.upload(new Float32Array(3), [2, 2])).toThrow(/data has 3 elements/);
    // f16 is a weight dtype (matmul w, embedding table) only: a 16-bit activation is refused.
    expect(() => gpu.rmsNorm(gpu.upload(new Float32Array(4), [1, 4]), gpu.upload(new Float32Array(4), [4], 'f16'), 1e-5)).toThrow(/rmsNorm: w has dtype f16, expected f32/);
    expect(() => gpu.zeros([4], 'f16')).toThrow(/zeros: .* not f16/);
    expect(() => gpu.rebuildKeys(a, b, gpu.upload(Int32Array.from([0]), [1, 1]), 8, 2 ** 30, rope)).toThrow(/rebuildKeys: positionOffset 1073741824 is too far out/);
  });

  it('refuses tensors of another backend and disposed tensors', () => {
    const foreign = cpu().upload(new Float32Array(4), [2, 2]);
    expect(() => gpu.add(foreign, foreign)).toThrow(/add: a is a tensor of backend "cpu"/);
    const t = gpu.zeros([2, 2]);
    gpu.dispose(t);
    expect(() => gpu.add(t, t)).toThrow(/a was disposed/);
  });

  it('gathers zeros for and scatters nothing to GPU-computed chunk ids outside the tensor', async () => {
    // topK output has no host copy, so the ids reach the WGSL chunkRow unchecked: head 0 picks id 4,
    // past the 2 whole chunks of 8 rows; head 1 picks id 0.
    const idx = gpu.topK(gpu.upload(Float32Array.from([0, 0, 0, 0, 9, 9, 0, 0, 0, 0]), [2, 5]), 1);
    const src = Float32Array.from({ length: 2 * 16 * 4 }, (_, i) => i + 1);
    const gathered = (await gpu.read(gpu.gatherChunks(gpu.upload(src, [2, 16, 4]), idx, 8))) as Float32Array;
    expect(Array.from(gathered.subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(Array.from(gathered.subarray(32))).toEqual(Array.from(src.subarray(64, 96))); // head 1, rows 0..8
    const dst = gpu.upload(src, [2, 16, 4]);
    gpu.scatterChunks(dst, gpu.upload(new Float32Array(2 * 8 * 4).fill(-1), [2, 8, 4]), idx, 8);
    const want = src.slice();
    want.fill(-1, 64, 96); // only head 1's chunk 0 changes
    expect(Array.from((await gpu.read(dst)) as Float32Array)).toEqual(Array.from(want));
  });

  it('keeps queue order: in-place writes, reads of disposed inputs, and more dispatches than one batch', async () => {
    const rng = new Rng(31);
    const x = rng.floats(64);
    // Dispose every intermediate right after use: the buffers must live until the queued work ran.
    let acc = gpu.upload(x, [64]);
    const one = gpu.upload(new Float32Array(64).fill(1), [64]);
    for (let i = 0; i < 1500; i++) {
      const next = gpu.add(acc, one);
      gpu.dispose(acc);
      acc = next;
    }
    const got = (await gpu.read(acc)) as Float32Array;
    const want = x.map((v) => {
      let s = v;
      for (let i = 0; i < 1500; i++) s = Math.fround(s + 1);
      return s;
    });
    expectExact('1500 chained adds', got, want);

    const cache = gpu.zeros([1, 4, 2]);
    gpu.writeKv(cache, gpu.upload(Float32Array.from([1, 2]), [1, 2]), 0);
    const before = gpu.gatherChunks(cache, gpu.upload(Int32Array.from([0]), [1, 1]), 4);
    gpu.writeKv(cache, gpu.upload(Float32Array.from([3, 4]), [1, 2]), 0);
    expectExact('copy taken before the second write', await gpu.read(before), [1, 2, 0, 0, 0, 0, 0, 0]);
    expectExact('cache after both writes', await gpu.read(cache), [3, 4, 0, 0, 0, 0, 0, 0]);
    await gpu.sync();
  });

  it('decode steps reuse compiled pipelines (per-step sizes live in uniforms)', async () => {
    const rng = new Rng(32);
    const [nHeads, nKv, d, cap, hidden] = [4, 2, 64, 64, 96];
    const kCache = gpu.zeros([nKv, cap, d]);
    const vCache = gpu.zeros([nKv, cap, d]);
    const wq = gpu.upload(rng.floats(nHeads * d * hidden), [nHeads * d, hidden]);
    const wk = gpu.upload(rng.floats(nKv * d * hidden), [nKv * d, hidden]);
    const step = async (pos: number): Promise<void> => {
      const x = gpu.upload(rng.floats(hidden), [1, hidden]);
      const positions = gpu.upload(Int32Array.from([pos]), [1]);
      const q = gpu.rope(gpu.matmul(x, wq), positions, nHeads, rope);
      const k = gpu.rope(gpu.matmul(x, wk), positions, nKv, rope);
      gpu.writeKv(kCache, k, pos);
      gpu.writeKv(vCache, k, pos);
      const o = gpu.attention(q, kCache, vCache, { nHeads, nKvHeads: nKv, headDim: d, kvLen: pos + 1, causal: true, queryOffset: pos, scale: 0.125 });
      const s = gpu.landmarkScores(o, kCache, nHeads, 0.125);
      gpu.topK(s, Math.min(3, pos + 1));
      await gpu.sync();
    };
    await step(0);
    const compiled = gpu.pipelineCount;
    for (const pos of [1, 2, 30, 63]) await step(pos);
    expect(gpu.pipelineCount).toBe(compiled);
  });

  it('validates maxBindingBytes', async () => {
    await expect(webgpu({ maxBindingBytes: 100 })).rejects.toThrow(InvalidOptionError);
  });
});
