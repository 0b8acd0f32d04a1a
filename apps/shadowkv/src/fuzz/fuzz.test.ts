// A small seeded subset of the fuzz campaign (`pnpm fuzz`, docs/fuzzing.md) as a CI test: every mutated model
// folder gives a typed error or loads and generates; no untyped error, crash or hang.
import { describe, expect, it } from 'vitest';
import { CATEGORIES } from './fuzz-mutators.js';
import { runFuzz, summaryTable } from './fuzz-runner.js';

describe('fuzz subset (seed 3, 90 cases over every category)', () => {
  it('has no untyped error, crash or hang', { timeout: 120_000 }, async () => {
    const results = await runFuzz({ seed: 3, cases: 90, jobs: 1, timeoutMs: 10_000 });
    const bad = results.filter((r) => r.outcome === 'untyped' || r.outcome === 'crash' || r.outcome === 'hang');
    if (bad.length > 0) console.error(summaryTable(results), bad);
    expect(bad).toEqual([]);
    expect(results).toHaveLength(90);
    // The harness itself works: every category produced cases, some folders load (the seed model is valid) and
    // some are refused.
    for (const c of CATEGORIES) expect(results.filter((r) => r.category === c).length).toBe(15);
    expect(results.filter((r) => r.outcome === 'loaded').length).toBeGreaterThan(5);
    expect(results.filter((r) => r.outcome === 'typed').length).toBeGreaterThan(30);
  });
});
