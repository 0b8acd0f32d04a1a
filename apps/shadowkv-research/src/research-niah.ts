// Research driver: runs named sets of ShadowKV variants on recorded niah prefills and prints accuracy with
// per-layer diagnostics. Usage (from the repo root):
//   npx tsx --conditions=@shadowkv/source apps/shadowkv-research/src/research-niah.ts \
//     --model ../shared/models/needle-llama --data ../shared/bench/niah-dev.jsonl --set diag --limit 48 [--out f.jsonl]
// Only prompts whose prefill is already recorded (bench niah --prefill-cache) are used; none is recorded here.
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { createEngine } from 'shadowkv';
import type { KvCacheState } from '@shadowkv/core';
import type { Engine } from 'shadowkv';
import { readNiah } from 'shadowkv/bench';
import { needlePositions } from './needle-positions.js';
import { windowQueries } from './window-queries.js';
import { PrefillRecordingCache } from 'shadowkv/bench';
import { shadowkv } from '@shadowkv/kv-policies';
import { replayPrefill } from 'shadowkv/bench';
import type { PolicyRun, ResearchConfig } from './research-config.js';
import { PromptData, researchFastBytes, ResearchState } from './research-state.js';
import { RESEARCH_SETS } from './research-sets.js';

/**
 * Decodes the answer with teacher forcing: step i feeds answer token i and scores token i+1. Every needed token
 * (all but the closing one, as isCorrect) being the argmax is exactly greedy decoding reproducing the answer;
 * the margins (correct logit minus the best other) say by how much, which separates variants on few rows.
 */
async function teacherForced(engine: Engine, state: KvCacheState, first: Float32Array, answer: number[]): Promise<{ ok: boolean; minMargin: number }> {
  const need = Math.max(1, answer.length - 1);
  let logits = first;
  let minMargin = Infinity;
  for (let i = 0; i < need; i++) {
    let other = -Infinity;
    for (let v = 0; v < logits.length; v++) if (v !== answer[i] && logits[v] > other) other = logits[v];
    minMargin = Math.min(minMargin, logits[answer[i]] - other);
    if (i === need - 1) break;
    const t = await engine.model.forward([answer[i]], state, { lastLogits: true });
    logits = (await engine.backend.read(t!)) as Float32Array;
    engine.backend.dispose(t!);
  }
  return { ok: minMargin > 0, minMargin };
}

