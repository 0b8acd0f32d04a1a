// Runs fuzz cases in a pool of child processes with a per-case deadline, and classifies every case: typed
// error, loaded, untyped error, crash (the child died) or hang (no answer before the deadline; the child is
// killed and replaced).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBaseModels } from './fuzz-base-model.js';
import type { ChildReply } from './fuzz-child.js';
import { CATEGORIES, makeCase, type Category, type FuzzCase } from './fuzz-mutators.js';

export type Outcome = 'typed' | 'loaded' | 'untyped' | 'crash' | 'hang';
export const OUTCOMES: readonly Outcome[] = ['typed', 'loaded', 'untyped', 'crash', 'hang'];

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** First case id (to run a long campaign in chunks: --start 5000 --cases 5000). */
  start?: number;
  /** Only these case ids (replay). */
  only?: number[];
  jobs: number;
  timeoutMs: number;
  categories?: readonly Category[];
  /** Heap limit of each child (MB): an allocation blow-up is then a crash, not a dead machine. */
  childHeapMb?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface CaseResult {
  id: number;
  category: Category;
  kind: string;
  detail: string;
  outcome: Outcome;
  error?: string;
  ms: number;
}

const CHILD = fileURLToPath(new URL('./fuzz-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface Worker {
  proc: ChildProcess;
  ready: Promise<void>;
  stderr: string;
}

function spawnWorker(heapMb: number): Worker {
  // tsx runs the TypeScript sources; cwd is the repo root so that `--import tsx` resolves.
  const proc = fork(CHILD, [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', '--conditions=@shadowkv/source', `--max-old-space-size=${heapMb}`],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const w: Worker = { proc, stderr: '', ready: Promise.resolve() };
  proc.stderr!.on('data', (d: Buffer) => {
    w.stderr = (w.stderr + d.toString()).slice(-2000);
  });
  w.ready = new Promise((resolve, reject) => {
    proc.once('message', () => resolve());
    proc.once('exit', (code) => reject(new Error(`fuzz child exited (${code}) before it was ready: ${w.stderr}`)));
  });
  return w;
}

/** Runs the campaign; returns one result per case, in id order. */
export async function runFuzz(opts: FuzzOptions): Promise<CaseResult[]> {
  const work = await mkdtemp(join(tmpdir(), 'shadowkv-fuzz-'));
  try {
    const base = await buildBaseModels(join(work, 'base'));
    const start = opts.start ?? 0;
    const ids = opts.only ?? Array.from({ length: opts.cases }, (_, i) => start + i);
    const results: CaseResult[] = [];
    let next = 0;
    const heap = opts.childHeapMb ?? 2048;
    const lane = async () => {
      let w = spawnWorker(heap);
      await w.ready;
      try {
        while (next < ids.length) {
          const c = makeCase(base, opts.seed, ids[next++], opts.categories ?? CATEGORIES);
          const r = await runOne(w, c, work, opts.timeoutMs);
          results.push(r);
          opts.onProgress?.(results.length, ids.length);
          if (r.outcome === 'crash' || r.outcome === 'hang') {
            w.proc.kill('SIGKILL');
            w = spawnWorker(heap);
            await w.ready;
          }
        }
      } finally {
        w.proc.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, lane));
    return results.sort((a, b) => a.id - b.id);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function runOne(w: Worker, c: FuzzCase, work: string, timeoutMs: number): Promise<CaseResult> {
  const base = { id: c.id, category: c.category, kind: c.kind, detail: c.detail };
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (r: CaseResult) => {
      clearTimeout(timer);
      w.proc.off('message', onMessage);
      w.proc.off('exit', onExit);
      resolve(r);
    };
    const onMessage = (m: ChildReply) => {
      if (m.id === c.id) done({ ...base, outcome: m.outcome, error: m.error, ms: m.ms });
    };
    const onExit = (code: number | null, signal: string | null) =>
      done({ ...base, outcome: 'crash', error: `child exited (code ${code}, signal ${signal}): ${w.stderr.slice(-400)}`, ms: performance.now() - t0 });
    const timer = setTimeout(() => done({ ...base, outcome: 'hang', error: `no answer within ${timeoutMs} ms`, ms: timeoutMs }), timeoutMs);
    w.proc.on('message', onMessage);
    w.proc.on('exit', onExit);
    w.proc.send({ id: c.id, dir: work, files: c.files });
  });
}

/** Counts per category and outcome, as a markdown table (the issue's layout). */
export function summaryTable(results: CaseResult[]): string {
  const rows: string[] = ['| category | cases | typed error | loaded | untyped | crash | hang |', '|---|---:|---:|---:|---:|---:|---:|'];
  const cats = [...new Set(results.map((r) => r.category))];
  const line = (name: string, rs: CaseResult[]) =>
    `| ${name} | ${rs.length} | ${OUTCOMES.map((o) => rs.filter((r) => r.outcome === o).length).join(' | ')} |`;
  for (const c of CATEGORIES.filter((x) => cats.includes(x))) rows.push(line(c, results.filter((r) => r.category === c)));
  rows.push(line('**total**', results));
  return rows.join('\n');
}

/** Loaded cases grouped by category and mutation kind (for review: which of them should have failed?). */
export function loadedByKind(results: CaseResult[]): string {
  const counts = new Map<string, { n: number; example: string }>();
  for (const r of results.filter((x) => x.outcome === 'loaded')) {
    const key = `${r.category} / ${r.kind}`;
    const e = counts.get(key) ?? { n: 0, example: r.detail };
    e.n++;
    counts.set(key, e);
  }
  const rows = ['| category / mutation | loaded | example |', '|---|---:|---|'];
  for (const [k, v] of [...counts].sort((a, b) => b[1].n - a[1].n)) rows.push(`| ${k} | ${v.n} | \`${v.example.replace(/[|`\n]/g, ' ').slice(0, 90)}\` |`);
  return rows.join('\n');
}
