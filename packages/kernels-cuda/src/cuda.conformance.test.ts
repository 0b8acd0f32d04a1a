// The cuda backend through the shared conformance suite (every op against the CPU reference), plus 16-bit
// weights against the CPU on the same rounded weights. Skips with the probe's reason (addon, driver or device
// missing) on machines without an NVIDIA GPU; scripts/gpu-check.sh runs it on the GPU machine.
import { describeBackendConformance } from '@shadowkv/backend-conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { cuda } from './cuda.js';
import type { CudaBackend } from './cuda-backend.js';
import { probeCuda } from './probe.js';
import { weightChecks } from './weight-checks.js';

const probe = probeCuda();
const skip = probe.available ? undefined : probe.reason;
describeBackendConformance('cuda', () => cuda(), { skip });

// A backend of its own for the weight tests (the suite may destroy the one it was given).
let weights: CudaBackend | undefined;
const backend = () => (weights ??= cuda());

describe.skipIf(skip !== undefined)(`cuda: 16-bit weights (f32 accumulation)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  afterAll(() => weights?.destroy());
  it('matmul and embedding with f16/bf16 weights match the cpu on the rounded weights (bounds in weight-checks.ts)', async () => {
    const results = await weightChecks(backend());
    expect(results.length).toBe(12);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });
});
