// `bench speed --peer llama.cpp` / `--bandwidth`: our runs interleaved with llama.cpp's on the same model and
// prompt ids (at our thread count and at each other count up to the cores), repeated, medians, ratios
// ours/peer, and a memory-bandwidth probe measured in the same run with the decode floor it implies.
import { availableParallelism, cpus } from 'node:os';
import type { KvCachePolicy } from '@shadowkv/core';
import type { Engine } from '../engine.js';
import { createProgress } from '../progress.js';
import { measureReadBandwidth, type BandwidthResult } from './memory-bandwidth.js';
import type { LlamaCppPeer, PeerSpeedResult } from './peer-llama-cpp.js';
import { runSpeed, syntheticPrompt, type SpeedResult } from './speed.js';

/** One of our measurements, named as ours, with the thread count and weights dtype it ran with. */
export interface OurSpeedResult extends SpeedResult {
  engine: 'shadowkv';
  /** Why this backend was chosen (the 'auto' decision, or that it was asked for). */
  backendReason: string;
  threads: number;
  weightsDtype: string;
  /** Prompt tokens per second of the dense prefill alone (no policy state build): compared with the peer's. */
  densePrefillTokensPerSecond: number;
  /** Weight bytes one decode step reads, and that over the measured read bandwidth (ms), when measured. */
  decodeWeightBytes: number;
  decodeFloorMs: number | null;
}

export type ComparisonRow = OurSpeedResult | PeerSpeedResult;

/** ours / peer for one of our rows: against llama.cpp at our thread count and at its best count. */
export interface SpeedRatio {
  backend: string;
  policy: string;
  context: number;
  threads: number;
  prefillVsPeerSameThreads: number | null;
  prefillVsPeerBest: number | null;
  decodeVsPeerSameThreads: number | null;
  decodeVsPeerBest: number | null;
  peerBestPrefillThreads: number | null;
  peerBestDecodeThreads: number | null;
}

export interface SpeedComparison {
  date: string;
  machine: { cpu: string; cores: number; note: string };
  repeat: number;
  /** Medians over the repeats. */
  rows: ComparisonRow[];
  /** Every single measurement, in the order taken (interleaved). */
  samples: ComparisonRow[];
  ratios: SpeedRatio[];
  bandwidth: BandwidthResult | null;
}

export interface ComparisonOptions {
  contexts: number[];
  newTokens: number;
  repeat: number;
  /** Fresh policy objects for one run (policies keep no state between runs, but are cheap to make). */
  policies: () => KvCachePolicy[];
  peer?: { peer: LlamaCppPeer; threads: number[] };
  bandwidth: boolean;
  quiet: boolean;
  /** Called with the report so far after every context (to write partial results). */
  onProgress?: (report: SpeedComparison) => Promise<void>;
}

/** Our backend's thread count: the wasm backend's `threads`, else 1 (the cpu backend is single-threaded). */
export function backendThreads(engine: Engine): number {
  const t = (engine.backend as { threads?: unknown }).threads;
  return typeof t === 'number' && t > 0 ? t : 1;
}

