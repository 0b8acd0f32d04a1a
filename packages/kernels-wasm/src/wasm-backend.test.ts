// Lifecycle and boundaries of the wasm backend: destroy(), tensor ownership, dispose, thread setup.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendDestroyedError, ShapeError } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { wasm } from './wasm.js';

describe('wasm backend lifecycle', () => {
  for (const threads of [1, 2]) {
    it(`destroy() (threads ${threads}) is idempotent and afterwards every op, read and upload throws BackendDestroyedError`, async () => {
      const be = await wasm({ threads });
      expect(be.threads).toBe(threads);
      const t = be.upload(Float32Array.of(1, 2, 3, 4), [2, 2]);
      be.destroy();
      be.destroy();
      expect(() => be.upload(Float32Array.of(1), [1])).toThrow(BackendDestroyedError);
      expect(() => be.zeros([1])).toThrow(BackendDestroyedError);
      expect(() => be.add(t, t)).toThrow(BackendDestroyedError);
      expect(() => be.matmul(t, t)).toThrow(BackendDestroyedError);
      await expect(be.read(t)).rejects.toThrow(BackendDestroyedError);
      await expect(be.sync()).rejects.toThrow(BackendDestroyedError);
      expect(() => be.dispose(t)).not.toThrow();
      expect(be.memoryStats().liveTensors).toBe(0);
    });
  }

  it('rejects tensors of another backend and of another wasm instance, and disposed tensors, with ShapeError', async () => {
    const a = await wasm({ threads: 1 });
    const b = await wasm({ threads: 1 });
    try {
      const ta = a.upload(Float32Array.of(1, 2), [2]);
      const tb = b.upload(Float32Array.of(1, 2), [2]);
      const tc = cpu().upload(Float32Array.of(1, 2), [2]);
      expect(() => a.add(ta, tb)).toThrow(/another wasm backend instance/);
      expect(() => a.add(ta, tc)).toThrow(ShapeError);
      a.dispose(ta);
      a.dispose(ta);
      expect(() => a.add(ta, ta)).toThrow(/after dispose/);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it('threads: 2 runs big ops on the pool with the same results as 1 thread (bit for bit: same per-thread order)', async () => {
    const one = await wasm({ threads: 1 });
    const two = await wasm({ threads: 2, thresholds: { matmul: 0 } });
    try {
      const x = new Float32Array(8 * 300).map((_, i) => Math.sin(i));
      const w = new Float32Array(70 * 300).map((_, i) => Math.cos(i * 0.37));
      const r1 = await one.read(one.matmul(one.upload(x, [8, 300]), one.upload(w, [70, 300])));
      const r2 = await two.read(two.matmul(two.upload(x, [8, 300]), two.upload(w, [70, 300])));
      expect(Array.from(r2)).toEqual(Array.from(r1));
    } finally {
      one.destroy();
      two.destroy();
    }
  });

  it('ops stay correct when allocating their output grows the unshared memory (host-side views are re-made)', async () => {
    const be = await wasm({ threads: 1 }); // unshared memory: growing it detaches every view of the old buffer
    const ref = cpu();
    try {
      const [seqLen, rank, nKv, d, cs] = [4096, 8, 8, 64, 8];
      const a = new Float32Array(seqLen * rank).map((_, i) => Math.sin(i));
      const b = new Float32Array(nKv * rank * d).map((_, i) => Math.cos(i));
      const ids = new Int32Array(nKv * 256).map((_, i) => (i * 7) % (seqLen / cs));
      const rope = { headDim: d, invFreq: new Float32Array(d / 2).map((_, i) => 10000 ** (-(2 * i) / d)), attentionScaling: 1 };
      const before = be.memoryStats().bytesReserved;
      const run = async (k: typeof be | typeof ref) => k.read(k.rebuildKeys(k.upload(a, [seqLen, rank]), k.upload(b, [nKv, rank, d]), k.upload(ids, [nKv, 256], 'i32'), cs, 5, rope));
      const got = (await run(be)) as Float32Array;
      expect(be.memoryStats().bytesReserved).toBeGreaterThan(before);
      const want = (await run(ref)) as Float32Array;
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
      expect(err).toBeLessThan(1e-4);
    } finally {
      be.destroy();
    }
  });

  it('a process that never calls destroy() still exits: the worker pool does not keep Node alive', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skv-wasm-exit-'));
    try {
      const script = join(dir, 'run.mts');
      const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
      writeFileSync(
        script,
        `import { wasm } from ${JSON.stringify(entry)};\n` +
          `const b = await wasm({ threads: 2, thresholds: { matmul: 0 } });\n` +
          `const y = b.matmul(b.upload(new Float32Array(8).fill(1), [2, 4]), b.upload(new Float32Array(12).fill(2), [3, 4]));\n` +
          `console.log('threads', b.threads, 'sum', (await b.read(y)).reduce((s, v) => s + v, 0));\n`,
      );
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@shadowkv/source', script], { encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('..', import.meta.url)) });
      expect(r.error, r.stderr).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('threads 2 sum 48');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad thread count with a typed error', async () => {
    await expect(wasm({ threads: 0 })).rejects.toThrow(/threads = 0/);
  });
});
