// splitRows: every part fits one binding, offsets are aligned, and the parts tile the rows exactly.
import { ShapeError } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { splitRows } from './binding-parts.js';
import { Rng } from './test-utils/seeded-rng.js';

describe('splitRows', () => {
  it('keeps a tensor that fits in one part with no shift', () => {
    const parts = splitRows('op', 10, [400, 40], { maxBindingBytes: 1 << 20, offsetAlignment: 256 });
    expect(parts).toEqual([{ row0: 0, rows: 10, windows: [{ offset: 0, size: 4000, shift: 0, byteShift: 0 }, { offset: 0, size: 400, shift: 0, byteShift: 0 }] }]);
  });

  it('covers every row exactly once with aligned, bounded windows (random layouts)', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 300; trial++) {
      const limits = { maxBindingBytes: 4 * rng.int(256, 5000), offsetAlignment: 2 ** rng.int(2, 8) };
      const rows = rng.int(0, 3000);
      const rowBytes = Array.from({ length: rng.int(1, 3) }, () => 4 * rng.int(1, 200));
      const parts = splitRows('op', rows, rowBytes, limits);
      // Plain checks collected into one list: thousands of expect() calls would dominate the run time.
      const bad: string[] = [];
      let next = 0;
      for (const part of parts) {
        if (part.row0 !== next || part.rows <= 0) bad.push(`part at ${part.row0} (expected ${next}) has ${part.rows} rows`);
        next += part.rows;
        part.windows.forEach((w, b) => {
          // The part's first element sits `shift` elements into the window, its last inside it.
          const ok =
            w.offset % limits.offsetAlignment === 0 &&
            w.size <= limits.maxBindingBytes &&
            w.size % 4 === 0 &&
            w.offset + w.shift * 4 === part.row0 * rowBytes[b] &&
            w.offset + w.size >= (part.row0 + part.rows) * rowBytes[b];
          if (!ok) bad.push(`window ${JSON.stringify(w)} of buffer ${b} for rows ${part.row0}+${part.rows}`);
        });
      }
      expect(bad, JSON.stringify({ limits, rows, rowBytes })).toEqual([]);
      expect(next).toBe(rows);
    }
  });

  it('splits a 1 GB lm-head weight under a 128 MiB binding limit', () => {
    const rowBytes = 2048 * 4;
    const parts = splitRows('matmul', 128256, [rowBytes], { maxBindingBytes: 128 * 2 ** 20, offsetAlignment: 256 });
    expect(parts.length).toBe(Math.ceil((128256 * rowBytes) / (128 * 2 ** 20)));
  });

  it('throws a ShapeError naming the op when one row is larger than a binding', () => {
    expect(() => splitRows('embedding', 4, [8192], { maxBindingBytes: 4096, offsetAlignment: 256 })).toThrow(ShapeError);
    expect(() => splitRows('embedding', 4, [8192], { maxBindingBytes: 4096, offsetAlignment: 256 })).toThrow(/embedding: one row is 8192 bytes/);
  });
});
