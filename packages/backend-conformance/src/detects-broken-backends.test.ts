// Tests of the suite itself: deliberately broken variants of the CPU backend must fail the cases of the op
// they break, and variants that only round like an f32 GPU would (f32 accumulation, f32 RoPE angles) must
// pass, so the tolerances are neither too loose nor too tight.
import { f32ToBf16, halfToF32, type AttentionParams, type ChunkCacheUpdate, type ChunkCacheUpdateParams, type RopeSpec, type Shape, type Tensor } from '@shadowkv/core';
import { CpuBackend, CpuTensor, cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { ALL_OPS, conformanceCases, DEFAULT_CONFORMANCE_SEED } from './conformance-cases.js';
import type { OpName } from './conformance-case.js';
import { SeededRng } from './seeded-rng.js';

/** Runs every default case of `ops` on `backend` (f32) and returns the failure messages. */
async function failures(backend: CpuBackend, ops: OpName[]): Promise<string[]> {
  const reference = cpu();
  const out: string[] = [];
  for (const c of conformanceCases({ ops })) {
    try {
      await c.check({ backend, reference, dtype: 'f32', rng: SeededRng.fromString(`${c.op} ${c.name}`, DEFAULT_CONFORMANCE_SEED) });
    } catch (e) {
      out.push(`${c.name}: ${(e as Error).message}`);
    }
  }
  return out;
}

function data(t: Tensor): Float32Array {
  const d = (t as CpuTensor).data;
  // 16-bit weights hold raw bits: widened here (exactly), so the variants below see what the reference sees.
  return d instanceof Uint16Array ? halfToF32(t.dtype as 'f16' | 'bf16', d) : (d as Float32Array);
}

/** Rounds every multiply-add to f32, as a GPU kernel accumulating in f32 does. */
class F32AccumulatingBackend extends CpuBackend {
  override matmul(x: Tensor, w: Tensor): Tensor {
    super.matmul(x, w); // keeps the reference's validation
    const [m, k] = x.shape;
    const n = w.shape[0];
    const xv = data(x);
    const wv = data(w);
    const out = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc = Math.fround(acc + Math.fround(xv[i * k + p] * wv[j * k + p]));
        out[i * n + j] = acc;
      }
    }
    return new CpuTensor([m, n], 'f32', out);
  }

  /** RoPE with the angle, cos, sin and products each rounded to f32 (what a shader computes). */
  override rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
    const out = super.rope(x, positions, nHeads, { ...rope, invFreq: new Float32Array(rope.headDim / 2) }) as CpuTensor;
    const xv = data(x);
    const pos = (positions as CpuTensor).data;
    const d = rope.headDim;
    const half = d / 2;
    const o = out.data as Float32Array;
    const f = Math.fround;
    for (let i = 0; i < x.shape[0]; i++) {
      for (let h = 0; h < nHeads; h++) {
        const base = (i * nHeads + h) * d;
        for (let e = 0; e < half; e++) {
          const ang = f(f(pos[i]) * rope.invFreq[e]);
          const c = f(f(Math.cos(ang)) * rope.attentionScaling);
          const s = f(f(Math.sin(ang)) * rope.attentionScaling);
          const x1 = xv[base + e];
          const x2 = xv[base + e + half];
          o[base + e] = f(f(x1 * c) - f(x2 * s));
          o[base + e + half] = f(f(x2 * c) + f(x1 * s));
        }
      }
    }
    return out;
  }
}

