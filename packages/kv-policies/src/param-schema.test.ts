// The parameter schemas: every problem reported at once, the inline syntax, and the README table kept in sync.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { kcache } from './kcache.js';
import { paramsTable, PolicyParamsError, resolveParams } from './param-schema.js';
import { createPolicy, parsePolicySpec, POLICY_NAMES, POLICY_SCHEMAS } from './policy-registry.js';
import { shadowkv } from './shadowkv.js';
import { SHADOWKV_PARAMS } from './shadowkv-params.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

function errorOf(f: () => unknown): PolicyParamsError {
  try {
    f();
  } catch (e) {
    if (e instanceof PolicyParamsError) return e;
    throw e;
  }
  throw new Error('expected a PolicyParamsError');
}

describe('policy parameter schemas', () => {
  it('report every bad parameter in one error, the first as its option', () => {
    const e = errorOf(() => shadowkv({ rank: 0, chunkSize: 2.5, outliers: -1, svd: 'full' as 'exact', quantizeValues: 1 as unknown as boolean }));
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect(e.problems.map((p) => p.option)).toEqual(['rank', 'chunkSize', 'outliers', 'svd', 'quantizeValues']);
    expect(e.option).toBe('rank');
    expect(e.message).toMatch(/option "rank": must be an integer >= 1, got 0; option "chunkSize": .*option "svd": must be 'auto', 'exact' or 'randomized', got 'full'.*\(5 problems in the shadowkv parameters\)/);
  });

  it('run the cross-parameter rules once every value has its type, and report each', () => {
    const e = errorOf(() => shadowkv({ budget: 12, chunkSize: 8 }));
    expect(e.problems).toEqual([{ option: 'budget', message: '12 is not a multiple of chunkSize 8; use 8 or 16' }]);
    expect(errorOf(() => shadowkv({ budget: 4 })).message).toMatch(/covers at least one chunk of 8/);
    // Cross rules wait for the types: a non-integer chunkSize is reported alone, not as a budget problem too.
    expect(errorOf(() => shadowkv({ chunkSize: 2.5, budget: 100 })).problems.map((p) => p.option)).toEqual(['chunkSize']);
  });

  it('kcache: topN and mass exclude each other, and the topN default applies only without mass', () => {
    expect(kcache().params).toEqual({ topN: 256, quantizeValues: false });
    expect(kcache({ mass: 0.9 }).params).toEqual({ mass: 0.9, quantizeValues: false });
    const e = errorOf(() => kcache({ topN: 10, mass: 2 }));
    expect(e.problems).toEqual([
      { option: 'mass', message: 'give either topN (10) or mass (2), not both' },
      { option: 'mass', message: 'must be in (0, 1], got 2; e.g. 0.9 for the tokens holding 90% of the attention' },
    ]);
  });

  it('every default passes its own checks, and a parameter shared by policies has one type', () => {
    for (const name of POLICY_NAMES) expect(() => resolveParams(POLICY_SCHEMAS[name], {})).not.toThrow();
    const types = new Map<string, string>();
    for (const name of POLICY_NAMES) {
      for (const p of POLICY_SCHEMAS[name].params) {
        expect(types.get(p.name) ?? p.type, `${name}.${p.name}`).toBe(p.type);
        types.set(p.name, p.type);
      }
    }
    expect(Object.keys(shadowkv().params)).toEqual(SHADOWKV_PARAMS.map((p) => p.name));
  });

  it('parse the inline name:key=value syntax (camelCase or kebab-case keys), overriding the base options', () => {
    const { name, options } = parsePolicySpec('shadowkv:budget=256:chunk-size=16:svd=exact:quantize-values=1', { rank: 32, budget: 64 });
    expect(name).toBe('shadowkv');
    expect(options).toEqual({ rank: 32, budget: 256, chunkSize: 16, svd: 'exact', quantizeValues: true });
    expect(createPolicy(name, options).params).toMatchObject({ rank: 32, budget: 256, chunkSize: 16, svd: 'exact', quantizeValues: true });
    expect(parsePolicySpec('kcache:mass=0.5').options).toEqual({ mass: 0.5 });
    const bad = (spec: string) => {
      try {
        parsePolicySpec(spec);
      } catch (e) {
        if (e instanceof InvalidOptionError) return e.message;
      }
      return 'no error';
    };
    expect(bad('shadowkv:budget=x')).toMatch(/"budget=x" must be key=value .*"budget": must be a number/);
    expect(bad('shadowkv:quantizeValues=maybe')).toMatch(/true\/false for quantizeValues/);
    expect(bad('dense:rank=8')).toMatch(/dense has no parameter "rank"/);
    expect(bad('kcache:rank=8')).toMatch(/kcache has no parameter "rank"/);
    expect(bad('shadowkv:rank')).toMatch(/no value/);
    expect(bad('nope')).toMatch(/unknown policy "nope"/);
  });

  it("the README's parameter tables are the schemas' (UPDATE_DOCS=1 rewrites them)", () => {
    const text = readFileSync(README, 'utf8');
    let want = text;
    for (const name of POLICY_NAMES) {
      if (POLICY_SCHEMAS[name].params.length === 0) continue;
      const start = `<!-- params:${name}:start -->`;
      const end = `<!-- params:${name}:end -->`;
      const a = want.indexOf(start);
      const b = want.indexOf(end);
      expect(a >= 0 && b > a, `README.md lacks the ${start} ... ${end} markers`).toBe(true);
      want = `${want.slice(0, a + start.length)}\n${paramsTable(POLICY_SCHEMAS[name])}\n${want.slice(b)}`;
    }
    if (process.env.UPDATE_DOCS === '1' && want !== text) writeFileSync(README, want);
    else expect(text, 'the README tables differ from the schemas: run UPDATE_DOCS=1 npx vitest run packages/kv-policies/src/param-schema.test.ts').toBe(want);
  });
});
