// `pnpm fuzz`: the fuzz harness over untrusted model folders (issue 14). Seeded; a few minutes by default.
//   pnpm fuzz [--cases N] [--seed S] [--start ID] [--only ID,ID] [--jobs J] [--timeout-ms MS]
//             [--category safetensors,index,config,tokenizer,tokenizer_config,chat_template] [--json FILE]
// Prints the outcome table (typed error / loaded / untyped / crash / hang) per category, every untyped, crash
// and hang case with its replay id, and the loaded cases grouped by mutation.
import { writeFile } from 'node:fs/promises';
import { CATEGORIES, type Category } from './fuzz-mutators.js';
import { loadedByKind, runFuzz, summaryTable } from './fuzz-runner.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function intArg(name: string, fallback: number): number {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${v}\n`);
    process.exit(2);
  }
  return n;
}

const categories = (arg('category')?.split(',') ?? [...CATEGORIES]) as Category[];
for (const c of categories) {
  if (!CATEGORIES.includes(c)) {
    process.stderr.write(`unknown --category ${c}; use ${CATEGORIES.join(', ')}\n`);
    process.exit(2);
  }
}
const opts = {
  seed: intArg('seed', 1),
  // About three minutes on two busy cores.
  cases: intArg('cases', 1500),
  start: intArg('start', 0),
  only: arg('only')?.split(',').map(Number),
  jobs: intArg('jobs', 2),
  timeoutMs: intArg('timeout-ms', 10_000),
  categories,
};
const t0 = performance.now();
let last = 0;
const results = await runFuzz({
  ...opts,
  onProgress: (done, total) => {
    if (performance.now() - last > 5000 || done === total) {
      last = performance.now();
      process.stderr.write(`fuzz: ${done}/${total} cases, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  },
});
const bad = results.filter((r) => r.outcome === 'untyped' || r.outcome === 'crash' || r.outcome === 'hang');
console.log(`\nseed ${opts.seed}, cases ${opts.start}..${opts.start + results.length - 1}, ${opts.jobs} jobs, deadline ${opts.timeoutMs} ms per case, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
console.log(summaryTable(results));
console.log('\nLoaded cases by mutation:\n');
console.log(loadedByKind(results));
if (bad.length > 0) {
  console.log('\nUntyped errors, crashes and hangs (replay with --only ID):\n');
  for (const r of bad) console.log(`- #${r.id} ${r.outcome} ${r.category} / ${r.kind}: ${r.detail} -> ${r.error}`);
}
const json = arg('json');
if (json) await writeFile(json, JSON.stringify({ opts, results }, null, 1));
process.exitCode = bad.length > 0 ? 1 : 0;
