// The WebGPU backend through the shared conformance suite (every op against the CPU reference).
// Skips with a printed reason when this machine has no WebGPU adapter (see scripts/setup-webgpu.sh).
// Reused arena buffers are poisoned with NaN, so an op that leaves part of its output unwritten fails.
import { describeBackendConformance } from '@shadowkv/backend-conformance';
import { probeWebGpu } from './test-utils/webgpu-probe.js';

const probe = await probeWebGpu({ poisonReusedBuffers: true });

describeBackendConformance('webgpu', () => probe.backend!, { skip: probe.skip });
