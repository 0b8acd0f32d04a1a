// Micro-benchmark of ShadowKV's per-layer selection step (decode step 2 and the key rebuild of step 4) with
// needle-llama's shapes, per backend: the authors' path (landmark scores + top-k + rebuild of the budget) and
// the SHADOWKV_ACCURATE path (spread query + landmark scores + top-k + refine over 2x the budget), op by op.
// Engines are interleaved round by round and medians reported (the development machine is shared).
// Run: npx tsx --conditions=@shadowkv/source packages/sparse-select/bench/select-step.ts [--rounds 5] [--context 4096,16384]
import type { KernelBackend, RopeSpec, Tensor } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { wasm } from '../../kernels-wasm/src/index.js'; // a bench-only import: sparse-select does not depend on kernels-wasm
import { landmarkChunkIds, refineChunksKeepingKeys, selectChunks, spreadQuery, topChunksByMass } from '../src/index.js';
import { randomArray as rand } from '../src/random-data.test-support.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const rounds = Number(arg('--rounds', '5'));
const contexts = arg('--context', '4096,16384').split(',').map(Number);
const engines = arg('--engines', 'cpu,wasm-1t,wasm-2t').split(',');
const iters = Number(arg('--iters', '30'));

// needle-llama: 4 query heads, 2 KV heads, headDim 64; B=256, chunk 8, outliers 4, local 4 chunks; preset rank 30, 8 groups.
const nHeads = 4, nKv = 2, d = 64, cs = 8, budget = 256, nSelect = budget / cs;
const scale = 1 / Math.sqrt(d);
const groups = 8;
const rope: RopeSpec = { headDim: d, invFreq: Float32Array.from({ length: d / 2 }, (_, i) => 1 / 100000 ** ((2 * i) / d)), attentionScaling: 1 };

interface Setup {
  name: string;
  run(): Promise<void>;
}

function setups(be: KernelBackend, ctx: number): Setup[] {
  const nChunks = ctx / cs - 4 - 4 - 1; // minus local and outliers, roughly
  const chunkIds = Int32Array.from({ length: nKv * nChunks }, (_, i) => i % nChunks);
  const q = be.upload(rand(nHeads * d, 1), [1, nHeads * d]);
  const lm = be.upload(rand(nKv * nChunks * d, 2), [nKv, nChunks, d]);
  const lmSpread = be.upload(rand(nKv * nChunks * (d + groups), 3), [nKv, nChunks, d + groups]);
  const mk = (rank: number) => ({ a: be.upload(rand(ctx * rank, 4, 0.2), [ctx, rank]), b: be.upload(rand(nKv * rank * d, 5), [nKv, rank, d]), rope });
  const k32 = mk(32), k30 = mk(30);
  const selIds = Int32Array.from({ length: nKv * nSelect }, (_, i) => ((i % nSelect) * 37) % nChunks);
  const candIds = Int32Array.from({ length: nKv * 2 * nSelect }, (_, i) => ((i % (2 * nSelect)) * 13) % nChunks);
  // A decode buffer like ShadowKV's Kd whose budget slots hold 26 of the 64 candidates per head (40%, what
  // needle-llama's refine finds resident at 4K) and 6 other chunks.
  const kd = be.upload(rand(nKv * (budget + 64) * d, 8), [nKv, budget + 64, d]);
  const slots = Int32Array.from({ length: nKv * nSelect }, (_, i) => (i % nSelect < 26 ? candIds[Math.floor(i / nSelect) * 2 * nSelect + 2 * (i % nSelect)] : 100000 + i));
  const cand2B = be.upload(rand(nKv * 2 * budget * d, 6), [nKv, 2 * budget, d]);
  const mass = rand(nKv * 2 * budget, 7).map(Math.abs);
  const ops = {
    spreadQuery: async () => be.dispose(await spreadQuery(be, q, nHeads, groups)),
    landmarkScores: async () => be.dispose(be.landmarkScores(q, lm, nHeads, scale)),
    topK: async () => {
      const s = be.landmarkScores(q, lm, nHeads, scale);
      const t = be.topK(s, 2 * nSelect);
      be.dispose(s);
      be.dispose(t);
    },
    'rebuild B': async () => {
      const idx = be.upload(selIds, [nKv, nSelect], 'i32');
      be.dispose(be.rebuildKeys(k32.a, k32.b, idx, cs, 0, rope));
      be.dispose(idx);
    },
    'rebuild 2B': async () => {
      const idx = be.upload(candIds, [nKv, 2 * nSelect], 'i32');
      be.dispose(be.rebuildKeys(k30.a, k30.b, idx, cs, 0, rope));
      be.dispose(idx);
    },
    'score 2B keys': async () => be.dispose(be.landmarkScores(q, cand2B, nHeads, scale)),
    'score 2B + read': async () => {
      const s = be.landmarkScores(q, cand2B, nHeads, scale);
      await be.read(s);
      be.dispose(s);
    },
    topChunksByMass: async () => {
      topChunksByMass(mass, candIds, nKv, cs, nSelect);
    },
    'gather 2B from Kd': async () => {
      const idx = be.upload(Int32Array.from({ length: nKv * 2 * nSelect }, (_, i) => i % nSelect), [nKv, 2 * nSelect], 'i32');
      be.dispose(be.gatherChunks(kd, idx, cs));
      be.dispose(idx);
    },
    'rebuild 38 + scatter': async () => {
      const idx = be.upload(candIds.subarray(0, nKv * 38), [nKv, 38], 'i32');
      const at = be.upload(Int32Array.from({ length: nKv * 38 }, (_, i) => i % 38), [nKv, 38], 'i32');
      const r = be.rebuildKeys(k30.a, k30.b, idx, cs, 0, rope);
      be.scatterChunks(cand2B, r, at, cs);
      be.dispose(r);
      be.dispose(idx);
      be.dispose(at);
    },
    'authors select': async () => {
      const sel = selectChunks(be, q, lm, nHeads, nSelect, scale);
      const pos = (await be.read(sel)) as Int32Array;
      be.dispose(sel);
      landmarkChunkIds(pos, chunkIds, nKv, nChunks);
    },
    'accurate select+refine': async () => {
      const qs = await spreadQuery(be, q, nHeads, groups);
      const sel = selectChunks(be, qs, lmSpread, nHeads, 2 * nSelect, scale);
      be.dispose(qs);
      const pos = (await be.read(sel)) as Int32Array;
      be.dispose(sel);
      const cand = landmarkChunkIds(pos, chunkIds, nKv, nChunks);
      const r = await refineChunksKeepingKeys(be, q, k30, cand, nKv, nHeads, cs, nSelect, scale);
      be.dispose(r.rebuilt);
    },
    'accurate refine only': async () => {
      const r = await refineChunksKeepingKeys(be, q, k30, candIds, nKv, nHeads, cs, nSelect, scale);
      be.dispose(r.rebuilt);
    },
    'accurate refine, 40% resident': async () => {
      const r = await refineChunksKeepingKeys(be, q, k30, candIds, nKv, nHeads, cs, nSelect, scale, undefined, { keys: kd, slots });
      be.dispose(r.rebuilt);
    },
  };
  return Object.entries(ops).map(([name, run]) => ({ name, run }));
}

