// The typed error of a pooled op whose kernel worker thread died: the caller gets it instead of waiting forever.
import { BackendUnavailableError } from '@shadowkv/core';
import { DEATH } from './worker-source.js';

function how(why: number, code: number): string {
  if (why === DEATH.THREW) return 'stopped: an exception escaped its job loop';
  if (why === DEATH.EXITED) return `exited with code ${code}`;
  return `exited (exit code ${code}, seen by the host)`;
}

/**
 * A kernel worker thread of the wasm backend died (an uncaught exception, process.exit, or terminated from
 * outside); `kernel` names the op that found out. The backend's thread pool cannot run split ops any more.
 */
export class WasmWorkerError extends BackendUnavailableError {
  constructor(
    /** The kernel that was running or about to run (gemv, attention, ...). */
    readonly kernel: string,
    /** The worker's thread index (1 .. threads - 1; the calling thread is 0). */
    readonly workerThread: number,
    /** Threads of the pool, the caller included. */
    readonly threads: number,
    why: number,
    /** The worker's exit code where known (0 when it threw). */
    readonly exitCode: number,
  ) {
    super(
      'wasm',
      `kernel worker thread ${workerThread} of ${threads} ${how(why, exitCode)}, so the pooled ${kernel} op cannot finish; ` +
        `destroy() this backend and create a new one (wasm({ threads: 1 }) runs without worker threads)`,
    );
  }
}
