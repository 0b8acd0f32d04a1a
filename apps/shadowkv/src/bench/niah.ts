// Needle-in-a-haystack benchmark over the niah-dev.jsonl format (token ids in, answer ids out), greedy decoding.
import { reportedParams } from '@shadowkv/kv-policies';
import { readFile } from 'node:fs/promises';
import { InvalidOptionError, ModelFormatError, type KvCachePolicy, type KvCacheState } from '@shadowkv/core';
import type { Engine } from '../engine.js';
import { createProgress } from '../progress.js';
import { replayPrefill, type PrefillRecordingCache } from './prefill-recording.js';

export interface NiahRow {
  task: string;
  length: number;
  depth?: number;
  prompt_ids: number[];
  answer: string;
  answer_ids: number[];
}

export interface NiahResult {
  accuracy: number;
  correct: number;
  total: number;
  cells: Record<string, { accuracy: number; correct: number; total: number }>;
  seconds: number;
  promptTokens: number;
  policy: { name: string; params: Readonly<Record<string, number | string | boolean>> };
  backend: string;
  model: string;
  /** Sums over the prompts of the KV bytes kept on the fast side after decoding, and of what dense would keep. */
  fastBytes?: number;
  denseBytes?: number;
  /** The parameters the policy used, by prompt length (derived ones differ with it), from the first such prompt. */
  chosen?: Record<string, Readonly<Record<string, number | string | boolean>>>;
}

export async function readNiah(file: string, limit?: number): Promise<NiahRow[]> {
  const text = await readFile(file, 'utf8');
  const rows: NiahRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let row: NiahRow;
    try {
      row = JSON.parse(line) as NiahRow;
    } catch (err) {
      throw new ModelFormatError(file, `line ${i + 1}`, `is not JSON (${(err as Error).message})`);
    }
    for (const f of ['prompt_ids', 'answer_ids'] as const) {
      if (!Array.isArray(row[f]) || row[f].length === 0) throw new ModelFormatError(file, `line ${i + 1}: ${f}`, 'must be a non-empty array of token ids');
    }
    if (typeof row.task !== 'string' || typeof row.length !== 'number') throw new ModelFormatError(file, `line ${i + 1}: task/length`, 'task (string) and length (number) are required');
    rows.push(row);
  }
  const ordered = interleaveCells(rows);
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidOptionError('limit', `${limit} must be an integer >= 1`);
    return ordered.slice(0, limit);
  }
  return ordered;
}

/**
 * Orders rows round-robin over their task/length cells (the first row of every cell, then the second, ...),
 * so that `--limit N` and any prefix of a run cover every task and length evenly.
 */
