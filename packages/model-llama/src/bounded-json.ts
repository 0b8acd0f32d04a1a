// Shows an untrusted JSON value in an error message: bounded in depth and length, so that a value nested
// thousands deep (JSON.stringify would overflow the stack) or megabytes long still gives a short message.

/** Depth past which nested arrays/objects are shown as `[...]` / `{...}`. */
const MAX_DEPTH = 4;
/** Entries of one array/object shown before `...`. */
const MAX_ENTRIES = 8;

/** A JSON-like rendering of `v`, at most `maxChars` characters (never throws, never recurses deeper than MAX_DEPTH). */
export function showBounded(v: unknown, maxChars = 80): string {
  let s: string;
  try {
    s = render(v, 0, maxChars + 1);
  } catch {
    // Getters or proxies of exotic values: still say something rather than fail while reporting a failure.
    s = Object.prototype.toString.call(v);
  }
  return s.length > maxChars ? `${s.slice(0, Math.max(0, maxChars - 3))}...` : s;
}

// `budget` stops the walk once enough characters exist, so a huge flat value costs O(maxChars).
function render(v: unknown, depth: number, budget: number): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > budget ? v.slice(0, budget) : v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${v}n`;
    case 'object':
      break;
    default:
      return typeof v;
  }
  const isArray = Array.isArray(v);
  if (depth >= MAX_DEPTH) return isArray ? '[...]' : '{...}';
  const parts: string[] = [];
  let used = 2;
  const entries: [string | null, unknown][] = isArray
    ? (v as unknown[]).slice(0, MAX_ENTRIES + 1).map((x) => [null, x])
    : Object.keys(v as object).slice(0, MAX_ENTRIES + 1).map((k) => [k, (v as Record<string, unknown>)[k]]);
  for (let i = 0; i < entries.length && used < budget; i++) {
    if (i === MAX_ENTRIES) {
      parts.push('...');
      break;
    }
    const [k, x] = entries[i];
    const item = (k === null ? '' : `${JSON.stringify(k.length > budget ? k.slice(0, budget) : k)}:`) + render(x, depth + 1, budget - used);
    parts.push(item);
    used += item.length + 1;
  }
  return isArray ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}
