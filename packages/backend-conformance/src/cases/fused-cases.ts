// Conformance of the optional fused ops (matmulAdd, matmulSwiglu) against the CPU reference, which specifies
// them as exactly the separate ops. Skipped, saying so, for a backend that does not offer the op (callers
// then use the separate ops). Tolerance: a reduction over k, as matmul (the add and SwiGLU after it are
// elementwise and within that bound); decode-sized m (the fused GEMV path) and a larger m (the fallback).
import type { KernelBackend } from '@shadowkv/core';
import type { ConformanceCase } from '../conformance-case.js';
import { checkAgainstReference } from '../reference-case.js';

function fusedCase(op: 'matmulAdd' | 'matmulSwiglu', m: number, k: number, n: number): ConformanceCase {
  const name = `m=${m} k=${k} n=${n}`;
  return {
    op,
    name,
    async check(ctx) {
      if (!(ctx.backend as KernelBackend)[op]) return ctx.skip?.(`${ctx.backend.name} does not offer the optional ${op}`);
      const r = ctx.rng;
      await checkAgainstReference(ctx, op, name, {
        inputs:
          op === 'matmulAdd'
            ? [
                { data: r.normals(m * k), shape: [m, k] },
                { data: r.normals(n * k, 1 / Math.sqrt(k)), shape: [n, k] },
                { data: r.normals(m * n), shape: [m, n] },
              ]
            : [
                { data: r.normals(m * k), shape: [m, k] },
                { data: r.normals(n * k, 2 / Math.sqrt(k)), shape: [n, k] },
                { data: r.normals(n * k, 1 / Math.sqrt(k)), shape: [n, k] },
              ],
        run: (be, [x, a, b]) => (op === 'matmulAdd' ? be.matmulAdd!(x, a, b) : be.matmulSwiglu!(x, a, b)),
        tolerance: { kind: 'reduction', length: k },
      });
    },
  };
}

export function fusedCases(): ConformanceCase[] {
  const shapes: [number, number, number][] = [[1, 1, 1], [1, 256, 1000], [1, 257, 63], [2, 64, 4099], [9, 40, 130]];
  return (['matmulAdd', 'matmulSwiglu'] as const).flatMap((op) => shapes.map(([m, k, n]) => fusedCase(op, m, k, n)));
}
