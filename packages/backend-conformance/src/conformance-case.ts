// The shape of one conformance case and the context it runs in.
import type { KernelBackend, Tensor } from '@shadowkv/core';
import type { CpuBackend } from '@shadowkv/kernels-cpu';
import type { SeededRng } from './seeded-rng.js';
import type { Tolerance } from './tolerances.js';

/** Float storage dtypes a run of the suite can use for every float tensor. */
export type FloatDType = 'f32' | 'f16';

/** The ops of KernelBackend that cases are filed under. */
export type OpName = Exclude<keyof KernelBackend, 'name' | 'capabilities' | 'counters'>;

/** Host data of one input: a Float32Array takes the run's float dtype, an Int32Array is uploaded as i32. */
export interface HostTensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** What a case runs in: the backend under test, the reference, the float dtype and the case's own RNG. */
export interface CaseContext {
  backend: KernelBackend;
  reference: CpuBackend;
  dtype: FloatDType;
  /** Seeded from the case name and the suite seed: the same case always sees the same data. */
  rng: SeededRng;
  /** Marks the case skipped (e.g. a tensor larger than the backend's maxTensorBytes); does not return. */
  skip?: (reason: string) => never;
  /** A fresh backend of the kind under test, for cases marked `ownBackend` (they may destroy it). */
  createBackend?: () => Promise<KernelBackend>;
}

/** One named check of one op. */
export interface ConformanceCase {
  op: OpName;
  /** Unique within the op; names carry the shapes so a failure says what to reproduce. */
  name: string;
  /** Only run with `long: true` (big shapes). */
  long?: boolean;
  /** Needs a backend of its own (from CaseContext.createBackend), e.g. because it destroys it; runs after the rest. */
  ownBackend?: boolean;
  /** Throws (ConformanceMismatchError, or whatever the backend threw) when the backend does not conform. */
  check(ctx: CaseContext): Promise<void>;
}

/** The data and the call of a case that is compared against the reference. */
export interface ReferenceCaseBody {
  inputs: HostTensor[];
  /** Calls the op; returns its output, or nothing for in-place ops (then inputs[0] is compared). */
  run(backend: KernelBackend, inputs: Tensor[]): Tensor | void;
  tolerance: Tolerance;
}
