// The full list of conformance cases, filtered by options; independent of vitest so it can be reused.
import { chunkCacheCases } from './cases/chunk-cache-cases.js';
import { denseCases } from './cases/dense-cases.js';
import { fusedCases } from './cases/fused-cases.js';
import { layerFusedCases } from './cases/layer-fused-cases.js';
import { errorCases } from './cases/error-cases.js';
import { kvCases } from './cases/kv-cases.js';
import { lifecycleCases } from './cases/lifecycle-cases.js';
import { memoryCases } from './cases/memory-cases.js';
import { refineCases } from './cases/refine-cases.js';
import { ropeCases } from './cases/rope-cases.js';
import { rowCopyCases } from './cases/row-copy-cases.js';
import { sparseCases } from './cases/sparse-cases.js';
import { weightDtypeCases } from './cases/weight-dtype-cases.js';
import type { ConformanceCase, OpName } from './conformance-case.js';

/** Default suite seed; shapes and data of every case derive from it. */
export const DEFAULT_CONFORMANCE_SEED = 0x5eed;

/** Every op of KernelBackend; the Record type makes the compiler flag an op added to the interface but not here. */
const OPS: Record<OpName, true> = {
  upload: true, zeros: true, read: true, dispose: true, sync: true, destroy: true,
  embedding: true, matmul: true, rmsNorm: true, add: true, swiglu: true, rope: true, softmax: true, matmulAdd: true, matmulSwiglu: true,
  rmsNormMatmuls: true, rmsNormMatmulSwiglu: true, ropeQk: true, writeKvPair: true, writeRows: true,
  writeKv: true, attention: true, gatherChunks: true, scatterChunks: true, rebuildKeys: true, landmarkScores: true, topK: true,
  chunkCacheUpdate: true, rebuildKeysInto: true, flush: true, candidateScores: true, copyChunkPairs: true,
};

/** All op names of KernelBackend, in interface order. */
export const ALL_OPS = Object.keys(OPS) as OpName[];

export interface ConformanceCaseOptions {
  /** Include the big shapes (minutes on slow backends). */
  long?: boolean;
  seed?: number;
  /** Random shapes drawn per op in addition to the fixed edge shapes. */
  randomPerOp?: number;
  /** Restrict to these ops (debugging a backend one op at a time). */
  ops?: readonly OpName[];
}

/** The cases of the suite for the given options, errors and then lifecycle (a backend of their own) last. */
export function conformanceCases(opts: ConformanceCaseOptions = {}): ConformanceCase[] {
  const seed = opts.seed ?? DEFAULT_CONFORMANCE_SEED;
  const n = opts.randomPerOp ?? 3;
  const all = [
    ...memoryCases(),
    ...denseCases(seed, n),
    ...fusedCases(),
    ...layerFusedCases(),
    ...rowCopyCases(),
    ...ropeCases(seed, n),
    ...kvCases(seed, n),
    ...sparseCases(seed, n),
    ...chunkCacheCases(),
    ...refineCases(),
    ...weightDtypeCases(),
    ...errorCases(),
    ...lifecycleCases(),
  ];
  return all.filter((c) => (opts.long || !c.long) && (!opts.ops || opts.ops.includes(c.op)));
}
