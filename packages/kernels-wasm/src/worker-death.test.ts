// A kernel worker thread that dies while the calling thread waits for its share (Atomics.wait) must not hang the
// caller: it gets WasmWorkerError (a BackendUnavailableError of @shadowkv/core) naming the thread, how it died and
// the op. Faults are real: the worker's own code throws out of its job loop or calls process.exit at the start of
// a job (WORKER_SOURCE with a fault at JOB_START_MARKER), or the worker is terminated from outside between ops.
// The scenarios run in a child process with a time limit, so a regression fails the test instead of hanging it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = (f: string): string => JSON.stringify(fileURLToPath(new URL(`./${f}`, import.meta.url)));
// The script lives in a temporary folder, where bare package names do not resolve: core by its source path (the
// same module the kernels-wasm sources load under the @shadowkv/source condition).
const core = JSON.stringify(fileURLToPath(new URL('../../core/src/index.ts', import.meta.url)));

const SCENARIOS = `
import { BackendUnavailableError, ShadowKvError } from ${core};
import { KERNEL_NAMES, kernelModule } from ${src('kernel-module.ts')};
import { ThreadPool } from ${src('thread-pool.ts')};
import { JOB_START_MARKER, WORKER_SOURCE } from ${src('worker-source.ts')};
import { wasm, WasmWorkerError } from ${src('index.ts')};

const ADD = KERNEL_NAMES.indexOf('add');
function report(label, fn) {
  const t0 = performance.now();
  try {
    fn();
    console.log(JSON.stringify({ label, ok: true }));
  } catch (e) {
    console.log(JSON.stringify({ label, name: e.name, code: e.code, message: e.message, core: e instanceof BackendUnavailableError && e instanceof ShadowKvError,
      typed: e instanceof WasmWorkerError, thread: e.workerThread, exitCode: e.exitCode, kernel: e.kernel, ms: Math.round(performance.now() - t0) }));
  }
}
async function pool(fault) {
  const module = await kernelModule('threads');
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  const fns = KERNEL_NAMES.map((n) => inst.exports[n]);
  const f32 = new Float32Array(memory.buffer);
  for (let i = 0; i < 64; i++) { f32[512 + i] = i; f32[768 + i] = 1; }
  return { pool: await ThreadPool.start(2, module, memory, KERNEL_NAMES, fns, WORKER_SOURCE.replace(JOB_START_MARKER, fault)), f32 };
}
// add: f32[256..320) = f32[512..576) + f32[768..832), split between the two threads.
{
  const { pool: p, f32 } = await pool('');
  report('healthy', () => p.run(ADD, [1024, 2048, 3072, 64]));
  console.log(JSON.stringify({ label: 'healthy-sum', sum: f32.subarray(256, 320).reduce((a, b) => a + b, 0) }));
  p.close();
}
for (const [label, fault] of [['throws', "if (tid === 1) throw new Error('injected fault');"], ['exits', 'if (tid === 1) process.exit(7);']]) {
  const { pool: p } = await pool(fault);
  report(label, () => p.run(ADD, [1024, 2048, 3072, 64]));
  report(label + '-again', () => p.run(ADD, [1024, 2048, 3072, 64]));
  p.close();
}
{
  const be = await wasm({ threads: 2, thresholds: { elementwise: 0 } });
  const a = be.upload(new Float32Array(64).fill(2), [64]);
  report('terminated-before', () => be.add(a, a));
  const w = be.pool.workers[0];
  const gone = new Promise((r) => w.once('exit', r));
  await w.terminate();
  await gone;
  report('terminated', () => be.add(a, a));
  be.destroy();
}
`;

describe('wasm worker threads that die', () => {
  it('a worker that throws, exits or is terminated gives the caller WasmWorkerError (a core BackendUnavailableError), never a hang', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skv-wasm-death-'));
    try {
      const script = join(dir, 'scenarios.mts');
      writeFileSync(script, SCENARIOS);
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@shadowkv/source', script], { encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('..', import.meta.url)) });
      expect(r.error, `${r.stderr}\n(the scenarios did not finish in 60 s: a caller hung on a dead worker?)`).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((o) => [o.label, o]));
      expect(out.healthy.ok).toBe(true);
      expect(out['healthy-sum'].sum).toBe(64 + (63 * 64) / 2);
      for (const label of ['throws', 'throws-again', 'exits', 'exits-again', 'terminated']) {
        expect(out[label], label).toMatchObject({ name: 'WasmWorkerError', code: 'BACKEND_UNAVAILABLE', core: true, typed: true, thread: 1, kernel: 'add' });
        expect(out[label].message).toMatch(/kernel worker thread 1 of 2 .*pooled add op cannot finish; destroy\(\) this backend/);
      }
      expect(out.throws.message).toMatch(/an exception escaped its job loop/);
      expect(out.exits.message).toMatch(/exited with code 7/);
      expect(out.exits.exitCode).toBe(7);
      expect(out['terminated-before'].ok).toBe(true);
      expect(out.terminated.message).toMatch(/seen by the host/);
      // Found at once, not after a timeout: the dying worker wakes the waiting caller.
      expect(out.throws.ms).toBeLessThan(5000);
      expect(out.exits.ms).toBeLessThan(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
