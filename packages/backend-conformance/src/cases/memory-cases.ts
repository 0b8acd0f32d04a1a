// Conformance of the memory ops: upload/read/zeros round trips, copies on upload, tensor metadata, dispose, sync.
import type { KernelBackend, Tensor } from '@shadowkv/core';
import { compareOutputs } from '../compare-outputs.js';
import type { CaseContext, ConformanceCase } from '../conformance-case.js';
import { ConformanceMismatchError } from '../conformance-mismatch-error.js';
import { roundArrayToF16 } from '../f16-round.js';

/** Largest |i32| every backend must round-trip: ids, positions and indices stay far below it, and 2^24 is exact in f32 storage. */
export const I32_SAFE_RANGE = 2 ** 24;

function expectMeta(label: string, backend: KernelBackend, t: Tensor, shape: number[], dtypes: string[]): void {
  if (t.backend !== backend.name) throw new ConformanceMismatchError(`${label}: tensor.backend is "${t.backend}", expected "${backend.name}"`);
  if (t.shape.join(',') !== shape.join(',')) throw new ConformanceMismatchError(`${label}: tensor.shape is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  if (!dtypes.includes(t.dtype)) throw new ConformanceMismatchError(`${label}: tensor.dtype is ${t.dtype}, expected ${dtypes.join(' or ')}`);
}

async function readAs(label: string, backend: KernelBackend, t: Tensor, int: boolean): Promise<Float32Array | Int32Array> {
  const got = await backend.read(t);
  if (int !== got instanceof Int32Array || (!int && !(got instanceof Float32Array))) {
    throw new ConformanceMismatchError(`${label}: read() returned ${got.constructor.name} for a ${t.dtype} tensor`);
  }
  return got;
}

function floatRoundTrip(shape: number[]): ConformanceCase {
  const name = `float round trip [${shape.join(', ')}]`;
  return {
    op: 'read',
    name,
    async check({ backend, dtype, rng }: CaseContext) {
      const label = `upload/read ${name} (${dtype})`;
      const n = shape.reduce((a, b) => a * b, 1);
      const raw = rng.normals(n, 100);
      // Values across many binades, signed zero and small magnitudes as well as ordinary ones.
      if (n > 3) {
        raw[0] = -0;
        raw[1] = 1e-3;
        raw[2] = -65000;
      }
      const data = dtype === 'f16' ? roundArrayToF16(raw) : raw;
      const t = backend.upload(data, shape, dtype);
      try {
        expectMeta(label, backend, t, shape, [dtype]);
        compareOutputs(label, await readAs(label, backend, t, false), data, shape, { kind: 'exact' }, dtype);
      } finally {
        backend.dispose(t);
      }
    },
  };
}

function intRoundTrip(shape: number[]): ConformanceCase {
  const name = `i32 round trip [${shape.join(', ')}]`;
  return {
    op: 'upload',
    name,
    async check({ backend, dtype, rng }: CaseContext) {
      const label = `upload/read ${name}`;
      const n = shape.reduce((a, b) => a * b, 1);
      const data = rng.ints(n, -I32_SAFE_RANGE, I32_SAFE_RANGE);
      const edges = [0, -1, 1, I32_SAFE_RANGE, -I32_SAFE_RANGE, 131071];
      for (let i = 0; i < Math.min(n, edges.length); i++) data[i] = edges[i];
      const t = backend.upload(data, shape, 'i32');
      try {
        expectMeta(label, backend, t, shape, ['i32']);
        compareOutputs(label, await readAs(label, backend, t, true), data, shape, { kind: 'exact' }, dtype);
      } finally {
        backend.dispose(t);
      }
    },
  };
}

function zerosCase(shape: number[], int: boolean): ConformanceCase {
  const name = `zeros ${int ? 'i32' : 'float'} [${shape.join(', ')}]`;
  return {
    op: 'zeros',
    name,
    async check({ backend, dtype }: CaseContext) {
      const label = `zeros ${name} (${dtype})`;
      const dt = int ? 'i32' : dtype;
      const t = backend.zeros(shape, dt);
      try {
        expectMeta(label, backend, t, shape, [dt]);
        const n = shape.reduce((a, b) => a * b, 1);
        const want = int ? new Int32Array(n) : new Float32Array(n);
        compareOutputs(label, await readAs(label, backend, t, int), want, shape, { kind: 'exact' }, dtype);
      } finally {
        backend.dispose(t);
      }
    },
  };
}

const uploadCopies: ConformanceCase = {
  op: 'upload',
  name: 'upload copies the host array and the shape',
  async check({ backend, dtype }: CaseContext) {
    const label = `upload copies (${dtype})`;
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const shape = [2, 3];
    const t = backend.upload(data, shape, dtype);
    try {
      data.fill(-7);
      shape[0] = 99;
      await backend.sync();
      expectMeta(label, backend, t, [2, 3], [dtype]);
      compareOutputs(label, await readAs(label, backend, t, false), new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], { kind: 'exact' }, dtype);
    } finally {
      backend.dispose(t);
    }
  },
};

const defaultDtypes: ConformanceCase = {
  op: 'upload',
  name: 'dtype defaults: Int32Array uploads as i32, zeros() is f32',
  async check({ backend }: CaseContext) {
    const ints = backend.upload(new Int32Array([3, -4]), [2]);
    const zeros = backend.zeros([4]);
    try {
      expectMeta('upload(Int32Array) without dtype', backend, ints, [2], ['i32']);
      expectMeta('zeros() without dtype', backend, zeros, [4], ['f32']);
      compareOutputs('upload(Int32Array) without dtype', await readAs('upload', backend, ints, true), new Int32Array([3, -4]), [2], { kind: 'exact' }, 'f32');
    } finally {
      backend.dispose(ints);
      backend.dispose(zeros);
    }
  },
};

const disposeIsolated: ConformanceCase = {
  op: 'dispose',
  name: 'dispose frees one tensor and leaves the others readable; sync resolves',
  async check({ backend, dtype, rng }: CaseContext) {
    const label = `dispose (${dtype})`;
    const a = rng.normals(300);
    const data = dtype === 'f16' ? roundArrayToF16(a) : a;
    const keep = backend.upload(data, [300], dtype);
    const drop = backend.upload(data, [300], dtype);
    try {
      const sum = backend.add(keep, drop);
      backend.dispose(drop);
      backend.dispose(sum);
      await backend.sync();
      compareOutputs(label, await readAs(label, backend, keep, false), data, [300], { kind: 'exact' }, dtype);
    } finally {
      backend.dispose(keep);
    }
  },
};

const syncAfterWork: ConformanceCase = {
  op: 'sync',
  name: 'sync resolves after a chain of queued ops, whose result is then complete',
  async check({ backend, reference, dtype, rng }: CaseContext) {
    const label = `sync (${dtype})`;
    const raw = rng.normals(64 * 64, 0.125);
    const data = dtype === 'f16' ? roundArrayToF16(raw) : raw;
    const x = backend.upload(data, [64, 64], dtype);
    const owned: Tensor[] = [x];
    const refX = reference.upload(data, [64, 64], 'f32');
    let t = x;
    let r = refX;
    // Eight dependent ops: a backend that resolves sync() before its queue drains returns stale data.
    for (let i = 0; i < 8; i++) {
      t = backend.matmul(t, x);
      owned.push(t);
      r = reference.matmul(r, refX);
    }
    try {
      await backend.sync();
      compareOutputs(label, await readAs(label, backend, t, false), await reference.read(r), [64, 64], { kind: 'reduction', length: 8 * 64 }, dtype);
    } finally {
      for (const o of owned) backend.dispose(o);
    }
  },
};

/** Memory-op cases. f16 runs use `dtype` for float tensors; i32 cases are the same in every run. */
export function memoryCases(): ConformanceCase[] {
  return [
    floatRoundTrip([1]),
    floatRoundTrip([7]),
    floatRoundTrip([3, 65]),
    floatRoundTrip([2, 3, 257]),
    intRoundTrip([1]),
    intRoundTrip([4, 300]),
    zerosCase([1], false),
    zerosCase([3, 129], false),
    zerosCase([2, 5, 7], true),
    uploadCopies,
    defaultDtypes,
    disposeIsolated,
    syncAfterWork,
  ];
}