export function interleaveCells<T extends { task: string; length: number }>(rows: T[]): T[] {
  const cells = new Map<string, T[]>();
  for (const r of rows) {
    const key = `${r.task}/${r.length}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key)!.push(r);
  }
  const out: T[] = [];
  const lists = [...cells.values()];
  for (let i = 0; out.length < rows.length; i++) for (const l of lists) if (i < l.length) out.push(l[i]);
  return out;
}

/** An answer counts when the generated tokens reproduce every answer id but the last (the closing punctuation). */
export function isCorrect(generated: number[], answerIds: number[]): boolean {
  const need = answerIds.slice(0, Math.max(1, answerIds.length - 1));
  return need.every((id, i) => generated[i] === id);
}

/**
 * Runs every row once per policy. Each prompt is prefilled once and shared by all policies (prefill is
 * dense under every policy), then each policy decodes the answer greedily from its own state.
 */
export async function runNiah(
  engine: Engine,
  rows: NiahRow[],
  policies: KvCachePolicy[],
  opts: { quiet?: boolean; label?: string; recordings?: PrefillRecordingCache; twoTurn?: boolean } = {},
): Promise<NiahResult[]> {
  // --two-turn: the haystack is the first turn (prefilled, compressed at its end), the question a second turn
  // fed into each policy's finished state, as a session's next turn is (sessions.md).
  const question = opts.twoTurn ? questionIds(engine) : undefined;
  const results: NiahResult[] = policies.map((p) => ({
    accuracy: 0, correct: 0, total: 0, cells: {}, seconds: 0, promptTokens: 0,
    policy: { name: p.name, params: p.params }, backend: engine.backend.name, model: engine.model.dir,
  }));
  const t0 = performance.now();
  const bar = createProgress(opts.label ?? `niah ${policies.map((p) => p.name).join('+')}`, rows.length, opts.quiet, { everyStep: true });
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const n = row.answer_ids.length;
    const [first, second] = question ? splitAtQuestion(row.prompt_ids, question) : [row.prompt_ids, []];
    const extra = second.length + n; // positions after the first turn
    let states: KvCacheState[];
    let logits: Float32Array;
    if (opts.recordings) {
      // Replaying a recorded prefill gives each policy exactly the state a live prefill would.
      const rec = await opts.recordings.get(engine, first);
      states = [];
      for (const p of policies) states.push(await replayPrefill(engine, rec, p, extra));
      logits = rec.logits;
    } else {
      ({ states, logits } = await engine.prefillShared(first, policies, first.length + extra));
    }
    try {
      for (let p = 0; p < policies.length; p++) {
        let turnLogits = logits;
        if (second.length > 0) {
          const t = await engine.model.forward(second, states[p], { lastLogits: true });
          turnLogits = (await engine.backend.read(t!)) as Float32Array;
          engine.backend.dispose(t!);
        }
        const tokens = await engine.greedy(states[p], turnLogits, n);
        const r = results[p];
        const cell = (r.cells[`${row.task}/${row.length}`] ??= { accuracy: 0, correct: 0, total: 0 });
        const ok = isCorrect(tokens, row.answer_ids);
        cell.total++;
        r.total++;
        if (ok) {
          cell.correct++;
          r.correct++;
        }
        r.promptTokens += row.prompt_ids.length;
        const mem = states[p].memory();
        r.fastBytes = (r.fastBytes ?? 0) + mem.fastBytes;
        r.denseBytes = (r.denseBytes ?? 0) + mem.denseBytes;
        (r.chosen ??= {})[String(row.length)] ??= { ...reportedParams(policies[p], states[p]) };
      }
    } finally {
      for (const s of states) s.dispose();
    }
    bar.update(i + 1, { info: results.map((r) => `${r.policy.name} ${((100 * r.correct) / (i + 1)).toFixed(1)}%`).join(' ') });
  }
  bar.stop();
  const seconds = (performance.now() - t0) / 1000;
  for (const r of results) finishNiah(r, seconds);
  return results;
}

/** Token ids of "\nWhat is", the start of every niah-dev question (all 240 prompts end with one). */
function questionIds(engine: Engine): number[] {
  if (!engine.tokenizer) throw new InvalidOptionError('two-turn', `${engine.model.dir} has no tokenizer.json; --two-turn finds the question by its text`);
  return engine.tokenizer.encode('\nWhat is', { addSpecialTokens: false });
}

/**
 * Splits a niah prompt into the haystack (BOS, text, needles) and the question: at the last occurrence of the
 * question's opening tokens. Throws when a prompt has none (then it is not a niah-dev question).
 */
export function splitAtQuestion(ids: number[], question: number[]): [number[], number[]] {
  for (let i = ids.length - question.length; i > 0; i--) {
    if (question.every((t, j) => ids[i + j] === t)) return [ids.slice(0, i), ids.slice(i)];
  }
  throw new InvalidOptionError('two-turn', `a prompt of ${ids.length} tokens has no question (tokens ${question.join(',')}); --two-turn needs niah-dev prompts`);
}

function finishNiah(r: NiahResult, seconds: number): void {
  for (const c of Object.values(r.cells)) c.accuracy = c.correct / c.total;
  r.accuracy = r.total ? r.correct / r.total : 0;
  r.seconds = seconds;
}

/** Merges results of the same policy computed on disjoint shards of the rows (wall time = slowest shard). */
export function mergeNiah(parts: NiahResult[]): NiahResult {
  const out: NiahResult = { ...parts[0], cells: {}, correct: 0, total: 0, promptTokens: 0, fastBytes: 0, denseBytes: 0, chosen: {} };
  for (const p of parts) {
    out.correct += p.correct;
    out.total += p.total;
    out.promptTokens += p.promptTokens;
    out.fastBytes = (out.fastBytes ?? 0) + (p.fastBytes ?? 0);
    out.denseBytes = (out.denseBytes ?? 0) + (p.denseBytes ?? 0);
    out.chosen = { ...p.chosen, ...out.chosen };
    for (const [k, c] of Object.entries(p.cells)) {
      const m = (out.cells[k] ??= { accuracy: 0, correct: 0, total: 0 });
      m.correct += c.correct;
      m.total += c.total;
    }
  }
  finishNiah(out, Math.max(...parts.map((p) => p.seconds)));
  return out;
}

/**
 * The rows of shard `index` of `count`, balanced by prompt length (prefill cost grows with it): rows are dealt
 * longest first to the shard with the fewest tokens so far, then kept in their original order.
 */
export function shardRows<T extends { prompt_ids: number[] }>(rows: T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new InvalidOptionError('shard', `"${index}/${count}" must be I/N with 0 <= I < N`);
  }
  const load = new Array<number>(count).fill(0);
  const owner = new Int32Array(rows.length);
  const byLength = rows.map((r, i) => i).sort((i, j) => rows[j].prompt_ids.length - rows[i].prompt_ids.length || i - j);
  for (const i of byLength) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    owner[i] = best;
    load[best] += rows[i].prompt_ids.length;
  }
  return rows.filter((_, i) => owner[i] === index);
}

/** A task × length table of accuracies. */
export function formatNiahTable(r: NiahResult): string {
  const tasks = [...new Set(Object.keys(r.cells).map((k) => k.split('/')[0]))];
  const lengths = [...new Set(Object.keys(r.cells).map((k) => Number(k.split('/')[1])))].sort((a, b) => a - b);
  const pad = (s: string, n: number) => s.padStart(n);
  const lines = [`| task | ${lengths.map((l) => pad(String(l), 6)).join(' | ')} |`, `|---|${lengths.map(() => '---:').join('|')}|`];
  for (const t of tasks) {
    lines.push(`| ${t} | ${lengths.map((l) => {
      const c = r.cells[`${t}/${l}`];
      return pad(c ? `${(100 * c.accuracy).toFixed(1)}` : '-', 6);
    }).join(' | ')} |`);
  }
  lines.push('', `overall: ${(100 * r.accuracy).toFixed(1)}% (${r.correct}/${r.total}), policy ${r.policy.name} ${JSON.stringify(r.policy.params)}, backend ${r.backend}, ${r.seconds.toFixed(1)} s, ${Math.round(r.promptTokens / r.seconds)} prompt tok/s`);
  if (r.fastBytes !== undefined && r.denseBytes && r.total) {
    const mib = (b: number) => (b / r.total / 2 ** 20).toFixed(2);
    lines.push(`fast-side KV per prompt: ${mib(r.fastBytes)} MiB (dense ${mib(r.denseBytes)} MiB, ${(r.denseBytes / r.fastBytes).toFixed(2)}x less)`);
  }
  for (const [len, params] of Object.entries(r.chosen ?? {})) {
    if (params.derived !== undefined || params.mode !== undefined) {
      lines.push(`at ${len} tokens: ${Object.entries(params).filter(([k]) => ['rank', 'budget', 'outliers', 'mode'].includes(k)).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  }
  return lines.join('\n');
}
