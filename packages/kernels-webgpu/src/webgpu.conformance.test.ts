// The WebGPU backend through the shared conformance suite (every op against the CPU reference).
// Skips with a printed reason when this machine has no WebGPU adapter (see scripts/setup-webgpu.sh).
import { describeBackendConformance } from '@shadowkv/backend-conformance';
import { probeWebGpu } from './test-utils/webgpu-probe.js';

const probe = await probeWebGpu();

describeBackendConformance('webgpu', () => probe.backend!, { skip: probe.skip });
