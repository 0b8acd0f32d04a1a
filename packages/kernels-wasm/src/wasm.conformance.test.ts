// The wasm backend through the shared conformance suite (every op against the CPU reference), single-threaded
// and with 2 threads; the threaded run lowers the parallel thresholds to 0 so every op takes the pooled path.
import { describeBackendConformance } from '@shadowkv/backend-conformance';
import { wasm } from './wasm.js';

describeBackendConformance('wasm (1 thread)', () => wasm({ threads: 1 }));
describeBackendConformance('wasm (2 threads, every op pooled)', () =>
  wasm({ threads: 2, thresholds: { matmul: 0, attention: 0, elementwise: 0, sparse: 0 } }),
);
