import { describe, expect, it } from 'vitest';
import type { AttentionParams, RopeSpec } from './backend.js';
import { ShapeError } from './errors.js';
import type { DType, Shape, Tensor } from './tensor.js';
import { validateOpArgs as v } from './validate-op-args.js';

// The checks read only shape and dtype, so plain Tensor records stand in for any backend's tensors.
const t = (shape: Shape, dtype: DType = 'f32'): Tensor => ({ shape, dtype, backend: 'test' });
const ids = (shape: Shape): Tensor => t(shape, 'i32');
const rope64: RopeSpec = { headDim: 64, invFreq: new Float32Array(32), attentionScaling: 1 };
const backend = { name: 'test', capabilities: { dtypes: ['f32', 'i32'] as const, weightDtypes: ['f32'] as const, maxTensorBytes: 1 << 20 } };
const attn = (over: Partial<AttentionParams> = {}): AttentionParams => ({
  nHeads: 4, nKvHeads: 2, headDim: 64, kvLen: 10, causal: true, queryOffset: 0, scale: 0.125, ...over,
});

/** Expects a ShapeError whose message starts with the op and matches `text`. */
function rejects(call: () => unknown, op: string, text: RegExp): void {
  let thrown: unknown;
  try {
    call();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${op}: expected a ShapeError matching ${text}`).toBeInstanceOf(ShapeError);
  const message = (thrown as Error).message;
  expect(message.startsWith(`${op}: `), message).toBe(true);
  expect(message).toMatch(text);
}

describe('validateOpArgs', () => {
  it('returns the sizes that valid arguments imply', () => {
    expect(v.embedding(t([100, 16]), ids([3]))).toEqual({ vocab: 100, hidden: 16, m: 3 });
    expect(v.matmul(t([2, 5]), t([7, 5]))).toEqual({ m: 2, k: 5, n: 7 });
    expect(v.rmsNorm(t([3, 8]), t([8]))).toEqual({ m: 3, d: 8 });
    expect(v.rope(t([2, 128]), ids([2]), 2, rope64)).toEqual({ m: 2, headDim: 64 });
    expect(v.softmax(t([2, 3, 5]))).toEqual({ rows: 6, n: 5 });
    expect(v.softmax(t([4, 0]))).toEqual({ rows: 4, n: 0 });
    expect(v.softmax(t([]))).toEqual({ rows: 1, n: 1 });
    expect(v.writeKv(t([2, 16, 64]), t([3, 128]), 13)).toEqual({ nKvHeads: 2, capacity: 16, headDim: 64, m: 3 });
    expect(v.writeRows(t([10, 96]), t([4, 96]), 6)).toEqual({ rows: 10, n: 96, m: 4 });
    expect(v.attention(t([1, 256]), t([2, 10, 64]), t([2, 10, 64]), attn())).toEqual({ m: 1, capacity: 10, group: 2 });
    expect(v.gatherChunks(t([2, 16, 64]), ids([2, 3]), 4)).toEqual({ nKvHeads: 2, rows: 16, headDim: 64, nSel: 3 });
    expect(v.scatterChunks(t([2, 16, 64]), t([2, 12, 64]), ids([2, 3]), 4)).toEqual({ nKvHeads: 2, rows: 16, headDim: 64, nSel: 3 });
    expect(v.rebuildKeys(t([40, 8]), t([2, 8, 64]), ids([2, 3]), 8, -5, rope64)).toEqual({ seqLen: 40, rank: 8, nKvHeads: 2, headDim: 64, nSel: 3 });
    expect(v.landmarkScores(t([1, 256]), t([2, 9, 64]), 4)).toEqual({ nKvHeads: 2, nChunks: 9, headDim: 64, group: 2 });
    expect(v.topK(t([2, 5]), 5)).toEqual({ rows: 2, n: 5 });
    expect(() => v.upload(backend, new Int32Array(6), [2, 3], 'i32')).not.toThrow();
    expect(() => v.elementwise('add', t([2, 3]), t([2, 3]))).not.toThrow();
    expect(() => v.tokenIds(Int32Array.from([0, 99]), 100)).not.toThrow();
    expect(() => v.chunkIds('gatherChunks', Int32Array.from([0, 3, 1, 2]), 2, 4, 17, 'src')).not.toThrow();
  });

  it('rejects memory calls the backend cannot hold, naming the value and what to use', () => {
    rejects(() => v.upload(backend, new Float32Array(5), [2, 3], 'f32'), 'upload', /data has 5 elements, shape \[2, 3\] needs 6/);
    rejects(() => v.upload(backend, new Float32Array(6), [2, 3], 'f16'), 'upload', /the test backend stores f32 and i32 tensors only, not f16; use f32/);
    rejects(() => v.upload(backend, new Float32Array(6), [2, 3], 'i32'), 'upload', /dtype i32 does not match Float32Array/);
    rejects(() => v.dtype('zeros', backend, 'f16'), 'zeros', /not f16/);
    rejects(() => v.upload(backend, new Uint16Array(6), [2, 3], 'bf16'), 'upload', /stores f32 and i32 tensors only, not bf16/);
  });

  it('takes 16-bit weights (raw Uint16Array bits) only where the backend lists them in weightDtypes', () => {
    const wide = { name: 'wide', capabilities: { ...backend.capabilities, weightDtypes: ['f32', 'f16', 'bf16'] as const } };
    expect(() => v.upload(wide, new Uint16Array(6), [2, 3], 'bf16')).not.toThrow();
    expect(() => v.upload(wide, new Uint16Array(6), [2, 3], 'f16')).not.toThrow();
    rejects(() => v.upload(wide, new Uint16Array(6), [2, 3], 'f32'), 'upload', /Uint16Array holds raw 16-bit float bits and needs dtype f16 or bf16, not f32/);
    rejects(() => v.upload(wide, new Uint16Array(6), [2, 3], 'i32'), 'upload', /dtype i32 does not match Uint16Array/);
    rejects(() => v.dtype('zeros', wide, 'bf16'), 'zeros', /not bf16/);
    expect(v.matmul(t([2, 5]), t([7, 5], 'bf16'), wide.capabilities.weightDtypes)).toEqual({ m: 2, k: 5, n: 7 });
    expect(v.embedding(t([100, 16], 'f16'), ids([3]), wide.capabilities.weightDtypes)).toEqual({ vocab: 100, hidden: 16, m: 3 });
    rejects(() => v.matmul(t([2, 5]), t([7, 5], 'bf16')), 'matmul', /w has dtype bf16, expected f32/);
    rejects(() => v.matmul(t([2, 5], 'bf16'), t([7, 5], 'bf16'), wide.capabilities.weightDtypes), 'matmul', /x has dtype bf16, expected f32/);
    rejects(() => v.embedding(t([10, 4], 'bf16'), ids([3]), ['f32', 'f16']), 'embedding', /table has dtype bf16, expected f32 or f16/);
    rejects(() => v.embedding(t([10, 4], 'i32'), ids([3]), wide.capabilities.weightDtypes), 'embedding', /table has dtype i32/);
  });

  it('rejects dense-op calls that break the contract', () => {
    rejects(() => v.embedding(t([10, 4]), t([3])), 'embedding', /ids has dtype f32, expected i32/);
    rejects(() => v.tokenIds(Int32Array.from([1, 4]), 4), 'embedding', /token id 4 at index 1 is outside the vocabulary \[0, 4\)/);
    rejects(() => v.matmul(t([2, 5]), t([3, 4])), 'matmul', /w has shape \[3, 4\], expected \[\*, 5\]/);
    rejects(() => v.matmul(t([10]), t([3, 10])), 'matmul', /x has shape \[10\]/);
    rejects(() => v.rmsNorm(t([2, 8]), t([9])), 'rmsNorm', /w has shape \[9\], expected \[8\]/);
    rejects(() => v.elementwise('add', t([2, 3]), t([3, 2])), 'add', /shapes differ: \[2, 3\] vs \[3, 2\]/);
    rejects(() => v.elementwise('swiglu', t([4]), t([4], 'i32')), 'swiglu', /b has dtype i32/);
    rejects(() => v.rope(t([2, 100]), ids([2]), 2, rope64), 'rope', /x has shape \[2, 100\], expected \[\*, 128\]/);
    rejects(() => v.rope(t([2, 128]), ids([3]), 2, rope64), 'rope', /positions has shape \[3\], expected \[2\]/);
    rejects(() => v.softmax(t([2, 3], 'i32')), 'softmax', /x has dtype i32/);
    rejects(() => v.topK(t([2, 5]), 6), 'topK', /k = 6 must be an integer in \[0, 5\]/);
    rejects(() => v.topK(t([2, 5]), 1.5), 'topK', /k = 1.5/);
  });

  it('rejects KV and attention calls that break the contract', () => {
    rejects(() => v.writeKv(t([2, 16, 64]), t([4, 128]), 13), 'writeKv', /rows 13..17 exceed the cache capacity 16/);
    rejects(() => v.writeKv(t([2, 16, 64]), t([1, 64]), 0), 'writeKv', /x has shape \[1, 64\], expected \[\*, 128\]/);
    rejects(() => v.writeKv(t([2, 16, 64]), t([1, 128]), -1), 'writeKv', /start -1 must be an integer >= 0/);
    rejects(() => v.writeKv(t([2, 16, 64]), t([1, 128]), 0.5), 'writeKv', /start 0.5/);
    rejects(() => v.writeRows(t([10, 96]), t([4, 96]), 7), 'writeRows', /rows 7..11 exceed dst's 10 rows/);
    rejects(() => v.writeRows(t([10, 96]), t([4, 64]), 0), 'writeRows', /src has shape \[4, 64\], expected \[\*, 96\]/);
    rejects(() => v.writeRows(t([2, 10, 96]), t([4, 96]), 0), 'writeRows', /dst/);
    rejects(() => v.writeRows(t([10, 96]), t([4, 96]), -1), 'writeRows', /start -1 must be an integer >= 0/);
    const q = t([1, 256]);
    const kv = t([2, 10, 64]);
    rejects(() => v.attention(q, kv, kv, attn({ kvLen: 11 })), 'attention', /kvLen 11 exceeds the 10 rows of k/);
    rejects(() => v.attention(q, kv, kv, attn({ kvLen: 2.5 })), 'attention', /kvLen 2.5 must be a non-negative integer/);
    rejects(() => v.attention(t([1, 192]), kv, kv, attn({ nHeads: 3 })), 'attention', /nHeads 3 is not a multiple of nKvHeads 2/);
    rejects(() => v.attention(q, kv, kv, attn({ nKvHeads: 0 })), 'attention', /nKvHeads 0 \(AttentionParams\) must be a positive integer/);
    rejects(() => v.attention(t([1, 100]), kv, kv, attn()), 'attention', /q has shape \[1, 100\]/);
    rejects(() => v.attention(q, kv, t([2, 9, 64]), attn({ kvLen: 9 })), 'attention', /shapes differ/);
    rejects(() => v.attention(q, kv, kv, attn({ queryOffset: 0.5 })), 'attention', /queryOffset 0.5 must be an integer/);
    expect(() => v.attention(q, kv, kv, attn({ causal: false, queryOffset: 0.5 }))).not.toThrow(); // unused without the mask
  });

  it('rejects sparse-op calls that break the contract', () => {
    rejects(() => v.gatherChunks(t([2, 16, 64]), ids([3, 1]), 8), 'gatherChunks', /idx has shape \[3, 1\], expected \[2, \*\]/);
    rejects(() => v.gatherChunks(t([2, 16, 64]), ids([2, 1]), 0), 'gatherChunks', /chunkSize 0 must be a positive integer/);
    rejects(() => v.scatterChunks(t([2, 16, 64]), t([2, 7, 64]), ids([2, 1]), 8), 'scatterChunks', /src has shape \[2, 7, 64\], expected \[2, 8, 64\]/);
    rejects(() => v.rebuildKeys(t([16, 8]), t([2, 7, 64]), ids([2, 1]), 8, 0, rope64), 'rebuildKeys', /b has shape \[2, 7, 64\], expected \[\*, 8, 64\]/);
    rejects(() => v.rebuildKeys(t([16, 8]), t([2, 8, 64]), ids([2, 1]), 8, 0.5, rope64), 'rebuildKeys', /positionOffset 0.5 must be an integer/);
    rejects(() => v.landmarkScores(t([100]), t([2, 5, 64]), 2), 'landmarkScores', /q has 100 elements, expected nHeads\*headDim = 128/);
    rejects(() => v.landmarkScores(t([192]), t([2, 5, 64]), 3), 'landmarkScores', /nHeads 3 is not a multiple of nKvHeads 2/);
    rejects(() => v.landmarkScores(t([0]), t([0, 5, 64]), 0), 'landmarkScores', /nKvHeads 0 \(dim 0 of landmarks\)/);
    // 17 rows hold 4 whole chunks of 4: id 4 would read rows 16..20.
    rejects(() => v.chunkIds('gatherChunks', Int32Array.from([0, 3, 4, 1]), 2, 4, 17, 'src'), 'gatherChunks', /chunk id 4 at idx\[1, 0\] \(rows 16..20\) is outside \[0, 4\): src holds 17 rows/);
    rejects(() => v.chunkIds('rebuildKeys', Int32Array.from([-1]), 1, 8, 40, 'a'), 'rebuildKeys', /chunk id -1 at idx\[0, 0\]/);
  });
});
