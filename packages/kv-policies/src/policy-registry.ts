// The policies by name with their parameter schemas: createPolicy() and the inline `name:key=value` syntax.
import { InvalidOptionError, type KvCachePolicy } from '@shadowkv/core';
import { dense } from './dense-policy.js';
import { kcache } from './kcache.js';
import { KCACHE_SCHEMA, type KcacheParams } from './kcache-params.js';
import { findParam, kebabCase, parseParamValue, type ParamValue, type PolicySchema } from './param-schema.js';
import { shadowkv } from './shadowkv.js';
import { SHADOWKV_SCHEMA, type ShadowKvParams } from './shadowkv-params.js';

export type PolicyName = 'dense' | 'shadowkv' | 'kcache';
export const POLICY_NAMES: readonly PolicyName[] = ['dense', 'shadowkv', 'kcache'];

/** Each policy's parameter schema (dense has none). */
export const POLICY_SCHEMAS: Readonly<Record<PolicyName, PolicySchema>> = {
  dense: { policy: 'dense', params: [] },
  shadowkv: SHADOWKV_SCHEMA,
  kcache: KCACHE_SCHEMA,
};

/** Flat options of every policy (CLI flags, generate() options); each policy takes the keys it knows. */
export interface PolicyOptions extends ShadowKvParams, KcacheParams {}

function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

/** Builds a policy from its name and flat options (other policies' keys are ignored). */
export function createPolicy(name: string, opts: PolicyOptions = {}): KvCachePolicy {
  switch (name) {
    case 'dense':
      return dense();
    case 'shadowkv':
      return shadowkv(opts);
    case 'kcache':
      return kcache(opts);
    default:
      throw new InvalidOptionError('policy', `unknown policy "${name}"; use one of ${POLICY_NAMES.join(', ')}`);
  }
}

/**
 * Parses `name[:key=value...]` (keys in camelCase or kebab-case, e.g. `shadowkv:budget=256:svd=exact`) into the
 * policy name and its options: `base` (e.g. CLI flags) overridden by the inline values. Bad syntax, a key the
 * policy does not have, or a value of the wrong type is an InvalidOptionError on option "policy".
 */
export function parsePolicySpec(spec: string, base: PolicyOptions = {}): { name: PolicyName; options: PolicyOptions } {
  const [rawName, ...pairs] = spec.trim().split(':');
  const name = rawName.trim();
  if (!isPolicyName(name)) throw new InvalidOptionError('policy', `unknown policy "${name}"; use one of ${POLICY_NAMES.join(', ')}`);
  const schema = POLICY_SCHEMAS[name];
  const options: Record<string, ParamValue> = { ...(base as Record<string, ParamValue>) };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const param = findParam([schema], key);
    let problem = param ? undefined : key === '' ? 'no key' : `${name} has no parameter "${key}"`;
    if (param && eq < 0) problem = 'no value';
    if (param && !problem) {
      try {
        options[param.name] = parseParamValue(param, pair.slice(eq + 1));
      } catch (e) {
        if (!(e instanceof InvalidOptionError)) throw e;
        problem = e.message;
      }
    }
    if (problem) throw new InvalidOptionError('policy', `"${spec}": "${pair}" must be key=value with key one of ${inlineKeys(schema)}: ${problem}`);
  }
  return { name, options: options as PolicyOptions };
}

/** The inline keys of a schema and the kind of value each takes, for error messages. */
function inlineKeys(schema: PolicySchema): string {
  if (schema.params.length === 0) return `none (${schema.policy} has no parameters)`;
  const words = schema.params.filter((p) => p.type === 'enum').map((p) => p.name);
  const bools = schema.params.filter((p) => p.type === 'boolean').map((p) => p.name);
  const kinds = [bools.length ? `true/false for ${bools.join(', ')}` : '', words.length ? `words for ${words.join(' and ')}` : ''].filter(Boolean).join(' and ');
  return `${schema.params.map((p) => (kebabCase(p.name) === p.name ? p.name : `${p.name}/${kebabCase(p.name)}`)).join(', ')} (values are numbers${kinds ? `, except ${kinds}` : ''})`;
}
