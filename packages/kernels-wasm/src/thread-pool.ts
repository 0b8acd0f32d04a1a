// Worker threads that run shares of a kernel call on one shared WebAssembly.Memory. Ops are synchronous in the
// KernelBackend interface, so the calling thread publishes the job (function index + arguments in shared
// arrays), runs share 0 itself and waits for the others: Atomics.wait in Node (the main thread may block there)
// and in workers; a browser's main thread may not block, so there it spins on the counter (the caller is busy
// with its own share for most of that time). Every pooled job uses every thread, so no worker can still be
// reading a previous job when the next one is published. A worker that dies leaves a note in the control words
// (worker-source.ts), and the host marks one whose exit it sees: the waiting caller (or the next pooled call)
// then throws WasmWorkerError instead of waiting for a count that will never reach zero.
import { BackendUnavailableError } from '@shadowkv/core';
import { WasmWorkerError } from './wasm-worker-error.js';
import { CTL, DEAD_BUMP, DEATH, MAX_ARGS, PREEMPTED_MS, WORKER_SOURCE } from './worker-source.js';

/** The subset of a Worker (Node worker_threads or Web Worker) the pool uses. */
interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

type KernelFn = (...args: number[]) => void;

/** Whether this thread may block in Atomics.wait (false on a browser's main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Polling instead of sleeping between jobs. A wake-up from Atomics.wait took 45-85 µs on the 2-core development
 * machine against ~2 µs for a hand-off to a polling thread (bench/decode-kernels.ts --only handoff), and a decode
 * step hands off every few tens to hundreds of microseconds, so while jobs come the workers poll for SPIN_US after
 * each one and the caller polls for the workers' shares for up to SPIN_US. On a machine with more runnable threads
 * than cores polling only takes time from other threads (this process's included) and the scheduler favours
 * threads that slept: a polling thread that finds it was descheduled (PREEMPTED_MS between two clock reads, in a
 * worker or in the caller), or a worker that has not finished SLOW_LAG_MS after the caller's share, makes the pool
 * sleep between jobs (the workers block at once, the caller after a few polls) for SLEEP_MS before it polls again
 * (each new try can cost one stall of a scheduler time slice on a loaded machine, hence seconds, not less).
 */
const SPIN_US = 1000;
const SLOW_LAG_MS = 0.5;
const SLEEP_MS = 5000;

interface Spawned {
  worker: AnyWorker;
  onMessage(cb: (m: any) => void): void;
  /** Called once the worker is ready: from then on it talks through shared memory only; onExit(code) if it exits. */
  settle(onExit: (code: number) => void): void;
}

async function spawn(source: string): Promise<Spawned> {
  if (isNode) {
    const specifier = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ specifier)) as typeof import('node:worker_threads');
    const w = new Worker(source, { eval: true });
    return {
      worker: w,
      onMessage: (cb) => {
        w.on('message', cb);
        w.on('error', (e) => cb({ error: e.message }));
      },
      // A 'message' listener keeps the process alive even for an unref'd worker: drop it, so that a pool never
      // holds the process open. 'exit' does not: it marks the pool broken when the worker goes while the caller
      // is not blocked (a worker's own death note covers the blocked case; terminate() skips that note).
      settle: (onExit) => {
        w.removeAllListeners('message');
        w.removeAllListeners('error');
        w.on('error', () => {});
        w.on('exit', onExit);
        w.unref();
      },
    };
  }
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const w = new Worker(url);
  return {
    worker: w,
    onMessage: (cb) => {
      w.onmessage = (e: { data: unknown }) => cb(e.data);
      w.onerror = (e: { message: string }) => cb({ error: e.message });
    },
    settle: () => URL.revokeObjectURL(url),
  };
}

/** What the backend needs of a pool (ThreadPool implements it). */
export interface KernelPool {
  /** Threads per job, the caller included. */
  readonly threads: number;
  /** Runs kernel `fn` with `argv` split across every thread; returns when all are done. */
  run(fn: number, argv: readonly number[]): void;
  /** Whether the workers poll between jobs now (a hand-off costs microseconds) rather than sleep. */
  readonly polling: boolean;
  /** Stops the workers (idempotent). */
  close(): void;
}

