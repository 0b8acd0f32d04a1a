// Seeded random choices and hostile JSON values for the fuzz mutators.
import { mulberry32 } from '@shadowkv/core';

/** A seeded source of choices; every case derives its own from (run seed, case id). */
export class FuzzRandom {
  private readonly next: () => number;
  constructor(seed: number, id: number) {
    this.next = mulberry32((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(id + 1, 0xc2b2ae35)) >>> 0);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** Placeholder replaced, in the serialized text, by nesting thousands deep (JSON.stringify cannot build it). */
export const DEEP_MARK = '__FUZZ_DEEP__';

const NUMBERS = [0, -1, 1, 2, 3, 7, 64, 511, 512, 4096, 1e6, 1e7, 1e9, 2 ** 31, 2 ** 32, 2 ** 53, 1e300, -1e300, 0.5, 1e-300, -0, 1.5];

/** A value from a pool of the shapes that broke parsers before: wrong types, extremes, deep nesting. */
export function wildValue(r: FuzzRandom): unknown {
  switch (r.int(8)) {
    case 0:
    case 1:
      return r.pick(NUMBERS);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.pick(['', 'abc', 'F32', '0', '\u0000', 'null', 'model.safetensors', '../../etc/passwd', 'x'.repeat(100_000)]);
    case 4:
      return r.pick([[], {}, [1, 2], [[1]], { a: 1 }, [null], { type: null }]);
    case 5:
      return DEEP_MARK;
    case 6:
      return r.int(2 ** 20) - 1024;
    default:
      return r.float() * 10 ** (r.int(40) - 20);
  }
}

/** JSON text of `v` with every DEEP_MARK replaced by arrays or objects nested 100 to 20,000 deep. */
export function serialize(v: unknown, r: FuzzRandom): string {
  let text = JSON.stringify(v);
  while (text.includes(`"${DEEP_MARK}"`)) {
    const n = r.pick([100, 1000, 5000, 20_000]);
    const nest = r.chance(0.5) ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    text = text.replace(`"${DEEP_MARK}"`, nest);
  }
  return text;
}

/** Byte-level damage to a text: flip, delete, insert or duplicate a few characters, or truncate. */
export function damageText(text: string, r: FuzzRandom): { text: string; detail: string } {
  const at = r.int(Math.max(1, text.length));
  switch (r.int(5)) {
    case 0: {
      const c = String.fromCharCode(r.pick([0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30 + r.int(10), 0x20 + r.int(95)]));
      return { text: text.slice(0, at) + c + text.slice(at + 1), detail: `char ${at} -> ${JSON.stringify(c)}` };
    }
    case 1:
      return { text: text.slice(0, at) + text.slice(at + 1 + r.int(16)), detail: `delete at ${at}` };
    case 2: {
      const ins = r.pick(['{', '}', '[', ']', '"', ',', ':', '-', '1e999', 'null', '\\', '\ud800']);
      return { text: text.slice(0, at) + ins + text.slice(at), detail: `insert ${JSON.stringify(ins)} at ${at}` };
    }
    case 3: {
      const len = 1 + r.int(64);
      return { text: text.slice(0, at + len) + text.slice(at, at + len) + text.slice(at + len), detail: `duplicate ${len} chars at ${at}` };
    }
    default:
      return { text: text.slice(0, at), detail: `truncate at ${at}` };
  }
}

/** A random path into a JSON value (object keys and array indexes), at most `maxDepth` long. */
export function randomPath(v: unknown, r: FuzzRandom, maxDepth = 4): (string | number)[] {
  const path: (string | number)[] = [];
  let cur = v;
  // The first step almost always descends: replacing the whole file is one rare mutation among many.
  while (path.length < maxDepth && cur !== null && typeof cur === 'object' && r.chance(path.length === 0 ? 0.97 : 0.6)) {
    const keys: (string | number)[] = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (keys.length === 0) break;
    const k = r.pick(keys);
    path.push(k);
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return path;
}

/** Sets (or, with `undefined`, deletes) the value at `path`; the root itself cannot be deleted. */
export function setPath(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value === undefined ? {} : value;
  let cur = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = value;
  return root;
}
