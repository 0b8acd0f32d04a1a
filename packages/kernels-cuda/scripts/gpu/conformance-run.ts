// The backend conformance suite without vitest, for the GPU machine (no node_modules there): runs every case of
// @shadowkv/backend-conformance on one backend against the CPU reference, as describeBackendConformance does,
// and prints one JSON object { backend, device, passed, failed, skipped, failures[] }. Exit code 1 on a failure.
// Usage (bundled by scripts/gpu-pack.sh): node conformance-run.mjs [cuda|cpu] [--long]
import { conformanceCases, DEFAULT_CONFORMANCE_SEED, SeededRng } from '@shadowkv/backend-conformance';
import type { KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { cuda } from '@shadowkv/kernels-cuda';
import { weightChecks } from '../../src/weight-checks.js';

const SKIP = Symbol('skip');

async function makeBackend(name: string): Promise<KernelBackend> {
  if (name === 'cpu') return cpu();
  if (name === 'cuda') return cuda();
  throw new Error(`unknown backend ${name}`);
}

const name = process.argv[2] ?? 'cuda';
const long = process.argv.includes('--long');
let backend: KernelBackend;
try {
  backend = await makeBackend(name);
} catch (e) {
  // No GPU, driver, addon or cuBLAS: one line saying which, not a stack trace.
  const err = e as Error & { code?: string };
  if (err.code !== 'BACKEND_UNAVAILABLE') throw e;
  process.stdout.write(`${JSON.stringify({ backend: name, unavailable: err.message })}\n`);
  process.stderr.write(`conformance ${name}: ${err.message}\n`);
  process.exit(2);
}
const reference = cpu();
const seed = DEFAULT_CONFORMANCE_SEED;
// Cases that destroy their backend (ownBackend) run last, each on a fresh backend, as describeBackendConformance does.
const all = conformanceCases({ long, seed });
const cases = [...all.filter((c) => !c.ownBackend), ...all.filter((c) => c.ownBackend)];
const failures: { op: string; name: string; error: string }[] = [];
let passed = 0;
let skipped = 0;
const started = performance.now();
for (const c of cases) {
  try {
    await c.check({
      backend,
      reference,
      dtype: 'f32',
      rng: SeededRng.fromString(`${c.op} ${c.name}`, seed),
      skip: (reason: string): never => {
        throw Object.assign(new Error(reason), { [SKIP]: true });
      },
      createBackend: () => makeBackend(name),
    });
    passed++;
  } catch (e) {
    if ((e as Record<symbol, unknown>)[SKIP]) skipped++;
    else failures.push({ op: c.op, name: c.name, error: e instanceof Error ? e.message.slice(0, 2000) : String(e) });
  }
}
// The 16-bit weight checks (cuda only), reported beside the suite's cases.
const weights = name === 'cuda' ? await weightChecks(backend) : [];
for (const w of weights) {
  if (w.ok) passed++;
  else failures.push({ op: 'weights', name: w.name, error: `worst ${w.worst} > bound ${w.bound}` });
}
const device = (backend as { device?: unknown }).device ?? null;
process.stdout.write(
  `${JSON.stringify({ backend: name, device, long, cases: cases.length + weights.length, passed, failed: failures.length, skipped, seconds: (performance.now() - started) / 1000, failures }, null, 1)}\n`,
);
process.stderr.write(`conformance ${name}: ${passed} passed, ${failures.length} failed, ${skipped} skipped\n`);
backend.destroy();
process.exitCode = failures.length > 0 ? 1 : 0;
