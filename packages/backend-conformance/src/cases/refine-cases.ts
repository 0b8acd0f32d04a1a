// Conformance of the optional refine-stage ops: candidateScores (candidate keys copied or rebuilt, and their landmark
// scores, in one call) and copyChunkPairs (chunk copies between two tensors, with skipped pairs).
import type { KernelBackend, Tensor } from '@shadowkv/core';
import { compareOutputs } from '../compare-outputs.js';
import type { ConformanceCase } from '../conformance-case.js';
import { checkAgainstReference } from '../reference-case.js';
import { makeRopeSpec } from '../test-rope-spec.js';

interface CandidateSpec {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  rank: number;
  chunkSize: number;
  /** Chunks of a (seqLen = nChunks * chunkSize + 3). */
  nChunks: number;
  nCand: number;
  /** Chunk slots of held. */
  nSlots: number;
  /** Share of candidates read from held (0: all rebuilt, 1: all held). */
  heldShare: number;
  positionOffset: number;
}

/**
 * candidateScores against the reference: keys (copied rows exact, rebuilt rows with rebuildKeys' rotation bound) and
 * scores (a softmax over every candidate token of headDim-long logits, plus the keys' own error). Heads hold different
 * numbers of candidates, so runs of rebuilt and held candidates interleave unevenly.
 */
function candidateCase(s: CandidateSpec): ConformanceCase {
  const name = `nHeads=${s.nHeads} nKvHeads=${s.nKvHeads} headDim=${s.headDim} rank=${s.rank} chunkSize=${s.chunkSize} nChunks=${s.nChunks} nCand=${s.nCand} nSlots=${s.nSlots} held=${s.heldShare} positionOffset=${s.positionOffset}`;
  return {
    op: 'candidateScores',
    name,
    async check(ctx) {
      if (ctx.dtype !== 'f32') return ctx.skip?.('candidateScores writes f32 keys; it runs in the f32 run');
      if (typeof ctx.backend.candidateScores !== 'function') return ctx.skip?.(`${ctx.backend.name} does not offer the optional candidateScores`);
      const r = ctx.rng;
      const { nHeads, nKvHeads: nKv, headDim: d, rank, chunkSize: cs, nCand, nSlots } = s;
      const rope = makeRopeSpec(d, { longContextScaling: true });
      const seqLen = s.nChunks * cs + 3;
      const heldRows = nSlots * cs + 5;
      const plan = new Int32Array(2 * nKv * nCand);
      const angles = new Float64Array(nKv * nCand * cs * d);
      for (let g = 0; g < nKv; g++) {
        plan.set(r.distinct(nCand, s.nChunks), 2 * g * nCand);
        const slots = r.distinct(nSlots, nSlots);
        // Head g holds a share that differs per head (the last head one candidate fewer, if any).
        const nHeld = Math.max(0, Math.min(nSlots, nCand, Math.round(s.heldShare * nCand) - (g === nKv - 1 && s.heldShare > 0 && s.heldShare < 1 ? 1 : 0)));
        const heldAt = new Set(r.distinct(nHeld, nCand));
        let used = 0;
        for (let k = 0; k < nCand; k++) {
          const held = heldAt.has(k);
          plan[(2 * g + 1) * nCand + k] = held ? slots[used++] : -1;
          if (held) continue;
          for (let j = 0; j < cs; j++) {
            const pos = plan[2 * g * nCand + k] * cs + j + s.positionOffset;
            for (let e = 0; e < d; e++) angles[((g * nCand + k) * cs + j) * d + e] = pos * rope.invFreq[e % (d / 2)];
          }
        }
      }
      const q = r.normals(nHeads * d, 0.5);
      const a = r.normals(seqLen * rank);
      const b = r.normals(nKv * rank * d, 1 / Math.sqrt(rank));
      const held = r.normals(nKv * heldRows * d);
      const run = async (be: KernelBackend): Promise<[Float32Array, Float32Array, readonly number[], readonly number[]]> => {
        const ins = [be.upload(q, [nHeads * d]), be.upload(a, [seqLen, rank]), be.upload(b, [nKv, rank, d]), be.upload(held, [nKv, heldRows, d]), be.upload(plan, [nKv, 2, nCand], 'i32')];
        let out: [Tensor, Tensor] | undefined;
        try {
          out = be.candidateScores!(ins[0], ins[1], ins[2], ins[3], ins[4], cs, s.positionOffset, rope, nHeads, 1 / Math.sqrt(d));
          const [k, sc] = (await Promise.all(out.map((t) => be.read(t)))) as Float32Array[];
          return [k, sc, out[0].shape, out[1].shape];
        } finally {
          for (const t of [...ins, ...(out ?? [])]) be.dispose(t);
        }
      };
      const [wantKeys, wantScores] = await run(ctx.reference);
      const [gotKeys, gotScores, keyShape, scoreShape] = await run(ctx.backend);
      compareOutputs(`candidateScores ${name} keys`, gotKeys, wantKeys, keyShape, { kind: 'rotation', length: rank, angles }, ctx.dtype);
      compareOutputs(`candidateScores ${name} scores`, gotScores, wantScores, scoreShape, { kind: 'reduction', length: nCand * cs + d + rank }, ctx.dtype);
    },
  };
}

