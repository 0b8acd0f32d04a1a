// Memory sizes for --kv-memory: units, and typed errors for what is not a size.
import { InvalidOptionError } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { parseBytes } from './parse-bytes.js';

describe('parseBytes', () => {
  it('reads numbers with decimal and binary units', () => {
    expect(parseBytes('2GiB')).toBe(2 * 2 ** 30);
    expect(parseBytes('512 MiB')).toBe(512 * 2 ** 20);
    expect(parseBytes('64MB')).toBe(64e6);
    expect(parseBytes('1.5KiB')).toBe(1536);
    expect(parseBytes('123456')).toBe(123456);
  });
  it('refuses what is not a positive size, naming the option', () => {
    for (const bad of ['', 'lots', '-1GiB', '0', '5 parsecs', '1e400']) {
      expect(() => parseBytes(bad, 'kv-memory')).toThrow(InvalidOptionError);
    }
    expect(() => parseBytes('x', 'kv-memory')).toThrow(/kv-memory/);
  });
});
