// The RoPE table cache: a one-off call far beyond the cache gets a per-call table, but repeated ones (rebuilt
// keys spread over a long context, every decode step) grow the cache so the trig is paid once, not per step.
import type { RopeSpec } from '@shadowkv/core';
import { describe, expect, it } from 'vitest';
import { RopeTables } from './rope-tables.js';
import { WasmAllocator } from './wasm-allocator.js';

function setup(): { tables: RopeTables; rope: RopeSpec; f32: (p: number, n: number) => Float32Array } {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 4096 });
  const alloc = new WasmAllocator(mem, 1024, 4096 * 65536);
  const f32 = (p: number, n: number) => new Float32Array(mem.buffer, p, n);
  const invFreq = Float32Array.from({ length: 4 }, (_, i) => 1e4 ** (-i / 4));
  return { tables: new RopeTables(alloc, f32), rope: { headDim: 8, invFreq, attentionScaling: 1 }, f32 };
}

describe('RopeTables', () => {
  it('serves a few rows far beyond the cache from a per-call table, then grows once such calls have cost as much as growing', () => {
    const { tables, rope, f32 } = setup();
    const positions = [16000, 16001, 16002, 16003, 9000, 9001, 9002, 9003]; // 8 rows spread over 16K positions
    const kinds: boolean[] = [];
    for (let call = 0; call < 3000; call++) {
      const t = tables.get(rope, 9000, 16003, positions.length, () => positions);
      kinds.push(t.rowIndexed);
      if (t.rowIndexed) {
        // Row r of a per-call table holds the angles of the call's row r.
        expect(f32(t.cos, 8 * 4)[4 * 4]).toBeCloseTo(Math.cos(9000), 5);
      } else {
        const half = t.half;
        expect(t.positions).toBeGreaterThan(16003);
        expect(f32(t.cos, t.positions * half)[16001 * half + 1]).toBeCloseTo(Math.cos(16001 * rope.invFreq[1]), 5);
      }
      tables.done(t);
    }
    expect(kinds[0]).toBe(true); // the first call does not double the cache for 8 rows
    const grewAt = kinds.indexOf(false);
    // Growing to 16384 positions costs 16384 rows of trig: after ~2048 calls of 8 rows, not never.
    expect(grewAt).toBeGreaterThan(1000);
    expect(grewAt).toBeLessThanOrEqual(16384 / positions.length + 1);
    expect(kinds.slice(grewAt).every((k) => !k)).toBe(true);
  });
});
