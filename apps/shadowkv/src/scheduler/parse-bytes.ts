// Parses a memory size ("2GiB", "512MiB", "64MB", "1e9", "123456") for --kv-memory; a typed error names the option.
import { InvalidOptionError } from '@shadowkv/core';

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** Bytes in `text`: a number with an optional unit (B, KB, MB, GB, TB powers of 1000; KiB, MiB, GiB, TiB powers of 1024). */
export function parseBytes(text: string, option = 'kvMemory'): number {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(n > 0) || !Number.isSafeInteger(n)) {
    throw new InvalidOptionError(option, `"${text}" is not a memory size; give bytes with an optional unit, e.g. 2GiB, 512MiB, 64MB or 1000000`);
  }
  return n;
}