/** copyChunkPairs into a filled dst (chunks not written keep their values), with skipped pairs and uneven heads. */
function copyPairsCase(nKv: number, rowsDst: number, rowsSrc: number, headDim: number, chunkSize: number, n: number): ConformanceCase {
  const name = `nKvHeads=${nKv} rowsDst=${rowsDst} rowsSrc=${rowsSrc} headDim=${headDim} chunkSize=${chunkSize} n=${n}`;
  return {
    op: 'copyChunkPairs',
    name,
    async check(ctx) {
      if (ctx.dtype !== 'f32') return ctx.skip?.('copyChunkPairs copies f32 chunks; it runs in the f32 run');
      if (typeof ctx.backend.copyChunkPairs !== 'function') return ctx.skip?.(`${ctx.backend.name} does not offer the optional copyChunkPairs`);
      const r = ctx.rng;
      const nDst = Math.floor(rowsDst / chunkSize);
      const nSrc = Math.floor(rowsSrc / chunkSize);
      const pairs = new Int32Array(nKv * n * 2);
      for (let g = 0; g < nKv; g++) {
        const to = r.distinct(n, nDst);
        const from = r.ints(n, 0, nSrc - 1);
        for (let i = 0; i < n; i++) {
          pairs[(g * n + i) * 2] = (i + g) % 3 === 1 ? -1 : from[i]; // about a third skipped, at different places per head
          pairs[(g * n + i) * 2 + 1] = to[i];
        }
      }
      await checkAgainstReference(ctx, 'copyChunkPairs', name, {
        inputs: [
          { data: r.normals(nKv * rowsDst * headDim), shape: [nKv, rowsDst, headDim] },
          { data: r.normals(nKv * rowsSrc * headDim), shape: [nKv, rowsSrc, headDim] },
          { data: pairs, shape: [nKv, n, 2] },
        ],
        run: (be, [dst, src, p]) => be.copyChunkPairs!(dst, src, p, chunkSize),
        tolerance: { kind: 'exact' },
      });
    },
  };
}

/** candidateScores: all rebuilt, all held, mixed (GQA 1/2/4, chunk sizes 4/7/8, a negative offset); copyChunkPairs. */
export function refineCases(): ConformanceCase[] {
  return [
    candidateCase({ nHeads: 4, nKvHeads: 2, headDim: 64, rank: 30, chunkSize: 8, nChunks: 60, nCand: 12, nSlots: 6, heldShare: 0.4, positionOffset: 0 }),
    candidateCase({ nHeads: 2, nKvHeads: 2, headDim: 64, rank: 16, chunkSize: 8, nChunks: 20, nCand: 5, nSlots: 8, heldShare: 0, positionOffset: 0 }),
    candidateCase({ nHeads: 8, nKvHeads: 2, headDim: 128, rank: 12, chunkSize: 4, nChunks: 40, nCand: 9, nSlots: 9, heldShare: 1, positionOffset: 3 }),
    candidateCase({ nHeads: 3, nKvHeads: 3, headDim: 66, rank: 5, chunkSize: 7, nChunks: 30, nCand: 10, nSlots: 4, heldShare: 0.3, positionOffset: -5 }),
    copyPairsCase(2, 40, 64, 64, 8, 5),
    copyPairsCase(3, 37, 21, 66, 7, 3),
  ];
}
