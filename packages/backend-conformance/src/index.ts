// Public API of @shadowkv/backend-conformance (private to the workspace): the shared backend test suite.
export { describeBackendConformance } from './describe-backend-conformance.js';
export type { ConformanceOptions } from './describe-backend-conformance.js';
export { ALL_OPS, conformanceCases, DEFAULT_CONFORMANCE_SEED } from './conformance-cases.js';
export type { ConformanceCaseOptions } from './conformance-cases.js';
export type { CaseContext, ConformanceCase, FloatDType, HostTensor, OpName, ReferenceCaseBody } from './conformance-case.js';
export { ConformanceMismatchError } from './conformance-mismatch-error.js';
export { compareOutputs } from './compare-outputs.js';
export { checkAgainstReference, referenceCase } from './reference-case.js';
export { describeTolerance, reductionBound, relativeBound, TOLERANCE_TABLE } from './tolerances.js';
export type { DTypeTolerances, Tolerance } from './tolerances.js';
export { roundArrayToF16, roundToF16 } from './f16-round.js';
export { SeededRng } from './seeded-rng.js';
export { makeRopeSpec, ropeAngles } from './test-rope-spec.js';
