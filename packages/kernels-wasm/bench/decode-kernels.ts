// Decode-step kernels of a needle-llama-shaped model in isolation, on the wasm backend: decode attention over
// `layers` distinct dense KV caches (so the caches stream from memory as in a real step, not from L2), the
// step's GEMVs over distinct bf16 weights, and the thread hand-off (a pooled tiny op against the same op on the
// calling thread). Rounds interleave the cases; medians and minima of per-round times.
// Run: npx tsx --conditions=@shadowkv/source packages/kernels-wasm/bench/decode-kernels.ts \
//        [--threads 1] [--context 4096] [--layers 6] [--rounds 30] [--only attention|gemv|handoff] [--compare OLD.wasm]
//        [--rows-layout]
// --rows-layout: the same cases also on a backend of the current binary that keeps 16-bit weights row-major
// (weightLayout 'rows', src/weight-layout.ts), interleaved round by round: what the rows4 layout is worth.
// --compare: the same cases also on a single-threaded backend built from another kernel binary (e.g. the committed
// wasm/kernels-single.wasm of an older commit), interleaved round by round with the current one.
// Prints one line of JSON.
import { readFileSync } from 'node:fs';
import { f32ToBf16, type KernelBackend, type Tensor } from '@shadowkv/core';
import { DEFAULT_THRESHOLDS, wasm, WasmBackend } from '../src/index.js';
import { rand } from './random-data.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const threads = Number(opt('threads', '1'));
const context = Number(opt('context', '4096'));
const layers = Number(opt('layers', '6'));
const rounds = Number(opt('rounds', '30'));
const only = opt('only', '');

const compare = opt('compare', '');

/** A single-threaded backend on the kernel binary at `file` (warmed up like wasm()'s by a few rounds below). */
async function backendFrom(file: string): Promise<WasmBackend> {
  const module = await WebAssembly.compile(readFileSync(file));
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  // An older binary has no rows4 kernels: keep its weights row-major.
  return new WasmBackend({ memory, instance, pool: null, limitBytes: 2 ** 32 - 65536, thresholds: DEFAULT_THRESHOLDS, singleThreadReason: null, weightLayout: 'rows' });
}

const engines: [string, KernelBackend][] = [['current', await wasm({ threads })]];
if (compare) engines.push([compare, await backendFrom(compare)]);
if (argv.includes('--rows-layout')) engines.push(['current, rows layout', await wasm({ threads, weightLayout: 'rows' })]);
// needle-llama: hidden 256, 4 heads, 2 KV heads, head dim 64, MLP 768, vocab 1024.
const H = 256, NH = 4, NKV = 2, D = 64, F = 768, V = 1024;
/** A case's run() returns the milliseconds to count when it times itself (the hand-off cases), else nothing. */
const cases: { name: string; run: () => number | void; bytes: number; macs: number }[] = [];
for (const [engine, be] of engines) {
  if (!only || only === 'attention') {
    const q = be.upload(rand(NH * D, 1), [1, NH * D]);
    const ks: Tensor[] = [];
    const vs: Tensor[] = [];
    for (let l = 0; l < layers; l++) {
      ks.push(be.upload(rand(NKV * context * D, 10 + l), [NKV, context, D]));
      vs.push(be.upload(rand(NKV * context * D, 100 + l), [NKV, context, D]));
    }
    const p = { nHeads: NH, nKvHeads: NKV, headDim: D, kvLen: context, causal: true, queryOffset: context - 1, scale: 1 / 8 };
    cases.push({
      name: `${engine}: attention ${layers} layers kv=${context}`,
      bytes: layers * 2 * NKV * context * D * 4,
      macs: layers * 2 * NH * context * D,
      run: () => {
        for (let l = 0; l < layers; l++) be.dispose(be.attention(q, ks[l], vs[l], p));
      },
    });
  }

  if (!only || only === 'gemv') {
    const shapes: [number, number][] = [];
    for (let l = 0; l < layers; l++) shapes.push([NH * D, H], [NKV * D, H], [NKV * D, H], [H, NH * D], [F, H], [F, H], [H, F]);
    shapes.push([V, H]);
    const ws = shapes.map(([n, k], i) => be.upload(f32ToBf16(rand(n * k, 1000 + i, 1 / Math.sqrt(k))), [n, k], 'bf16'));
    const xs = new Map<number, Tensor>();
    for (const [, k] of shapes) if (!xs.has(k)) xs.set(k, be.upload(rand(k, k), [1, k]));
    cases.push({
      name: `${engine}: gemv ${shapes.length} bf16 projections`,
      bytes: shapes.reduce((a, [n, k]) => a + n * k * 2, 0),
      macs: shapes.reduce((a, [n, k]) => a + n * k, 0),
      run: () => {
        for (let i = 0; i < ws.length; i++) be.dispose(be.matmul(xs.get(shapes[i][1])!, ws[i]));
      },
    });
  }
}
const be = engines[0][1];
if ((!only || only === 'handoff') && threads > 1) {
  const a = be.upload(rand(4, 1), [1, 4]);
  const pooled = await wasm({ threads, thresholds: { elementwise: 0 } });
  const pa = pooled.upload(rand(4, 1), [1, 4]);
  cases.push({ name: 'add 4 elements, calling thread (x100)', bytes: 0, macs: 0, run: () => { for (let i = 0; i < 100; i++) be.dispose(be.add(a, a)); } });
  cases.push({ name: 'add 4 elements, pooled (x100)', bytes: 0, macs: 0, run: () => { for (let i = 0; i < 100; i++) pooled.dispose(pooled.add(pa, pa)); } });
  // As in a decode step: other work on the calling thread between pooled ops (the workers may have gone to sleep).
  for (const gapUs of [50, 300]) {
    cases.push({
      name: `add 4 elements, pooled after ${gapUs} µs of other work (x20, the adds alone)`,
      bytes: 0,
      macs: 0,
      run: () => {
        let ms = 0;
        for (let i = 0; i < 20; i++) {
          const until = performance.now() + gapUs / 1000;
          while (performance.now() < until);
          const t0 = performance.now();
          pooled.dispose(pooled.add(pa, pa));
          ms += performance.now() - t0;
        }
        return ms;
      },
    });
  }
}

const times = cases.map(() => [] as number[]);
for (let r = 0; r < rounds + 20; r++) {
  for (let c = 0; c < cases.length; c++) {
    const t0 = performance.now();
    const self = cases[c].run();
    if (r >= 20) times[c].push(typeof self === 'number' ? self : performance.now() - t0); // 20 rounds of warm-up (the compared binary's tier-up)
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(
  JSON.stringify({
    threads, context, layers, rounds,
    cases: cases.map((c, i) => ({
      name: c.name,
      medianMs: +med(times[i]).toFixed(4),
      minMs: +Math.min(...times[i]).toFixed(4),
      ...(c.bytes ? { medianGBs: +(c.bytes / med(times[i]) / 1e6).toFixed(2), minGBs: +(c.bytes / Math.min(...times[i]) / 1e6).toFixed(2) } : {}),
      ...(c.macs ? { medianGmacs: +(c.macs / med(times[i]) / 1e6).toFixed(2) } : {}),
    })),
  }),
);
for (const [, e] of engines) (e as WasmBackend).destroy();
process.exit(0);