export class ThreadPool implements KernelPool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly blocking = canBlock();
  private closed = false;
  /** performance.now() until which the pool sleeps between jobs instead of polling (see SPIN_US). */
  private sleepUntil = 0;

  private constructor(
    /** Threads per job, the caller included. */
    readonly threads: number,
    private readonly workers: AnyWorker[],
    control: SharedArrayBuffer,
    args: SharedArrayBuffer,
    private readonly fns: KernelFn[],
    private readonly names: readonly string[],
  ) {
    this.ctl = new Int32Array(control);
    this.args = new Float64Array(args);
  }

  /**
   * Starts `threads - 1` workers on `memory`, each with its own instance of `module`. `source` is the workers'
   * code (WORKER_SOURCE; tests pass a copy with a fault at JOB_START_MARKER).
   */
  static async start(
    threads: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    names: readonly string[],
    fns: KernelFn[],
    source: string = WORKER_SOURCE,
  ): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CTL.WORDS * 4);
    const args = new SharedArrayBuffer(MAX_ARGS * 8);
    const ctl = new Int32Array(control);
    const workers: AnyWorker[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, async (_, i) => {
          const tid = i + 1;
          const { worker, onMessage, settle } = await spawn(source);
          workers.push(worker);
          await new Promise<void>((resolve, reject) => {
            onMessage((m) => {
              if (m?.ready) resolve();
              else if (m?.error) reject(new Error(m.error));
            });
            worker.postMessage({ module, memory, control, args, names, tid });
          });
          settle((code) => markExited(ctl, tid, code));
        }),
      );
    } catch (err) {
      for (const w of workers) void w.terminate();
      throw new BackendUnavailableError('wasm', `a kernel worker failed to start (${(err as Error).message}); use wasm({ threads: 1 })`, { cause: err });
    }
    return new ThreadPool(threads, workers, control, args, fns, names);
  }

  /** Whether the workers poll between jobs now (see SPIN_US) rather than sleep. */
  get polling(): boolean {
    if (Atomics.load(this.ctl, CTL.CONTENDED)) {
      Atomics.store(this.ctl, CTL.CONTENDED, 0);
      this.sleepUntil = performance.now() + SLEEP_MS;
    }
    return performance.now() >= this.sleepUntil;
  }

  /**
   * Runs kernel `fn` with `argv` on every thread (the caller is thread 0) and returns when all are done.
   * Throws WasmWorkerError when a worker has died (before or during the job); the pool stays broken after that.
   */
  run(fn: number, argv: readonly number[]): void {
    const { ctl, threads } = this;
    if (Atomics.load(ctl, CTL.DEAD)) this.fail(fn);
    for (let i = 0; i < argv.length; i++) this.args[i] = argv[i];
    ctl[CTL.FN] = fn;
    ctl[CTL.NARGS] = argv.length;
    ctl[CTL.NTH] = threads;
    const polling = this.polling;
    ctl[CTL.SPIN_US] = polling ? SPIN_US : 0;
    Atomics.store(ctl, CTL.PENDING, threads - 1);
    Atomics.add(ctl, CTL.GEN, 1);
    Atomics.notify(ctl, CTL.GEN);
    let failed: unknown;
    try {
      this.fns[fn](...argv, 0, threads);
    } catch (e) {
      failed = e;
    }
    let spins = 0;
    let start = 0;
    let last = 0;
    let preempted = false;
    for (;;) {
      const p = Atomics.load(ctl, CTL.PENDING);
      if (p === 0) break;
      // A dying worker sets DEAD before it bumps PENDING, so a changed PENDING (or the wake-up) finds DEAD set.
      if (Atomics.load(ctl, CTL.DEAD)) this.fail(fn);
      if (!this.blocking || ++spins % 256 !== 0) continue;
      // Every 256 polls: block once past the polling budget (a few polls when the pool sleeps between jobs).
      const now = performance.now();
      if (start === 0) start = now;
      else if (now - last > PREEMPTED_MS) preempted = true;
      last = now;
      if (!polling || preempted || now - start >= SPIN_US / 1000) Atomics.wait(ctl, CTL.PENDING, p);
    }
    if (polling && preempted) this.sleepUntil = performance.now() + SLEEP_MS;
    // A worker far behind the caller while polling was descheduled: sleep between jobs for a while.
    if (polling && start !== 0 && performance.now() - start > SLOW_LAG_MS) this.sleepUntil = performance.now() + SLEEP_MS;
    if (failed) throw failed;
    if (Atomics.exchange(ctl, CTL.ERROR, 0)) throw new Error('a kernel trapped in a worker thread');
  }

  /** Stops the workers (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, CTL.SHUTDOWN, 1);
    Atomics.add(this.ctl, CTL.GEN, 1);
    Atomics.notify(this.ctl, CTL.GEN);
    for (const w of this.workers) void w.terminate();
  }

  /** Throws the WasmWorkerError for the dead worker recorded in the control words. */
  private fail(fn: number): never {
    const { ctl } = this;
    throw new WasmWorkerError(this.names[fn] ?? `kernel ${fn}`, Atomics.load(ctl, CTL.DEAD), this.threads, Atomics.load(ctl, CTL.WHY), Atomics.load(ctl, CTL.CODE));
  }
}

/** The host saw worker `tid` exit: record it (unless the pool is shutting down or a death is already noted). */
function markExited(ctl: Int32Array, tid: number, code: number): void {
  if (Atomics.load(ctl, CTL.SHUTDOWN) || Atomics.load(ctl, CTL.DEAD)) return;
  Atomics.store(ctl, CTL.WHY, DEATH.EXIT_SEEN);
  Atomics.store(ctl, CTL.CODE, code | 0);
  Atomics.compareExchange(ctl, CTL.DEAD, 0, tid);
  Atomics.add(ctl, CTL.PENDING, DEAD_BUMP);
  Atomics.notify(ctl, CTL.PENDING);
}
