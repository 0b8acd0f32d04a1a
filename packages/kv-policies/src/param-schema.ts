// One table per policy describes each parameter once; defaults, checks, CLI flags, inline syntax and docs derive from it.
import { InvalidOptionError } from '@shadowkv/core';

export type ParamValue = number | string | boolean;

/** One parameter of a policy. A policy's schema is a readonly array of these (see shadowkv-params.ts). */
export interface ParamSpec {
  /** The option's name in code (camelCase); the CLI flag and the inline key derive from it (`--kebab-case`). */
  readonly name: string;
  /** 'int' and 'number' take numbers, 'boolean' true/false (1/0 inline), 'enum' one of `values`. */
  readonly type: 'int' | 'number' | 'boolean' | 'enum';
  /** Value when not given; undefined: absent unless given. */
  readonly default?: ParamValue;
  /** Numbers: the smallest value allowed (inclusive unless minExclusive). */
  readonly min?: number;
  readonly minExclusive?: boolean;
  /** Numbers: the largest value allowed (inclusive). */
  readonly max?: number;
  /** 'enum': the allowed words. */
  readonly values?: readonly string[];
  /** Said after a range error: what the option means, so the user knows which way to change it. */
  readonly hint?: string;
  /**
   * Another parameter this one excludes: giving both is an error, and this one's default applies only when
   * the other is not given.
   */
  readonly exclusiveWith?: string;
  /**
   * Checks against the other parameters (run once every value has its right type and range). Returns what is
   * wrong and what to do, or undefined. `rule` says the same in words for the docs table.
   */
  readonly check?: (value: never, params: Readonly<Record<string, ParamValue | undefined>>) => string | undefined;
  readonly rule?: string;
  /** One or two sentences: the CLI help and the docs table show them. */
  readonly doc: string;
}

export interface PolicySchema {
  readonly policy: string;
  readonly params: readonly ParamSpec[];
}

type ValueOf<S> = S extends { type: 'enum'; values: readonly (infer V)[] } ? V : S extends { type: 'boolean' } ? boolean : number;

/** The options object of a schema: every parameter optional, typed from its spec. */
export type ParamsOf<T extends readonly ParamSpec[]> = { [S in T[number] as S['name']]?: ValueOf<S> };

/** A parameter problem: the option it is about and what is wrong. */
export interface ParamProblem {
  option: string;
  message: string;
}

/** Every problem found in a policy's parameters at once. `option` is the first problem's (as InvalidOptionError). */
export class PolicyParamsError extends InvalidOptionError {
  readonly problems: readonly ParamProblem[];
  constructor(policy: string, problems: ParamProblem[]) {
    const [first, ...rest] = problems;
    const more = rest.map((p) => `; option "${p.option}": ${p.message}`).join('');
    super(first.option, `${first.message}${more}${rest.length > 0 ? ` (${problems.length} problems in the ${policy} parameters)` : ''}`);
    this.problems = problems;
  }
}

/** `chunkSize` → `chunk-size`: the CLI flag (with `--`) and the inline key's kebab form. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The range of a spec in words (errors and the docs table). */
export function describeRange(s: ParamSpec): string {
  if (s.type === 'boolean') return 'true or false';
  if (s.type === 'enum') return (s.values ?? []).map((v) => `'${v}'`).join(', ');
  const lo = s.min === undefined ? undefined : `${s.minExclusive ? '>' : '>='} ${s.min}`;
  if (s.max !== undefined && s.min !== undefined) return `${s.type === 'int' ? 'an integer ' : ''}in ${s.minExclusive ? '(' : '['}${s.min}, ${s.max}]`;
  return [s.type === 'int' ? 'an integer' : 'a number', lo, s.max === undefined ? undefined : `<= ${s.max}`].filter(Boolean).join(' ');
}

