// Memory read bandwidth of this machine, measured the way a decode step reads weights: WebAssembly SIMD loads
// streaming through a buffer far larger than the caches, on `threads` worker threads at once (each its own
// buffer), summed into registers so the loads cannot be skipped. The result is the rate a CPU backend can at
// best stream weights at, the denominator of the decode floor (weight bytes per step / bandwidth).
import { Worker } from 'node:worker_threads';

export interface BandwidthResult {
  /** Bytes per second read by all threads together (median of the rounds). */
  bytesPerSecond: number;
  threads: number;
  /** Bytes of the buffer each thread streams through (several times the last-level cache). */
  bufferBytes: number;
  rounds: number;
  /** Every round's aggregate bytes per second. */
  samples: number[];
  what: string;
}

/** Encodes an unsigned LEB128 integer (the wasm binary format's integer encoding). */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

/**
 * A wasm module exporting `mem` (its memory, `pages` 64 KiB pages) and `sum(p, end) -> i32`: four independent
 * i32x4 accumulators over 64-byte steps of v128.load from p to end (integer adds: one cycle each, so the loads
 * are the only limit). Written as bytes here because it is about 100 bytes; the opcodes are the wasm SIMD spec's.
 */
export function streamReadModule(pages: number): Uint8Array<ArrayBuffer> {
  const V128 = 0x7b;
  const I32 = 0x7f;
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const load = (offset: number) => [0xfd, 0x00, 0x04, ...leb(offset)]; // v128.load align=16 offset
  const i32x4Add = [0xfd, ...leb(174)];
  // params: 0 = p, 1 = end; locals 2..5 = v128 accumulators
  const body: number[] = [
    0x01, 0x04, V128, // 4 locals of v128
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...[0, 1, 2, 3].flatMap((k) => [...get(2 + k), ...get(0), ...load(16 * k), ...i32x4Add, ...set(2 + k)]),
    ...get(0), 0x41, 0xc0, 0x00, 0x6a, ...set(0), // p += 64 (i32.const takes signed LEB128: 64 is 0xc0 0x00)
    ...get(0), ...get(1), 0x49, 0x0d, 0x00, // br_if 0 (p < end), unsigned
    0x0b, 0x0b, // end loop, end block
    ...get(2), ...get(3), ...i32x4Add, ...get(4), ...i32x4Add, ...get(5), ...i32x4Add,
    0xfd, 0x1b, 0x00, // i32x4.extract_lane 0
    0x0b,
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x02, I32, I32, 0x01, I32]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, ...leb(pages)]),
    ...section(7, [0x02, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x00, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ];
  return Uint8Array.from(bytes);
}

// The worker: builds the module, touches every page (untouched pages would all map the one zero page and be
// read from cache), waits at the start line, streams `passes` times and reports its own seconds.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, pages, passes, start } = workerData;
const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
const { sum, mem } = inst.exports;
const n = pages * 65536;
new Uint8Array(mem.buffer).fill(1);
const flag = new Int32Array(start);
// V8 first runs wasm in its baseline compiler (Liftoff: every SIMD local lives on the stack) and tiers a
// function up to optimised code only after enough calls; short calls get it there before timing starts.
for (let i = 0; i < 20000; i++) sum(0, 16384);
const w0 = performance.now();
while (performance.now() - w0 < 200) sum(0, 16384);
sum(0, n); // and the TLB
Atomics.add(flag, 1, 1);
Atomics.notify(flag, 1);
Atomics.wait(flag, 0, 0);
const t0 = performance.now();
let acc = 0;
for (let i = 0; i < passes; i++) acc ^= sum(0, n);
parentPort.postMessage({ seconds: (performance.now() - t0) / 1000, acc });
`;

/** One round: `threads` workers stream their buffers `passes` times, started together; aggregate bytes/s. */
async function round(threads: number, pages: number, passes: number, bytes: Uint8Array): Promise<number> {
  const start = new SharedArrayBuffer(8);
  const flag = new Int32Array(start);
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { bytes, pages, passes, start } }));
  try {
    const done = workers.map((w) => new Promise<number>((res, rej) => {
      w.once('message', (m: { seconds: number }) => res(m.seconds));
      w.once('error', rej);
    }));
    while (Atomics.load(flag, 1) < threads) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const seconds = await Promise.all(done);
    // Aggregate over the slowest thread: all bytes were read within that time.
    return (threads * pages * 65536 * passes) / Math.max(...seconds);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Measures read bandwidth with `threads` threads (default 1), each streaming a `mib` MiB buffer (default 256,
 * far above the caches) `passes` times per round; median of `rounds` rounds.
 */
export async function measureReadBandwidth(opts: { threads?: number; mib?: number; passes?: number; rounds?: number } = {}): Promise<BandwidthResult> {
  const threads = opts.threads ?? 1;
  const pages = ((opts.mib ?? 256) * 2 ** 20) / 65536;
  const passes = opts.passes ?? 4;
  const rounds = opts.rounds ?? 3;
  const bytes = streamReadModule(pages);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) samples.push(await round(threads, pages, passes, bytes));
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    bytesPerSecond: sorted[Math.floor(sorted.length / 2)],
    threads,
    bufferBytes: pages * 65536,
    rounds,
    samples,
    what: `WebAssembly SIMD128 streaming read (v128.load, 4 accumulators) of a ${pages / 16} MiB buffer per thread, ${threads} thread(s) at once, ${passes} passes per round, median of ${rounds} rounds`,
  };
}
