// The shared conformance suite on the gpu.js backend, in the best gpu.js mode that works here: headlessgl
// (GLSL through the `gl` package, rendered by Mesa under a private Xvfb), else webasm, else cpu.
// SHADOWKV_GPUJS_MODE=<mode> forces one mode. Skips with every probe's reason when none works (gpu.js missing).
import { describeBackendConformance } from '@shadowkv/backend-conformance';
import { afterAll } from 'vitest';
import { gpujs, probeGpujs, type GpujsMode } from './gpujs.js';
import { ensureXDisplay, type XDisplay } from './test-support/xvfb-display.js';

const forced = process.env.SHADOWKV_GPUJS_MODE as GpujsMode | undefined;
const candidates: GpujsMode[] = forced ? [forced] : ['headlessgl', 'webasm', 'cpu'];
const reasons: string[] = [];
let display: XDisplay | undefined;
let mode: GpujsMode | undefined;
for (const m of candidates) {
  if (m === 'headlessgl') {
    const x = await ensureXDisplay();
    if ('reason' in x) {
      reasons.push(`headlessgl: ${x.reason}`);
      continue;
    }
    display = x;
  }
  const probe = await probeGpujs(m);
  if (probe.ok) {
    mode = m;
    break;
  }
  reasons.push(`${m}: ${probe.reason}`);
}
if (mode !== 'headlessgl') display?.stop();
afterAll(() => display?.stop());
if (mode && reasons.length > 0) console.warn(`[kernels-gpujs] running the conformance suite in ${mode} mode; not available: ${reasons.join('; ')}`);

describeBackendConformance(`gpujs (${mode ?? 'no mode'})`, () => gpujs({ mode }), {
  skip: mode ? undefined : reasons.join('; '),
  // The kernels' GLSL does not depend on shapes (sizes are uniforms), so in the slow software-GL mode one
  // random shape per op (plus every fixed edge shape) is enough; the JS modes run the default three.
  randomPerOp: mode === 'headlessgl' ? 1 : undefined,
});