function rangeProblem(s: ParamSpec, v: unknown): string | undefined {
  const bad = (what: string) => `must be ${what}, got ${typeof v === 'string' ? `'${v}'` : String(v)}${s.hint ? `; ${s.hint}` : ''}`;
  switch (s.type) {
    case 'boolean':
      return typeof v === 'boolean' ? undefined : bad('true or false');
    case 'enum':
      return typeof v === 'string' && (s.values ?? []).includes(v) ? undefined : bad((s.values ?? []).map((x) => `'${x}'`).join(', ').replace(/, ([^,]*)$/, ' or $1'));
    default: {
      const n = v as number;
      const ok =
        typeof v === 'number' &&
        Number.isFinite(n) &&
        (s.type !== 'int' || Number.isInteger(n)) &&
        (s.min === undefined || (s.minExclusive ? n > s.min : n >= s.min)) &&
        (s.max === undefined || n <= s.max);
      return ok ? undefined : bad(describeRange(s));
    }
  }
}

/**
 * Fills defaults and checks every parameter of `schema` in `given` (keys of other policies are ignored), reporting
 * all problems in one PolicyParamsError. Parameters with no default and not given stay undefined.
 */
export function resolveParams<T extends Record<string, ParamValue | undefined>>(schema: PolicySchema, given: Readonly<Record<string, unknown>>): T {
  const out: Record<string, ParamValue | undefined> = {};
  const problems: ParamProblem[] = [];
  for (const s of schema.params) {
    const g = given[s.name];
    const other = s.exclusiveWith === undefined ? undefined : given[s.exclusiveWith];
    if (g !== undefined && other !== undefined) {
      problems.push({ option: s.exclusiveWith as string, message: `give either ${s.name} (${String(g)}) or ${s.exclusiveWith} (${String(other)}), not both` });
    }
    const v = g !== undefined ? g : other !== undefined ? undefined : s.default;
    if (v === undefined) continue;
    const problem = rangeProblem(s, v);
    if (problem) problems.push({ option: s.name, message: problem });
    else out[s.name] = v as ParamValue;
  }
  if (problems.length === 0) {
    for (const s of schema.params) {
      const problem = s.check && out[s.name] !== undefined ? s.check(out[s.name] as never, out) : undefined;
      if (problem) problems.push({ option: s.name, message: problem });
    }
  }
  if (problems.length > 0) throw new PolicyParamsError(schema.policy, problems);
  return out as T;
}

/** Parses a CLI or inline value of `s` from text; throws InvalidOptionError naming the option. */
export function parseParamValue(s: ParamSpec, text: string): ParamValue {
  if (s.type === 'boolean') {
    if (['true', '1'].includes(text)) return true;
    if (['false', '0'].includes(text)) return false;
    throw new InvalidOptionError(s.name, `must be true or false (or 1/0), got '${text}'`);
  }
  if (s.type === 'enum') return text; // resolveParams names the allowed words
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n)) throw new InvalidOptionError(s.name, `must be a number (${describeRange(s)}), got '${text}'`);
  return n;
}

/** The spec of `key` (camelCase name or its kebab-case form) in any of `schemas`. */
export function findParam(schemas: readonly PolicySchema[], key: string): ParamSpec | undefined {
  for (const schema of schemas) for (const s of schema.params) if (s.name === key || kebabCase(s.name) === key) return s;
  return undefined;
}

/** The docs table of a schema (markdown): name, type, default, range, CLI flag, what it does. */
export function paramsTable(schema: PolicySchema): string {
  const cell = (t: string) => t.replace(/\|/g, '\\|');
  const rows = schema.params.map((s) => {
    const type = s.type === 'enum' ? 'string' : s.type;
    const def = s.default === undefined ? '—' : `\`${typeof s.default === 'string' ? `'${s.default}'` : String(s.default)}\`${s.exclusiveWith ? ` (unless ${s.exclusiveWith})` : ''}`;
    const range = [describeRange(s), s.rule, s.exclusiveWith ? `not with ${s.exclusiveWith}` : undefined].filter(Boolean).join('; ');
    const flag = `\`--${kebabCase(s.name)}${s.type === 'boolean' ? '' : ' <value>'}\``;
    return `| \`${s.name}\` | ${type} | ${def} | ${cell(range)} | ${flag} | ${cell(s.doc)} |`;
  });
  return ['| parameter | type | default | range / rule | CLI flag | what it does |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}