/** llama.cpp thread counts to run: ours and every count from 1 to the cores (its best is among them). */
export function peerThreadCounts(ours: number[], cores = availableParallelism()): number[] {
  return [...new Set([...ours, ...Array.from({ length: cores }, (_, i) => i + 1)])].sort((a, b) => a - b);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ourKey = (r: OurSpeedResult) => `${r.backend}|${r.weightsDtype}|${r.threads}|${r.policy.name}|${JSON.stringify(r.policy.params)}|${r.context}`;
const peerKey = (r: PeerSpeedResult) => `${r.gguf}|${r.threads}|${r.context}`;

/** Median row of repeated measurements: the sample with the median decode, carrying the median prefill rates. */
function medianRow<T extends ComparisonRow>(rows: T[]): T {
  const byDecode = [...rows].sort((a, b) => a.decodeTokensPerSecond - b.decodeTokensPerSecond);
  const row = { ...byDecode[(byDecode.length - 1) >> 1] };
  row.prefillTokensPerSecond = median(rows.map((r) => r.prefillTokensPerSecond));
  row.decodeTokensPerSecond = median(rows.map((r) => r.decodeTokensPerSecond));
  if (row.engine === 'shadowkv') {
    const ours = rows as OurSpeedResult[];
    (row as OurSpeedResult).densePrefillTokensPerSecond = median(ours.map((r) => r.densePrefillTokensPerSecond));
    (row as OurSpeedResult).stepMs = { ...(row as OurSpeedResult).stepMs, total: median(ours.map((r) => r.stepMs.total)) };
  } else {
    (row as PeerSpeedResult).stepMs = median((rows as PeerSpeedResult[]).map((r) => r.stepMs));
  }
  return row;
}

function groupMedians(samples: ComparisonRow[]): ComparisonRow[] {
  const groups = new Map<string, ComparisonRow[]>();
  for (const r of samples) {
    const k = r.engine === 'shadowkv' ? `o|${ourKey(r)}` : `p|${peerKey(r)}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => medianRow(g));
}

function ratiosOf(rows: ComparisonRow[]): SpeedRatio[] {
  const peers = rows.filter((r): r is PeerSpeedResult => r.engine === 'llama.cpp');
  const out: SpeedRatio[] = [];
  for (const r of rows) {
    if (r.engine !== 'shadowkv') continue;
    const at = peers.filter((p) => p.context === r.context);
    const same = at.find((p) => p.threads === r.threads);
    const bestPrefill = at.reduce<PeerSpeedResult | null>((b, p) => (!b || p.prefillTokensPerSecond > b.prefillTokensPerSecond ? p : b), null);
    const bestDecode = at.reduce<PeerSpeedResult | null>((b, p) => (!b || p.decodeTokensPerSecond > b.decodeTokensPerSecond ? p : b), null);
    out.push({
      backend: r.backend,
      policy: r.policy.name,
      context: r.context,
      threads: r.threads,
      prefillVsPeerSameThreads: same ? r.densePrefillTokensPerSecond / same.prefillTokensPerSecond : null,
      prefillVsPeerBest: bestPrefill ? r.densePrefillTokensPerSecond / bestPrefill.prefillTokensPerSecond : null,
      decodeVsPeerSameThreads: same ? r.decodeTokensPerSecond / same.decodeTokensPerSecond : null,
      decodeVsPeerBest: bestDecode ? r.decodeTokensPerSecond / bestDecode.decodeTokensPerSecond : null,
      peerBestPrefillThreads: bestPrefill?.threads ?? null,
      peerBestDecodeThreads: bestDecode?.threads ?? null,
    });
  }
  return out;
}

/**
 * Runs every context `repeat` times; within a repeat, each of our engines, then llama.cpp at each thread
 * count, then the bandwidth probe, so that load on a shared machine hits all of them alike.
 */
export async function runSpeedComparison(engines: Engine[], opts: ComparisonOptions): Promise<SpeedComparison> {
  const samples: ComparisonRow[] = [];
  const bw: BandwidthResult[] = [];
  const bwThreads = Math.max(...engines.map(backendThreads));
  const peerThreads = opts.peer?.threads ?? [];
  const steps = opts.contexts.length * opts.repeat * (engines.length + peerThreads.length + (opts.bandwidth ? 1 : 0));
  let step = 0;
  const t0 = performance.now();
  const say = (what: string) => {
    step++;
    if (opts.quiet) return;
    const el = (performance.now() - t0) / 1000;
    const eta = step > 1 ? ` (elapsed ${el.toFixed(0)} s, about ${((el / (step - 1)) * (steps - step + 1)).toFixed(0)} s left)` : '';
    process.stderr.write(`[${step}/${steps}] ${what}${eta}\n`);
  };
  const report = (): SpeedComparison => {
    const bandwidth = bw.length ? { ...bw[bw.length - 1], bytesPerSecond: median(bw.map((b) => b.bytesPerSecond)), samples: bw.map((b) => b.bytesPerSecond), rounds: bw.length * bw[0].rounds } : null;
    const rows = groupMedians(samples).map((r) =>
      r.engine === 'shadowkv' && bandwidth ? { ...r, decodeFloorMs: (1000 * r.decodeWeightBytes) / bandwidth.bytesPerSecond } : r,
    );
    return {
      date: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), note: 'medians of interleaved repeats' },
      repeat: opts.repeat,
      rows,
      samples,
      ratios: ratiosOf(rows),
      bandwidth,
    };
  };
  for (const context of opts.contexts) {
    for (let rep = 0; rep < opts.repeat; rep++) {
      const tag = `context ${context}, repeat ${rep + 1}/${opts.repeat}`;
      for (const engine of engines) {
        const threads = backendThreads(engine);
        say(`${engine.backend.name} (${threads} thread${threads > 1 ? 's' : ''}, ${engine.model.weights.dtype} weights) ${tag}`);
        let bar: ReturnType<typeof createProgress> | undefined;
        const rs = await runSpeed(engine, opts.policies(), context, opts.newTokens, (d, t) => {
          bar ??= createProgress(`  prefill ${context}`, t, opts.quiet);
          bar.update(d);
        });
        bar?.stop();
        for (const r of rs) {
          samples.push({
            ...r,
            engine: 'shadowkv',
            backendReason: engine.backendReason,
            threads,
            weightsDtype: engine.model.weights.dtype,
            densePrefillTokensPerSecond: context / (r.prefillSeconds - r.buildSeconds),
            decodeWeightBytes: engine.model.decodeWeightBytes(),
            decodeFloorMs: null,
          });
          if (!opts.quiet) process.stderr.write(`  ${r.policy.name}: prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(2)} tok/s\n`);
        }
      }
      if (opts.peer) {
        const c = engines[0].model.config;
        const ids = syntheticPrompt(context, c.vocabSize, c.bosTokenId);
        for (const threads of peerThreads) {
          say(`llama.cpp (${threads} thread${threads > 1 ? 's' : ''}, ${opts.peer.peer.gguf}) ${tag}`);
          const r = await opts.peer.peer.run(ids, opts.newTokens, threads);
          samples.push(r);
          if (!opts.quiet) process.stderr.write(`  prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(2)} tok/s\n`);
        }
      }
      if (opts.bandwidth) {
        say(`memory read bandwidth, ${bwThreads} thread(s) ${tag}`);
        const b = await measureReadBandwidth({ threads: bwThreads, rounds: 1 });
        bw.push(b);
        if (!opts.quiet) process.stderr.write(`  ${(b.bytesPerSecond / 1e9).toFixed(2)} GB/s\n`);
      }
    }
    await opts.onProgress?.(report());
  }
  return report();
}

const f = (x: number | null, d = 2) => (x === null ? '-' : x.toFixed(d));
const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}x`);