class BrokenBackends {
  static causalOffByOne = class extends CpuBackend {
    override attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
      return super.attention(q, k, v, p.causal ? { ...p, queryOffset: p.queryOffset + 1 } : p);
    }
  };
  static readsPastKvLen = class extends CpuBackend {
    override attention(q: Tensor, k: Tensor, v: Tensor, p: AttentionParams): Tensor {
      return super.attention(q, k, v, { ...p, kvLen: Math.min(p.kvLen + 1, k.shape[1]) });
    }
  };
  static tiesToHigherIndex = class extends CpuBackend {
    override topK(x: Tensor, k: number): Tensor {
      // Reversing each row maps "lower index wins" onto "higher index wins".
      const [rows, n] = x.shape;
      const rev = new Float32Array(rows * n);
      const xv = data(x);
      for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) rev[r * n + i] = xv[r * n + n - 1 - i];
      const picked = (super.topK(new CpuTensor([rows, n], 'f32', rev), k) as CpuTensor).data as Int32Array;
      const out = new Int32Array(rows * k);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(picked.subarray(r * k, (r + 1) * k), (i) => n - 1 - i).sort((a, b) => a - b);
        out.set(row, r * k);
      }
      return new CpuTensor([rows, k], 'i32', out);
    }
  };
  static ignoresAttentionScaling = class extends CpuBackend {
    override rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
      return super.rope(x, positions, nHeads, { ...rope, attentionScaling: 1 });
    }
  };
  static ropeInPlace = class extends CpuBackend {
    override rope(x: Tensor, positions: Tensor, nHeads: number, rope: RopeSpec): Tensor {
      const out = super.rope(x, positions, nHeads, rope);
      data(x).set(data(out));
      return out;
    }
  };
  static dropsLastTerm = class extends CpuBackend {
    override matmul(x: Tensor, w: Tensor): Tensor {
      const out = super.matmul(x, w);
      const [m, k] = x.shape;
      const n = w.shape[0];
      const o = data(out);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) o[i * n + j] -= data(x)[i * k + k - 1] * data(w)[j * k + k - 1];
      return out;
    }
  };
  /** Reads bf16 weight bits as if they were f16 (the two 16-bit formats confused). */
  static bf16ReadAsF16 = class extends CpuBackend {
    override matmul(x: Tensor, w: Tensor): Tensor {
      return super.matmul(x, w.dtype === 'bf16' ? new CpuTensor([...w.shape], 'f16', (w as CpuTensor).data) : w);
    }
  };
  /** Multiplies 16-bit weights with activations rounded to bf16 too (a bf16 product instead of f32). */
  static bf16Activations = class extends CpuBackend {
    override matmul(x: Tensor, w: Tensor): Tensor {
      if (w.dtype === 'f32') return super.matmul(x, w);
      const rounded = halfToF32('bf16', f32ToBf16(data(x)));
      return super.matmul(new CpuTensor([...x.shape], 'f32', rounded), w);
    }
  };
  static softmaxWithoutMax = class extends CpuBackend {
    override softmax(x: Tensor): Tensor {
      const xv = data(x);
      const n = x.shape[x.shape.length - 1];
      const o = new Float32Array(xv.length);
      for (let r = 0; r < xv.length / n; r++) {
        let sum = 0;
        for (let c = 0; c < n; c++) sum += Math.fround(Math.exp(xv[r * n + c]));
        for (let c = 0; c < n; c++) o[r * n + c] = Math.fround(Math.exp(xv[r * n + c])) / sum;
      }
      return new CpuTensor([...x.shape], 'f32', o);
    }
  };
  static rebuildIgnoresOffset = class extends CpuBackend {
    override rebuildKeys(a: Tensor, b: Tensor, idx: Tensor, chunkSize: number, _positionOffset: number, rope: RopeSpec): Tensor {
      return super.rebuildKeys(a, b, idx, chunkSize, 0, rope);
    }
  };
  static landmarkMeanOverGroup = class extends CpuBackend {
    override landmarkScores(q: Tensor, landmarks: Tensor, nHeads: number, scale: number): Tensor {
      // Scores of the first query head of each group only: differs from the max whenever the group is > 1.
      const [nKv, , d] = landmarks.shape;
      const group = nHeads / nKv;
      const qv = data(q);
      const firstHeads = new Float32Array(nKv * d);
      for (let g = 0; g < nKv; g++) firstHeads.set(qv.subarray(g * group * d, (g * group + 1) * d), g * d);
      return super.landmarkScores(new CpuTensor([nKv * d], 'f32', firstHeads), landmarks, nKv, scale);
    }
  };
  static writeKvShifted = class extends CpuBackend {
    override writeKv(cache: Tensor, x: Tensor, start: number): void {
      super.writeKv(cache, x, start + x.shape[0] < cache.shape[1] ? start + 1 : Math.max(0, start - 1));
    }
  };
  static writeRowsSkipsLast = class extends CpuBackend {
    override writeRows(dst: Tensor, src: Tensor, start: number): void {
      const [m, n] = src.shape;
      if (m > 1) super.writeRows(dst, new CpuTensor([m - 1, n], 'f32', data(src).slice(0, (m - 1) * n)), start);
    }
  };
  static chunkCacheRecordsPartial = class extends CpuBackend {
    override chunkCacheUpdate(table: Tensor, sel: Tensor, p: ChunkCacheUpdateParams): ChunkCacheUpdate {
      return super.chunkCacheUpdate(table, sel, { ...p, fullChunks: 2 ** 30 });
    }
  };
  static gatherOffByOneRow = class extends CpuBackend {
    override gatherChunks(src: Tensor, idx: Tensor, chunkSize: number): Tensor {
      const [nKv, rows, d] = src.shape;
      const shifted = new Float32Array(data(src).length);
      shifted.set(data(src).subarray(d)); // row r+1 lands in row r
      return super.gatherChunks(new CpuTensor([nKv, rows, d], 'f32', shifted), idx, chunkSize);
    }
  };
  static scatterSkipsLastChunk = class extends CpuBackend {
    override scatterChunks(dst: Tensor, src: Tensor, idx: Tensor, chunkSize: number): void {
      // Scatters every selected chunk but the last one of each head.
      const [nKv, nSel] = idx.shape;
      if (nSel < 2) return super.scatterChunks(dst, src, idx, chunkSize);
      const keep = nSel - 1;
      const ids = new Int32Array(nKv * keep);
      const d = src.shape[2];
      const part = new Float32Array(nKv * keep * chunkSize * d);
      for (let g = 0; g < nKv; g++) {
        ids.set(((idx as CpuTensor).data as Int32Array).subarray(g * nSel, g * nSel + keep), g * keep);
        part.set(data(src).subarray(g * nSel * chunkSize * d, (g * nSel + keep) * chunkSize * d), g * keep * chunkSize * d);
      }
      super.scatterChunks(dst, new CpuTensor([nKv, keep * chunkSize, d], 'f32', part), new CpuTensor([nKv, keep], 'i32', ids), chunkSize);
    }
  };
  static noShapeChecks = class extends CpuBackend {
    override add(a: Tensor, b: Tensor): Tensor {
      const n = Math.min(data(a).length, data(b).length);
      const o = new Float32Array(n);
      for (let i = 0; i < n; i++) o[i] = data(a)[i] + data(b)[i];
      return new CpuTensor([...(a.shape as Shape)], 'f32', o);
    }
  };
}

