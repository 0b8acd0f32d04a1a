// The CPU reference backend run through the shared suite: the suite's own baseline (every case must pass
// with zero error, since both sides run the same code) and a check that the cases exercise every op.
import { cpu } from '@shadowkv/kernels-cpu';
import { describeBackendConformance } from './describe-backend-conformance.js';

describeBackendConformance('cpu', () => cpu());