async function main(): Promise<void> {
  const bes: Record<string, KernelBackend> = {};
  // wasm-1t, wasm-2t, or wasm-2t-sN: two threads with the sparse ops split from 2^N multiply-adds.
  for (const e of engines) {
    const split = /^wasm-2t-s(\d+)$/.exec(e);
    bes[e] = e === 'cpu' ? cpu() : await wasm({ threads: e.startsWith('wasm-2t') ? 2 : 1, thresholds: split ? { sparse: 2 ** Number(split[1]) } : {} });
  }
  const rows: { ctx: number; op: string; engine: string; us: number[] }[] = [];
  for (const ctx of contexts) {
    const per: Record<string, Setup[]> = {};
    for (const e of engines) per[e] = setups(bes[e], ctx);
    const n = per[engines[0]].length;
    for (let i = 0; i < n; i++) for (const e of engines) rows.push({ ctx, op: per[e][i].name, engine: e, us: [] });
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < n; i++) {
        for (const e of engines) {
          const s = per[e][i];
          const its = e === 'cpu' ? Math.max(3, iters / 5) : iters;
          await s.run();
          const t = performance.now();
          for (let k = 0; k < its; k++) await s.run();
          rows.find((x) => x.ctx === ctx && x.op === s.name && x.engine === e)!.us.push(((performance.now() - t) / its) * 1000);
        }
      }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`| context | op | ${engines.join(' µs | ')} µs |`);
  console.log(`|---:|---|${engines.map(() => '---:').join('|')}|`);
  for (const ctx of contexts) {
    for (const op of [...new Set(rows.filter((r) => r.ctx === ctx).map((r) => r.op))]) {
      console.log(`| ${ctx} | ${op} | ${engines.map((e) => med(rows.find((r) => r.ctx === ctx && r.op === op && r.engine === e)!.us).toFixed(1)).join(' | ')} |`);
    }
  }
  console.log('JSON ' + JSON.stringify(rows.map((r) => ({ ...r, median: med(r.us) }))));
  for (const be of Object.values(bes)) (be as { destroy?: () => void }).destroy?.();
}

await main();
