// Micro-benchmark of the wasm kernels against the CPU reference: GEMV (decode weight pass) f32 and bf16, GEMM
// at a prefill size, decode attention at 4K/16K, and the thread hand-off cost that sets the parallel thresholds.
// Engines are interleaved round by round and medians reported (the development machine is shared).
// Run: npx tsx --conditions=@shadowkv/source packages/kernels-wasm/bench/ops.ts [--rounds 5] [--quick] [--only TEXT]
// Prints a table (medians, ratios to the CPU reference, and the best round) and one JSON line (prefix "JSON ").
import { f32ToBf16, halfToF32, type KernelBackend, type Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { wasm } from '../src/index.js';
import { rand } from './random-data.js';

const argv = process.argv.slice(2);
const rounds = Number(argv[argv.indexOf('--rounds') + 1] || 0) || (argv.includes('--quick') ? 3 : 5);
const quick = argv.includes('--quick');
/** --only TEXT: just the cases whose name contains TEXT (e.g. --only decode). */
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : '';

interface Case {
  name: string;
  /** Floating-point operations (2 per multiply-add) per call. */
  flops: number;
  /** Bytes of the operand streamed from memory per call (weights or KV). */
  bytes: number;
  /** Builds inputs on a backend; returns the call to time. */
  setup(be: KernelBackend, engine: string): () => Tensor | void;
}

function gemvCase(n: number, k: number, dtype: 'f32' | 'bf16'): Case {
  const x = rand(k, 1);
  const w = rand(n * k, 2, 1 / Math.sqrt(k));
  const bits = f32ToBf16(w);
  return {
    name: `GEMV ${n}x${k} ${dtype}`,
    flops: 2 * n * k,
    bytes: n * k * (dtype === 'f32' ? 4 : 2),
    setup(be, engine) {
      const xt = be.upload(x, [1, k]);
      // The CPU reference takes f32 weights only: it gets the bf16 weights widened (what a loader hands it).
      const wt = dtype === 'f32' ? be.upload(w, [n, k]) : engine === 'cpu' ? be.upload(halfToF32('bf16', bits), [n, k]) : be.upload(bits, [n, k], 'bf16');
      return () => be.matmul(xt, wt);
    },
  };
}

function gemmCase(m: number, n: number, k: number, dtype: 'f32' | 'bf16'): Case {
  const x = rand(m * k, 3);
  const w = rand(n * k, 4, 1 / Math.sqrt(k));
  const bits = f32ToBf16(w);
  return {
    name: `GEMM ${m}x${n}x${k} ${dtype}`,
    flops: 2 * m * n * k,
    bytes: n * k * (dtype === 'f32' ? 4 : 2),
    setup(be, engine) {
      const xt = be.upload(x, [m, k]);
      const wt = dtype === 'f32' ? be.upload(w, [n, k]) : engine === 'cpu' ? be.upload(halfToF32('bf16', bits), [n, k]) : be.upload(bits, [n, k], 'bf16');
      return () => be.matmul(xt, wt);
    },
  };
}

/** Decode attention, Llama-3.2-1B shape: 32 query heads, 8 KV heads, headDim 64. */
function attentionCase(kvLen: number): Case {
  const nHeads = 32, nKv = 8, d = 64;
  const q = rand(nHeads * d, 5);
  const kv = rand(nKv * kvLen * d, 6);
  return {
    name: `attention decode kv=${kvLen} (32/8 heads, d 64)`,
    flops: 2 * 2 * nHeads * kvLen * d,
    bytes: 2 * nKv * kvLen * d * 4,
    setup(be) {
      const qt = be.upload(q, [1, nHeads * d]);
      const kt = be.upload(kv, [nKv, kvLen, d]);
      const vt = be.upload(kv, [nKv, kvLen, d]);
      const p = { nHeads, nKvHeads: nKv, headDim: d, kvLen, causal: false, queryOffset: 0, scale: 0.125 };
      return () => be.attention(qt, kt, vt, p);
    },
  };
}

/**
 * One needle-llama decoder layer's projections at decode (m = 1, hidden 256, intermediate 768, 4/2 heads of 64,
 * bf16 weights): q, k, v, output + residual, gate/up + SwiGLU, down + residual; `fused` uses matmulAdd and
 * matmulSwiglu where the backend has them (model-llama's layerTail does the same), otherwise the separate ops.
 */
function decodeLayerCase(fused: boolean): Case {
  const h = 256, f = 768, kvw = 128;
  const shapes: [string, number, number][] = [['q', h, h], ['k', kvw, h], ['v', kvw, h], ['o', h, h], ['gate', f, h], ['up', f, h], ['down', h, f]];
  const ws = shapes.map(([, n, k], i) => f32ToBf16(rand(n * k, 20 + i, 1 / Math.sqrt(k))));
  const macs = shapes.reduce((a, [, n, k]) => a + n * k, 0);
  return {
    name: `needle-llama decode layer bf16 ${fused ? 'fused' : 'separate'}`,
    flops: 2 * macs,
    bytes: 2 * macs,
    setup(be, engine) {
      const w = shapes.map(([, n, k], i) => (engine === 'cpu' ? be.upload(halfToF32('bf16', ws[i]), [n, k]) : be.upload(ws[i], [n, k], 'bf16')));
      const x = be.upload(rand(h, 30), [1, h]);
      const att = be.upload(rand(h, 31), [1, h]);
      return () => {
        const keep: Tensor[] = [be.matmul(x, w[0]), be.matmul(x, w[1]), be.matmul(x, w[2])];
        const use = fused && be.matmulAdd && be.matmulSwiglu;
        let x1: Tensor;
        let act: Tensor;
        if (use) {
          x1 = be.matmulAdd!(att, w[3], x);
          act = be.matmulSwiglu!(x1, w[4], w[5]);
        } else {
          const o = be.matmul(att, w[3]);
          x1 = be.add(x, o);
          const g = be.matmul(x1, w[4]);
          const u = be.matmul(x1, w[5]);
          act = be.swiglu(g, u);
          keep.push(o, g, u);
        }
        const d = use ? be.matmulAdd!(act, w[6], x1) : be.matmul(act, w[6]);
        const out = use ? d : be.add(x1, d);
        if (!use) keep.push(d);
        for (const t of [...keep, x1, act]) be.dispose(t);
        return out;
      };
    },
  };
}

/** Prefill attention: m causal query rows over themselves. */
function prefillAttentionCase(m: number): Case {
  const nHeads = 32, nKv = 8, d = 64;
  const q = rand(m * nHeads * d, 7);
  const kv = rand(nKv * m * d, 8);
  return {
    name: `attention prefill causal m=${m}`,
    flops: 2 * 2 * nHeads * d * (m * (m + 1)) / 2,
    bytes: 2 * nKv * m * d * 4,
    setup(be) {
      const qt = be.upload(q, [m, nHeads * d]);
      const kt = be.upload(kv, [nKv, m, d]);
      const vt = be.upload(kv, [nKv, m, d]);
      const p = { nHeads, nKvHeads: nKv, headDim: d, kvLen: m, causal: true, queryOffset: 0, scale: 0.125 };
      return () => be.attention(qt, kt, vt, p);
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Times fn: repeats until at least `minMs` passed, returns ms per call. */
function time(fn: () => Tensor | void, be: KernelBackend, minMs: number): number {
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    const r = fn();
    if (r) be.dispose(r);
    calls++;
    t = performance.now();
  } while (t - t0 < minMs);
  return (t - t0) / calls;
}

async function main(): Promise<void> {
  const engines: { name: string; be: KernelBackend }[] = [
    { name: 'cpu', be: cpu() },
    { name: 'wasm-1t', be: await wasm({ threads: 1 }) },
    { name: 'wasm-2t', be: await wasm({ threads: 2 }) },
  ];
  const allCases: Case[] = [
    decodeLayerCase(false),
    decodeLayerCase(true),
    gemvCase(2048, 2048, 'f32'),
    gemvCase(2048, 2048, 'bf16'),
    gemvCase(8192, 2048, 'f32'),
    gemvCase(8192, 2048, 'bf16'),
    gemmCase(quick ? 128 : 256, 2048, 2048, 'f32'),
    gemmCase(quick ? 128 : 256, 2048, 2048, 'bf16'),
    attentionCase(4096),
    attentionCase(16384),
    prefillAttentionCase(quick ? 512 : 1024),
  ];
  const cases = only ? allCases.filter((c) => c.name.includes(only)) : allCases;
  const samples = new Map<string, number[]>();
  const calls = cases.map((c) => engines.map((e) => c.setup(e.be, e.name)));
  // Warm-up (JIT tiers, memory growth, packed scratch), then interleaved rounds.
  for (let ci = 0; ci < cases.length; ci++) for (let ei = 0; ei < engines.length; ei++) time(calls[ci][ei], engines[ei].be, 1);
  for (let r = 0; r < rounds; r++) {
    for (let ci = 0; ci < cases.length; ci++) {
      for (let ei = 0; ei < engines.length; ei++) {
        const key = `${ci}|${ei}`;
        const ms = time(calls[ci][ei], engines[ei].be, 150);
        samples.set(key, [...(samples.get(key) ?? []), ms]);
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds}\n`);
  }
  const rows: Record<string, unknown>[] = [];
  for (let ci = 0; ci < cases.length; ci++) {
    const c = cases[ci];
    const cpuMs = median(samples.get(`${ci}|0`)!);
    for (let ei = 0; ei < engines.length; ei++) {
      const ms = median(samples.get(`${ci}|${ei}`)!);
      const best = Math.min(...samples.get(`${ci}|${ei}`)!);
      rows.push({
        case: c.name, engine: engines[ei].name, ms: +ms.toFixed(3), gflops: +(c.flops / ms / 1e6).toFixed(2), gbps: +(c.bytes / ms / 1e6).toFixed(2),
        vsCpu: +(cpuMs / ms).toFixed(2), bestGflops: +(c.flops / best / 1e6).toFixed(2),
      });
    }
  }
  // Hand-off: a pooled tiny op versus the same op on the calling thread.
  const pooled = await wasm({ threads: 2, thresholds: { elementwise: 0 } });
  const single = await wasm({ threads: 1 });
  const handoff: Record<string, number> = {};
  for (const [label, be] of [['pooled-2t', pooled], ['caller-only', single]] as const) {
    const a = be.upload(Float32Array.of(1, 2, 3, 4), [4]);
    const xs: number[] = [];
    for (let r = 0; r < 15; r++) xs.push(time(() => be.add(a, a), be, 30) * 1000);
    handoff[label] = +median(xs).toFixed(2);
    handoff[`${label}-min`] = +Math.min(...xs).toFixed(2);
  }
  handoff['handoff-us'] = +(handoff['pooled-2t'] - handoff['caller-only']).toFixed(2);
  // GEMV size sweep, 1 vs 2 threads (always pooled): where splitting starts to pay.
  const sweep: { work: number; t1us: number; t2us: number }[] = [];
  const always = await wasm({ threads: 2, thresholds: { matmul: 0 } });
  for (const n of [64, 128, 256, 512, 1024, 2048]) {
    const k = 256;
    const x = rand(k, 9);
    const w = rand(n * k, 10);
    const xs1 = single.upload(x, [1, k]), ws1 = single.upload(w, [n, k]);
    const xs2 = always.upload(x, [1, k]), ws2 = always.upload(w, [n, k]);
    const t1: number[] = [];
    const t2: number[] = [];
    for (let r = 0; r < 11; r++) {
      t1.push(time(() => single.matmul(xs1, ws1), single, 20) * 1000);
      t2.push(time(() => always.matmul(xs2, ws2), always, 20) * 1000);
    }
    sweep.push({ work: n * k, t1us: +median(t1).toFixed(2), t2us: +median(t2).toFixed(2) });
  }
  for (const e of engines) e.be.destroy();
  pooled.destroy();
  single.destroy();
  always.destroy();

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`${pad('case', 46)}${pad('engine', 10)}${pad('ms', 10)}${pad('GFLOP/s', 10)}${pad('GB/s', 9)}${pad('x cpu', 8)}best GFLOP/s`);
  for (const r of rows) {
    console.log(`${pad(String(r.case), 46)}${pad(String(r.engine), 10)}${pad(String(r.ms), 10)}${pad(String(r.gflops), 10)}${pad(String(r.gbps), 9)}${pad(String(r.vsCpu), 8)}${r.bestGflops}`);
  }
  console.log(
    `hand-off of a 4-element add: pooled ${handoff['pooled-2t']} µs (best ${handoff['pooled-2t-min']}), caller only ${handoff['caller-only']} µs (best ${handoff['caller-only-min']})`,
  );
  console.log('GEMV k=256 sweep (multiply-adds: 1 thread µs / 2 threads µs): ' + sweep.map((s) => `${s.work}: ${s.t1us}/${s.t2us}`).join(', '));
  console.log(
    'JSON ' + JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds, machine: 'shared 2-core development machine (loaded by other jobs)', rows, handoff, sweep }),
  );
}

await main();
