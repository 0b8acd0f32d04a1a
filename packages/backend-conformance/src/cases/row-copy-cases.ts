// Conformance of the optional writeRows (stacking per-sequence rows into one batch matrix) against the CPU
// reference: exact copies, dst rows outside start..start+m left exactly as they were (dst starts filled, not
// zero, so a stray or missed write shows). Skipped, saying so, for a backend without the op (callers copy through
// the host) and outside the f32 run (the op is f32 only: activations).
import type { ConformanceCase } from '../conformance-case.js';
import { checkAgainstReference } from '../reference-case.js';

function writeRowsCase(rows: number, n: number, m: number, start: number): ConformanceCase {
  const name = `rows=${rows} n=${n} m=${m} start=${start}`;
  return {
    op: 'writeRows',
    name,
    async check(ctx) {
      if (ctx.dtype !== 'f32') return ctx.skip?.('writeRows is f32 only; it runs in the f32 run');
      if (typeof ctx.backend.writeRows !== 'function') return ctx.skip?.(`${ctx.backend.name} does not offer the optional writeRows`);
      const r = ctx.rng;
      await checkAgainstReference(ctx, 'writeRows', name, {
        inputs: [
          { data: r.normals(rows * n), shape: [rows, n] },
          { data: r.normals(m * n), shape: [m, n] },
        ],
        run: (be, [dst, src]) => be.writeRows!(dst, src, start),
        tolerance: { kind: 'exact' },
      });
    },
  };
}

/** First rows, middle, last rows, a single row (a decode step), and the whole matrix. */
export function rowCopyCases(): ConformanceCase[] {
  return [writeRowsCase(7, 24, 3, 0), writeRowsCase(9, 64, 4, 2), writeRowsCase(9, 64, 4, 5), writeRowsCase(5, 256, 1, 3), writeRowsCase(6, 33, 6, 0)];
}
