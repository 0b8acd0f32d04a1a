// Builds cases that run one op on the backend under test and on the CPU reference with the same inputs,
// then compare outputs, and check that non-in-place ops left their inputs untouched.
import type { KernelBackend, Tensor } from '@shadowkv/core';
import { compareOutputs } from './compare-outputs.js';
import type { CaseContext, ConformanceCase, FloatDType, HostTensor, OpName, ReferenceCaseBody } from './conformance-case.js';
import { ConformanceMismatchError } from './conformance-mismatch-error.js';
import { roundArrayToF16 } from './f16-round.js';
import type { SeededRng } from './seeded-rng.js';

/** Ops that write into their first input instead of returning a new tensor. */
const IN_PLACE_OPS: ReadonlySet<OpName> = new Set<OpName>(['writeKv', 'scatterChunks', 'writeRows', 'rebuildKeysInto', 'copyChunkPairs']);

/** Float inputs as both backends will store them: rounded to f16 for f16 runs so the reference sees the same numbers. */
function hostData(h: HostTensor, dtype: FloatDType): Float32Array | Int32Array {
  if (h.data instanceof Int32Array) return h.data;
  return dtype === 'f16' ? roundArrayToF16(h.data) : h.data;
}

function uploadAll(backend: KernelBackend, inputs: HostTensor[], dtype: FloatDType, data: (Float32Array | Int32Array)[]): Tensor[] {
  return inputs.map((h, i) => (h.data instanceof Int32Array ? backend.upload(data[i], h.shape, 'i32') : backend.upload(data[i], h.shape, dtype)));
}

/** Runs `body` on both backends and compares. Exported for cases that need a custom flow around it. */
export async function checkAgainstReference(ctx: CaseContext, op: OpName, name: string, body: ReferenceCaseBody): Promise<void> {
  const { backend, reference, dtype } = ctx;
  const label = `${op} ${name} (${dtype})`;
  const data = body.inputs.map((h) => hostData(h, dtype));
  // The reference always stores floats as f32; f16 data was rounded above.
  const refInputs = body.inputs.map((h, i) => reference.upload(data[i], h.shape, h.data instanceof Int32Array ? 'i32' : 'f32'));
  const refOut = body.run(reference, refInputs) ?? refInputs[0];
  const want = await reference.read(refOut);
  // A tensor beyond the backend's declared capacity is not a conformance failure: skip and say so.
  const largest = Math.max(want.length, ...data.map((d) => d.length)) * (dtype === 'f16' ? 2 : 4);
  if (ctx.skip && largest > backend.capabilities.maxTensorBytes) {
    ctx.skip(`needs a ${largest}-byte tensor; ${backend.name} declares maxTensorBytes = ${backend.capabilities.maxTensorBytes}`);
  }

  const testInputs = uploadAll(backend, body.inputs, dtype, data);
  const owned: Tensor[] = [...testInputs];
  try {
    const produced = body.run(backend, testInputs);
    if (produced) owned.push(produced);
    const testOut = produced ?? testInputs[0];
    if (IN_PLACE_OPS.has(op) && produced) {
      throw new ConformanceMismatchError(`${label}: ${op} is in place and must return nothing`);
    }
    if (testOut.backend !== backend.name) {
      throw new ConformanceMismatchError(`${label}: output tensor says backend "${testOut.backend}", expected "${backend.name}"`);
    }
    const wantShape = refOut.shape.join(', ');
    if (testOut.shape.join(', ') !== wantShape) {
      throw new ConformanceMismatchError(`${label}: output shape [${testOut.shape.join(', ')}], expected [${wantShape}]`);
    }
    const isInt = refOut.dtype === 'i32';
    if (isInt ? testOut.dtype !== 'i32' : testOut.dtype !== 'f32' && testOut.dtype !== dtype) {
      throw new ConformanceMismatchError(`${label}: output dtype ${testOut.dtype}, expected ${isInt ? 'i32' : `f32 or ${dtype}`}`);
    }
    const got = await backend.read(testOut);
    if (isInt !== got instanceof Int32Array) {
      throw new ConformanceMismatchError(`${label}: read() returned ${got.constructor.name} for a ${testOut.dtype} tensor`);
    }
    compareOutputs(label, got, want, refOut.shape, body.tolerance, dtype);
    if (!IN_PLACE_OPS.has(op)) {
      for (let i = 0; i < testInputs.length; i++) {
        const after = await backend.read(testInputs[i]);
        compareOutputs(`${label}: input ${i} must not be modified, but`, after, data[i], body.inputs[i].shape, { kind: 'exact' }, dtype);
      }
    }
  } finally {
    for (const t of owned) backend.dispose(t);
  }
}

/** A case compared against the CPU reference; `build` draws its data from the case's seeded RNG. */
export function referenceCase(
  op: OpName,
  name: string,
  build: (rng: SeededRng) => ReferenceCaseBody,
  opts: { long?: boolean } = {},
): ConformanceCase {
  return {
    op,
    name,
    long: opts.long,
    check: (ctx) => checkAgainstReference(ctx, op, name, build(ctx.rng)),
  };
}