describe('the conformance suite', () => {
  it('has cases for every op of KernelBackend', () => {
    const cases = conformanceCases();
    const missing = ALL_OPS.filter((op) => !cases.some((c) => c.op === op));
    expect(missing).toEqual([]);
    const names = cases.map((c) => `${c.op} ${c.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('passes a backend that accumulates matmul and computes RoPE angles in f32', async () => {
    expect(await failures(new F32AccumulatingBackend(), ['matmul', 'rope'])).toEqual([]);
  });

  const broken: [string, CpuBackend, OpName, RegExp?][] = [
    ['a causal mask that lets each query see one key too many', new BrokenBackends.causalOffByOne(), 'attention'],
    ['attention that reads the row after kvLen', new BrokenBackends.readsPastKvLen(), 'attention'],
    ['topK that breaks ties towards the higher index', new BrokenBackends.tiesToHigherIndex(), 'topK'],
    ['rope that ignores attentionScaling', new BrokenBackends.ignoresAttentionScaling(), 'rope'],
    ['rope that overwrites its input', new BrokenBackends.ropeInPlace(), 'rope', /must not be modified/],
    ['matmul that drops the last of k terms', new BrokenBackends.dropsLastTerm(), 'matmul'],
    ['matmul that reads bf16 weights as f16', new BrokenBackends.bf16ReadAsF16(), 'matmul', /bf16 weights/],
    ['matmul that rounds activations to bf16 when the weights are 16-bit', new BrokenBackends.bf16Activations(), 'matmul', /(bf16|f16) weights m=/],
    ['softmax without max-subtraction', new BrokenBackends.softmaxWithoutMax(), 'softmax'],
    ['rebuildKeys that ignores positionOffset', new BrokenBackends.rebuildIgnoresOffset(), 'rebuildKeys'],
    ['landmarkScores that uses one query head per group', new BrokenBackends.landmarkMeanOverGroup(), 'landmarkScores'],
    ['writeKv that writes one row late', new BrokenBackends.writeKvShifted(), 'writeKv'],
    ['writeRows that drops the last row', new BrokenBackends.writeRowsSkipsLast(), 'writeRows'],
    ['gatherChunks that is off by one row', new BrokenBackends.gatherOffByOneRow(), 'gatherChunks'],
    ['scatterChunks that drops the last chunk of each head', new BrokenBackends.scatterSkipsLastChunk(), 'scatterChunks'],
    ['chunkCacheUpdate that records partial chunks as resident', new BrokenBackends.chunkCacheRecordsPartial(), 'chunkCacheUpdate'],
    ['add without shape checks', new BrokenBackends.noShapeChecks(), 'add', /expected a ShapeError/],
  ];
  for (const [what, backend, op, pattern] of broken) {
    it(`fails ${what}`, async () => {
      const found = await failures(backend, [op]);
      expect(found.length).toBeGreaterThan(0);
      if (pattern) expect(found.some((m) => pattern.test(m))).toBe(true);
    });
  }
});
