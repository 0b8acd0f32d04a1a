// Lifecycle: after destroy() every op, read and upload of the backend throw BackendDestroyedError (a typed error,
// never a crash or a stale result), and destroy() may be called again. Runs on a backend of its own.
import { BackendDestroyedError, type KernelBackend, type Tensor } from '@shadowkv/core';
import type { CaseContext, ConformanceCase } from '../conformance-case.js';
import { ConformanceMismatchError } from '../conformance-mismatch-error.js';
import { makeRopeSpec } from '../test-rope-spec.js';

/** Runs `call` and fails unless it throws (or rejects with) BackendDestroyedError. */
async function expectDestroyed(what: string, call: () => unknown): Promise<void> {
  let thrown: unknown;
  try {
    await call();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new ConformanceMismatchError(`destroy: ${what} after destroy() returned normally; expected BackendDestroyedError`);
  if (!(thrown instanceof BackendDestroyedError)) {
    const got = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
    throw new ConformanceMismatchError(`destroy: ${what} after destroy() threw ${got}; expected BackendDestroyedError from @shadowkv/core`);
  }
}

/** Valid calls of every op on tensors made before destroy (1 head of 4, 2 tokens, chunks of 2, capacity 4). */
function opCalls(be: KernelBackend, dtype: CaseContext['dtype']): [string, () => unknown][] {
  const f = (shape: number[]) => be.upload(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i % 7) - 3) / 4), shape, dtype);
  const x = f([2, 4]);
  const w = f([4, 4]);
  const norm = f([4]);
  const cache = f([1, 4, 4]);
  const a = f([4, 2]);
  const b = f([1, 2, 4]);
  const ids = be.upload(Int32Array.of(0, 1), [2], 'i32');
  const chunk = be.upload(Int32Array.of(1), [1, 1], 'i32');
  const rope = makeRopeSpec(4);
  const attn = { nHeads: 1, nKvHeads: 1, headDim: 4, kvLen: 2, causal: true, queryOffset: 0, scale: 0.5 };
  return [
    ['upload', () => be.upload(new Float32Array(4), [4], dtype)],
    ['zeros', () => be.zeros([4])],
    ['read of a tensor made before', () => be.read(x)],
    ['sync', () => be.sync()],
    ['embedding', () => be.embedding(w, ids)],
    ['matmul', () => be.matmul(x, w)],
    ['rmsNorm', () => be.rmsNorm(x, norm, 1e-5)],
    ['add', () => be.add(x, x)],
    ['swiglu', () => be.swiglu(x, x)],
    ['rope', () => be.rope(x, ids, 1, rope)],
    ['softmax', () => be.softmax(x)],
    ['writeKv', () => be.writeKv(cache, x, 0)],
    ['attention', () => be.attention(x, cache, cache, attn)],
    ['gatherChunks', () => be.gatherChunks(cache, chunk, 2)],
    ['scatterChunks', () => be.scatterChunks(cache, f([1, 2, 4]), chunk, 2)],
    ['rebuildKeys', () => be.rebuildKeys(a, b, chunk, 2, 0, rope)],
    ['landmarkScores', () => be.landmarkScores(f([4]), cache, 1, 0.5)],
    ['topK', () => be.topK(x, 2)],
  ];
}

export function lifecycleCases(): ConformanceCase[] {
  return [
    {
      op: 'destroy',
      name: 'every op, read and upload throw BackendDestroyedError afterwards; destroy twice is fine',
      ownBackend: true,
      async check({ createBackend, dtype, skip }: CaseContext) {
        if (!createBackend) {
          skip?.('destroy needs a backend of its own (the runner gave no createBackend)');
          return;
        }
        const be = await createBackend();
        const calls = opCalls(be, dtype);
        // Every call works before destroy (so a throw afterwards is the destroy, not a bad argument).
        for (const [what, call] of calls) {
          let r: unknown;
          try {
            r = await call();
          } catch (e) {
            throw new ConformanceMismatchError(`destroy: ${what} failed before destroy(): ${(e as Error).message}`);
          }
          if (r && typeof r === 'object' && 'shape' in r) be.dispose(r as Tensor);
        }
        await be.sync();
        be.destroy();
        for (const [what, call] of calls) await expectDestroyed(what, call);
        be.destroy();
        await expectDestroyed('upload after a second destroy()', () => be.upload(new Float32Array(1), [1], dtype));
      },
    },
  ];
}