interface Tally {
  correct: number;
  total: number;
  /** Sum over rows of min(minMargin, 5): large margins saturate so that easy rows do not dominate. */
  margin: number;
  fastBytes: number;
  /** Sums over steps and rows, per layer: massKept, outErr, oracleRecall, needleHit, and the count. */
  layer: { mass: number; err: number; recall: number; needle: number; n: number }[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: '../shared/models/needle-llama' },
      data: { type: 'string', default: '../shared/bench/niah-dev.jsonl' },
      set: { type: 'string', default: 'diag' },
      limit: { type: 'string' },
      from: { type: 'string', default: '0' },
      out: { type: 'string' },
      cache: { type: 'string', default: join(tmpdir(), 'shadowkv-prefill-cache') },
      wait: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'cpu' },
      'no-diag': { type: 'boolean', default: false },
      hard: { type: 'boolean', default: false },
    },
  });
  const sets = String(values.set).split(',');
  const configs: (ResearchConfig | PolicyRun)[] = sets.flatMap((s) => {
    const f = RESEARCH_SETS[s];
    if (!f) throw new Error(`unknown set "${s}"; use one of ${Object.keys(RESEARCH_SETS).join(', ')}`);
    return f();
  });
  const engine = await createEngine({ model: values.model as string, backend: values.backend as 'cpu' | 'wasm' });
  const c = engine.model.config;
  // --hard: only the cells where the authors' selection loses (single and multikey at 3K tokens and more).
  const rows = (await readNiah(values.data as string, values.limit ? Number(values.limit) : undefined))
    .slice(Number(values.from))
    .filter((r) => !values.hard || (r.task !== 'passkey' && r.length >= 3072));
  const recordings = await PrefillRecordingCache.open(values.cache as string, engine);
  const tallies = new Map<string, Tally>(configs.map((cfg) => [cfg.name, { correct: 0, total: 0, margin: 0, fastBytes: 0, layer: Array.from({ length: c.nLayers }, () => ({ mass: 0, err: 0, recall: 0, needle: 0, n: 0 })) }]));
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    // --wait: another process is recording the prompts in this order; poll instead of recording here.
    while (values.wait && !recordings.has(row.prompt_ids)) await new Promise((r) => setTimeout(r, 20_000));
    if (!recordings.has(row.prompt_ids)) {
      process.stderr.write(`row ${i}: no recording yet, stopping here\n`);
      break;
    }
    const rec = await recordings.get(engine, row.prompt_ids);
    const data = new PromptData(rec, c.nKvHeads, c.headDim, engine.model.rope);
    const needle = needlePositions(row);
    const line: Record<string, unknown> = { i: i + Number(values.from), task: row.task, length: row.length, needle: needle.length ? [needle[0], needle[needle.length - 1]] : [] };
    const window = Math.max(0, ...configs.map((cfg) => ('outlierRule' in cfg && cfg.outlierRule === 'query' ? cfg.queryWindow : 0)));
    const wq = window ? await windowQueries(engine, rec, row.prompt_ids, window) : undefined;
    for (const cfg of configs) {
      if ('policy' in cfg) {
        const st = await replayPrefill(engine, rec, shadowkv(cfg.policy), row.answer_ids.length);
        const fast = st.memory().fastBytes;
        const { ok, minMargin } = await teacherForced(engine, st, rec.logits, row.answer_ids);
        const { hits, misses, selectMs, rebuildMs } = st.stats();
        st.dispose();
        const t = tallies.get(cfg.name) as Tally;
        t.total++;
        if (ok) t.correct++;
        t.margin += Math.min(minMargin, 5);
        t.fastBytes += fast;
        line[cfg.name] = { ok, margin: Number(minMargin.toFixed(3)), fastBytes: fast, hits, misses, selectMs: Math.round(selectMs), rebuildMs: Math.round(rebuildMs) };
        continue;
      }
      // Configs with a shorter window take the last rows of the longest one.
      const q = wq && cfg.outlierRule === 'query' ? wq.map((x) => x.subarray(x.length - (cfg.queryWindow * x.length) / window)) : undefined;
      const state = new ResearchState(engine, cfg, data, needle, q, !values['no-diag']);
      const { ok, minMargin } = await teacherForced(engine, state, rec.logits, row.answer_ids);
      const t = tallies.get(cfg.name) as Tally;
      t.total++;
      if (ok) t.correct++;
      t.margin += Math.min(minMargin, 5);
      t.fastBytes += researchFastBytes(cfg, engine, rec.promptLen, state.ranks);
      const perLayer = state.diags.map((steps, l) => {
        const m = { mass: 0, err: 0, recall: 0, needle: 0 };
        for (const d of steps) {
          m.mass += d.massKept / steps.length;
          m.err += d.outErr / steps.length;
          m.recall += d.oracleRecall / steps.length;
          m.needle += d.needleHit / steps.length;
        }
        const tl = t.layer[l];
        tl.mass += m.mass;
        tl.err += m.err;
        tl.recall += m.recall;
        tl.needle += Number.isNaN(m.needle) ? 0 : m.needle;
        tl.n++;
        return [m.mass, m.err, m.recall, m.needle].map((x) => Number(x.toFixed(4)));
      });
      line[cfg.name] = { ok, margin: Number(minMargin.toFixed(3)), ranks: state.ranks, layers: perLayer };
    }
    if (values.out) await appendFile(values.out as string, `${JSON.stringify(line)}\n`);
    const secs = ((performance.now() - t0) / 1000).toFixed(0);
    process.stderr.write(`row ${i + 1}/${rows.length} ${row.task}/${row.length} ${secs}s: ${configs.map((cfg) => `${cfg.name}=${(line[cfg.name] as { ok: boolean }).ok ? 1 : 0}`).join(' ')}\n`);
  }
  for (const cfg of configs) {
    const t = tallies.get(cfg.name) as Tally;
    const lay = 'policy' in cfg ? '' : t.layer.map((l) => `${(l.mass / l.n).toFixed(3)}/${(l.err / l.n).toFixed(3)}/${(l.recall / l.n).toFixed(2)}/${(l.needle / l.n).toFixed(2)}`).join(' ');
    process.stdout.write(`${cfg.name.padEnd(28)} ${((100 * t.correct) / t.total).toFixed(1).padStart(5)}% (${t.correct}/${t.total}) margin ${(t.margin / t.total).toFixed(2)} fast ${(t.fastBytes / t.total / 1024).toFixed(0)} KiB  layers mass/err/recall/needle: ${lay}\n`);
  }
}

await main();
