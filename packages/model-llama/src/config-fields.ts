// Typed readers for config.json fields: each failure names the file and the field and says what was expected.
import { ModelFormatError } from '@shadowkv/core';
import { showBounded } from './bounded-json.js';

/** A parsed JSON object whose fields are read one at a time with typed checks. */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Bounded: config values may be nested thousands deep (JSON.stringify would overflow the stack).
const show = (v: unknown): string => showBounded(v);

/** A required (or defaulted) positive integer field. */
export function positiveInt(obj: JsonObject, file: string, field: string, fallback?: number): number {
  const v = obj[field];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(file, field, 'is missing; a positive integer is required (is this a Llama config.json?)');
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ModelFormatError(file, field, `must be a positive integer, got ${show(v)}`);
  }
  return v;
}

/** A required (or defaulted) finite number > 0. */
export function positiveNumber(obj: JsonObject, file: string, field: string, fallback?: number): number {
  const v = obj[field];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(file, field, 'is missing; a positive number is required');
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ModelFormatError(file, field, `must be a positive number, got ${show(v)}`);
  }
  return v;
}

export function optionalBool(obj: JsonObject, file: string, field: string, fallback: boolean): boolean {
  const v = obj[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ModelFormatError(file, field, `must be true or false, got ${show(v)}`);
  return v;
}

export function optionalString(obj: JsonObject, file: string, field: string): string | null {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ModelFormatError(file, field, `must be a string, got ${show(v)}`);
  return v;
}

/** A token id: a non-negative integer, or null when absent. */
export function optionalTokenId(obj: JsonObject, file: string, field: string): number | null {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ModelFormatError(file, field, `must be a non-negative integer token id, got ${show(v)}`);
  }
  return v;
}

/** One token id or a list of them (Llama 3.1+ lists several EOS ids), as an array. */
export function tokenIdList(obj: JsonObject, file: string, field: string): number[] {
  const v = obj[field];
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new ModelFormatError(file, field, `must be a token id or a list of token ids, got ${show(v)}`);
    }
  }
  return list as number[];
}

export { show as showJsonValue };
