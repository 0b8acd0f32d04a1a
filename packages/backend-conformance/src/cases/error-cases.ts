// Error behaviour: calls whose shapes or dtypes break an op's contract must throw ShapeError from
// @shadowkv/core before any work is queued. Only host-visible facts (shapes, dtypes, scalar arguments)
// are checked; value errors such as out-of-range chunk ids would need a read-back and are not required.
import { ShapeError, type KernelBackend, type Tensor } from '@shadowkv/core';
import type { CaseContext, ConformanceCase, FloatDType, OpName } from '../conformance-case.js';
import { ConformanceMismatchError } from '../conformance-mismatch-error.js';
import { makeRopeSpec } from '../test-rope-spec.js';

interface ErrorCaseBody {
  /** Float inputs of the given shapes ('i32:' prefix for integer ones), uploaded before the call. */
  inputs: (number[] | { i32: number[] })[];
  call(backend: KernelBackend, inputs: Tensor[], dtype: FloatDType): unknown;
}

function errorCase(op: OpName, name: string, body: ErrorCaseBody): ConformanceCase {
  return {
    op,
    name: `throws ShapeError: ${name}`,
    async check({ backend, dtype }: CaseContext) {
      const inputs = body.inputs.map((s) =>
        Array.isArray(s)
          ? backend.upload(new Float32Array(s.reduce((a, b) => a * b, 1)), s, dtype)
          : backend.upload(new Int32Array(s.i32.reduce((a, b) => a * b, 1)), s.i32, 'i32'),
      );
      let thrown: unknown;
      let result: unknown;
      try {
        result = body.call(backend, inputs, dtype);
      } catch (e) {
        thrown = e;
      } finally {
        for (const t of inputs) backend.dispose(t);
      }
      if (thrown === undefined) {
        if (result && typeof result === 'object' && 'shape' in result) backend.dispose(result as Tensor);
        throw new ConformanceMismatchError(`${op} (${dtype}): ${name}: expected a ShapeError, but the call returned normally`);
      }
      if (!(thrown instanceof ShapeError)) {
        const what = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
        throw new ConformanceMismatchError(`${op} (${dtype}): ${name}: expected a ShapeError from @shadowkv/core, got ${what}`);
      }
    },
  };
}

const rope64 = makeRopeSpec(64);

function attentionParams(nHeads: number, nKvHeads: number, kvLen: number) {
  return { nHeads, nKvHeads, headDim: 64, kvLen, causal: false, queryOffset: 0, scale: 0.125 };
}

/** Every op's contract violations that a backend can see without reading data back. */
export function errorCases(): ConformanceCase[] {
  return [
    errorCase('upload', 'data length does not match the shape', {
      inputs: [],
      call: (be, _t, dtype) => be.upload(new Float32Array(5), [2, 3], dtype),
    }),
    errorCase('embedding', 'ids are not i32', { inputs: [[10, 4], [3]], call: (be, [table, ids]) => be.embedding(table, ids) }),
    errorCase('matmul', 'inner dimensions differ (x [2, 5], w [3, 4])', { inputs: [[2, 5], [3, 4]], call: (be, [x, w]) => be.matmul(x, w) }),
    errorCase('matmul', 'x is not 2-D', { inputs: [[10], [3, 10]], call: (be, [x, w]) => be.matmul(x, w) }),
    errorCase('rmsNorm', 'weight length differs from the row length', { inputs: [[2, 8], [9]], call: (be, [x, w]) => be.rmsNorm(x, w, 1e-5) }),
    errorCase('add', 'shapes differ ([2, 3] vs [3, 2])', { inputs: [[2, 3], [3, 2]], call: (be, [a, b]) => be.add(a, b) }),
    errorCase('swiglu', 'shapes differ ([4] vs [5])', { inputs: [[4], [5]], call: (be, [a, b]) => be.swiglu(a, b) }),
    errorCase('rope', 'row width is not nHeads*headDim', { inputs: [[2, 100], { i32: [2] }], call: (be, [x, p]) => be.rope(x, p, 2, rope64) }),
    errorCase('rope', 'positions length differs from the rows', { inputs: [[2, 128], { i32: [3] }], call: (be, [x, p]) => be.rope(x, p, 2, rope64) }),
    errorCase('writeKv', 'rows run past the capacity', { inputs: [[2, 16, 64], [4, 128]], call: (be, [c, x]) => be.writeKv(c, x, 13) }),
    errorCase('writeKv', 'row width is not nKvHeads*headDim', { inputs: [[2, 16, 64], [1, 64]], call: (be, [c, x]) => be.writeKv(c, x, 0) }),
    errorCase('attention', 'kvLen exceeds the rows of k', {
      inputs: [[1, 128], [2, 10, 64], [2, 10, 64]],
      call: (be, [q, k, v]) => be.attention(q, k, v, attentionParams(2, 2, 11)),
    }),
    errorCase('attention', 'nHeads is not a multiple of nKvHeads', {
      inputs: [[1, 192], [2, 10, 64], [2, 10, 64]],
      call: (be, [q, k, v]) => be.attention(q, k, v, attentionParams(3, 2, 10)),
    }),
    errorCase('attention', 'q width is not nHeads*headDim', {
      inputs: [[1, 100], [2, 10, 64], [2, 10, 64]],
      call: (be, [q, k, v]) => be.attention(q, k, v, attentionParams(2, 2, 10)),
    }),
    errorCase('attention', 'v shape differs from k', {
      inputs: [[1, 128], [2, 10, 64], [2, 9, 64]],
      call: (be, [q, k, v]) => be.attention(q, k, v, attentionParams(2, 2, 9)),
    }),
    errorCase('gatherChunks', 'idx rows differ from nKvHeads', {
      inputs: [[2, 16, 64], { i32: [3, 1] }],
      call: (be, [src, idx]) => be.gatherChunks(src, idx, 8),
    }),
    errorCase('scatterChunks', 'src rows are not nSel*chunkSize', {
      inputs: [[2, 16, 64], [2, 7, 64], { i32: [2, 1] }],
      call: (be, [dst, src, idx]) => be.scatterChunks(dst, src, idx, 8),
    }),
    errorCase('rebuildKeys', 'b rank differs from a', {
      inputs: [[16, 8], [2, 7, 64], { i32: [2, 1] }],
      call: (be, [a, b, idx]) => be.rebuildKeys(a, b, idx, 8, 0, rope64),
    }),
    errorCase('landmarkScores', 'q length is not nHeads*headDim', {
      inputs: [[100], [2, 5, 64]],
      call: (be, [q, lm]) => be.landmarkScores(q, lm, 2, 0.125),
    }),
    errorCase('topK', 'k is larger than the row', { inputs: [[2, 5]], call: (be, [x]) => be.topK(x, 6) }),
    errorCase('add', 'a tensor of another backend is passed in', {
      inputs: [[2, 2]],
      call: (be, [a], dtype) => be.add(a, { shape: [2, 2], dtype, backend: `not-${be.name}` }),
    }),
  ];
}