/** Markdown tables: every row (ours and llama.cpp's) with ms/token and the decode floor, then the ratios. */
export function formatSpeedComparison(c: SpeedComparison): string {
  const out = [
    '| engine | backend | weights | threads | policy | context | prefill tok/s | decode tok/s | ms/token | floor ms/token |',
    '|---|---|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of c.rows) {
    if (r.engine === 'shadowkv') {
      const params = Object.entries(r.policy.params).map(([k, v]) => `${k}=${v}`).join(' ');
      out.push(`| shadowkv | ${r.backend} | ${r.weightsDtype} | ${r.threads} | ${r.policy.name}${params ? ` (${params})` : ''} | ${r.context} | ${f(r.densePrefillTokensPerSecond, 1)} | ${f(r.decodeTokensPerSecond)} | ${f(r.stepMs.total)} | ${f(r.decodeFloorMs)} |`);
    } else {
      out.push(`| llama.cpp | ${r.backend} | ${r.gguf} | ${r.threads} | dense | ${r.context} | ${f(r.prefillTokensPerSecond, 1)} | ${f(r.decodeTokensPerSecond)} | ${f(r.stepMs)} | - |`);
    }
  }
  if (c.ratios.some((r) => r.prefillVsPeerBest !== null)) {
    out.push(
      '',
      '| backend | policy | context | threads | prefill / llama.cpp (same threads) | prefill / llama.cpp (best: threads) | decode / llama.cpp (same threads) | decode / llama.cpp (best: threads) |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of c.ratios) {
      out.push(`| ${r.backend} | ${r.policy} | ${r.context} | ${r.threads} | ${ratio(r.prefillVsPeerSameThreads)} | ${ratio(r.prefillVsPeerBest)} (${r.peerBestPrefillThreads ?? '-'}) | ${ratio(r.decodeVsPeerSameThreads)} | ${ratio(r.decodeVsPeerBest)} (${r.peerBestDecodeThreads ?? '-'}) |`);
    }
  }
  if (c.bandwidth) {
    out.push('', `Memory read bandwidth: ${(c.bandwidth.bytesPerSecond / 1e9).toFixed(2)} GB/s (${c.bandwidth.what}; median over the run's ${c.bandwidth.samples.length} probe(s)). Floor = weight bytes read per decode step / that bandwidth.`);
  }
  out.push('', `Prefill tok/s of our rows is the dense prefill alone (policy state build excluded). ${c.machine.cpu}, ${c.machine.cores} cores, ${c.date}, ${c.machine.note} (${c.repeat} repeat(s)).`);
  return out.join('\n');
}
