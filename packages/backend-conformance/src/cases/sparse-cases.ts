// Conformance of the sparse decode ops: gatherChunks, scatterChunks, rebuildKeys, landmarkScores, topK.
import type { ConformanceCase } from '../conformance-case.js';
import { referenceCase } from '../reference-case.js';
import { SeededRng } from '../seeded-rng.js';
import { makeRopeSpec } from '../test-rope-spec.js';

/**
 * Chunk ids [nKvHeads, nSel] in random order: distinct per head, or with a guaranteed repeat when
 * `duplicates`; the last chunk (next to any tail rows) is always selected.
 */
function chunkIds(rng: SeededRng, nKvHeads: number, nSel: number, nChunks: number, duplicates: boolean): Int32Array {
  const out = new Int32Array(nKvHeads * nSel);
  for (let g = 0; g < nKvHeads; g++) {
    const ids = duplicates ? rng.ints(nSel, 0, nChunks - 1) : rng.distinct(nSel, nChunks);
    if (!ids.includes(nChunks - 1)) ids[nSel - 1] = nChunks - 1;
    if (duplicates && nSel > 1) ids[0] = ids[nSel - 1];
    out.set(ids, g * nSel);
  }
  return out;
}

interface ChunkSpec {
  nKvHeads: number;
  nChunks: number;
  /** Rows after the last full chunk (seqLen need not be a multiple of chunkSize). */
  tail: number;
  chunkSize: number;
  nSel: number;
  headDim: number;
  duplicates?: boolean;
  long?: boolean;
}

/** Rows per KV head of the chunked tensor, and the case name (it seeds the case's data). */
function chunkCaseSize(s: ChunkSpec): { rows: number; name: string } {
  const rows = s.nChunks * s.chunkSize + s.tail;
  return { rows, name: `nKvHeads=${s.nKvHeads} rows=${rows} chunkSize=${s.chunkSize} nSel=${s.nSel} headDim=${s.headDim}${s.duplicates ? ' repeated ids' : ''}` };
}

function gatherCase(s: ChunkSpec): ConformanceCase {
  const { rows, name } = chunkCaseSize(s);
  return referenceCase('gatherChunks', name, (rng) => ({
    inputs: [
      { data: rng.normals(s.nKvHeads * rows * s.headDim), shape: [s.nKvHeads, rows, s.headDim] },
      { data: chunkIds(rng, s.nKvHeads, s.nSel, s.nChunks, !!s.duplicates), shape: [s.nKvHeads, s.nSel] },
    ],
    run: (be, [src, idx]) => be.gatherChunks(src, idx, s.chunkSize),
    tolerance: { kind: 'exact' },
  }), { long: s.long });
}

function scatterCase(s: ChunkSpec): ConformanceCase {
  const { rows, name } = chunkCaseSize(s);
  return referenceCase('scatterChunks', name, (rng) => ({
    // dst starts with random contents: chunks not selected, and tail rows, must keep them.
    inputs: [
      { data: rng.normals(s.nKvHeads * rows * s.headDim), shape: [s.nKvHeads, rows, s.headDim] },
      { data: rng.normals(s.nKvHeads * s.nSel * s.chunkSize * s.headDim), shape: [s.nKvHeads, s.nSel * s.chunkSize, s.headDim] },
      // Distinct ids per head, as the contract requires.
      { data: chunkIds(rng, s.nKvHeads, s.nSel, s.nChunks, false), shape: [s.nKvHeads, s.nSel] },
    ],
    run: (be, [dst, src, idx]) => be.scatterChunks(dst, src, idx, s.chunkSize),
    tolerance: { kind: 'exact' },
  }), { long: s.long });
}

function rebuildCase(s: ChunkSpec & { rank: number; positionOffset: number }): ConformanceCase {
  const seqLen = s.nChunks * s.chunkSize + s.tail;
  const name =
    `seqLen=${seqLen} rank=${s.rank} nKvHeads=${s.nKvHeads} headDim=${s.headDim} chunkSize=${s.chunkSize} nSel=${s.nSel} ` +
    `positionOffset=${s.positionOffset}${s.duplicates ? ' repeated ids' : ''}`;
  return referenceCase('rebuildKeys', name, (rng) => {
    const rope = makeRopeSpec(s.headDim, { longContextScaling: true });
    const idx = chunkIds(rng, s.nKvHeads, s.nSel, s.nChunks, !!s.duplicates);
    const d = s.headDim;
    const half = d / 2;
    // Rotation angle of every output element: token c*chunkSize + j at position token + positionOffset.
    const angles = new Float64Array(s.nKvHeads * s.nSel * s.chunkSize * d);
    for (let g = 0; g < s.nKvHeads; g++) {
      for (let sel = 0; sel < s.nSel; sel++) {
        for (let j = 0; j < s.chunkSize; j++) {
          const pos = idx[g * s.nSel + sel] * s.chunkSize + j + s.positionOffset;
          const o = ((g * s.nSel + sel) * s.chunkSize + j) * d;
          for (let e = 0; e < d; e++) angles[o + e] = pos * rope.invFreq[e % half];
        }
      }
    }
    return {
      inputs: [
        { data: rng.normals(seqLen * s.rank), shape: [seqLen, s.rank] },
        { data: rng.normals(s.nKvHeads * s.rank * d, 1 / Math.sqrt(s.rank)), shape: [s.nKvHeads, s.rank, d] },
        { data: idx, shape: [s.nKvHeads, s.nSel] },
      ],
      run: (be, [a, b, ids]) => be.rebuildKeys(a, b, ids, s.chunkSize, s.positionOffset, rope),
      tolerance: { kind: 'rotation', length: s.rank, angles },
    };
  }, { long: s.long });
}

function landmarkCase(nHeads: number, nKvHeads: number, nChunks: number, headDim: number, qScale: number, long?: boolean): ConformanceCase {
  const name = `nHeads=${nHeads} nKvHeads=${nKvHeads} (GQA ${nHeads / nKvHeads}) nChunks=${nChunks} headDim=${headDim} qScale=${qScale}`;
  return referenceCase('landmarkScores', name, (rng) => ({
    inputs: [
      { data: rng.normals(nHeads * headDim, qScale), shape: [nHeads * headDim] },
      { data: rng.normals(nKvHeads * nChunks * headDim), shape: [nKvHeads, nChunks, headDim] },
    ],
    run: (be, [q, lm]) => be.landmarkScores(q, lm, nHeads, 1 / Math.sqrt(headDim)),
    // A softmax over nChunks of scores that each sum headDim products.
    tolerance: { kind: 'reduction', length: nChunks + headDim },
  }), { long });
}

type TopKVariant = 'distinct' | 'ties' | 'negative';

function topKCase(rows: number, n: number, k: number, variant: TopKVariant, long?: boolean): ConformanceCase {
  return referenceCase('topK', `rows=${rows} n=${n} k=${k} ${variant}`, (rng) => {
    let data: Float32Array;
    if (variant === 'ties') {
      // Five distinct values: most of the k-th boundary is a tie, which must go to the lower index.
      data = new Float32Array(rows * n);
      for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 4) * 0.25;
    } else if (variant === 'negative') {
      data = rng.normals(rows * n, 1, -100);
    } else {
      data = rng.normals(rows * n);
    }
    return {
      inputs: [{ data, shape: [rows, n] }],
      run: (be, [x]) => be.topK(x, k),
      tolerance: { kind: 'exact' },
    };
  }, { long });
}

/** Sparse-op cases (gather/scatter, rebuild, landmarks, topK): chunk edges (chunkSize±1, tails), GQA 1/2/4/8, headDim 64/128, ties, random shapes. */
export function sparseCases(seed: number, randomCount: number): ConformanceCase[] {
  const r = SeededRng.fromString('sparse shapes', seed);
  const cases: ConformanceCase[] = [];

  // gatherChunks and its inverse scatterChunks run on the same shapes: the edges (one-row chunks, tails, a
  // 512-chunk cache, every chunk selected), random ones, and one past 64K rows; only gather may repeat ids.
  const chunkShapes: ChunkSpec[] = [
    { nKvHeads: 1, nChunks: 1, tail: 0, chunkSize: 1, nSel: 1, headDim: 64 },
    { nKvHeads: 2, nChunks: 9, tail: 7, chunkSize: 8, nSel: 7, headDim: 128 },
    { nKvHeads: 8, nChunks: 512, tail: 3, chunkSize: 8, nSel: 32, headDim: 64 },
    { nKvHeads: 4, nChunks: 65, tail: 1, chunkSize: 7, nSel: 65, headDim: 128 },
    { nKvHeads: 2, nChunks: 30, tail: 0, chunkSize: 9, nSel: 12, headDim: 64 },
  ];
  for (const chunkCase of [gatherCase, scatterCase]) {
    cases.push(...chunkShapes.map(chunkCase));
    for (let i = 0; i < randomCount; i++) {
      const nChunks = r.int(1, 300);
      cases.push(chunkCase({ nKvHeads: r.pick([1, 2, 4, 8]), nChunks, tail: r.int(0, 7), chunkSize: r.pick([1, 7, 8, 9, 16]), nSel: r.int(1, nChunks), headDim: r.pick([64, 128]) }));
    }
    // 2 KV heads x 64005 rows x 128 stays under 2^24 elements, the per-tensor limit of GL backends.
    cases.push(chunkCase({ nKvHeads: 2, nChunks: 8000, tail: 5, chunkSize: 8, nSel: 256, headDim: 128, long: true }));
  }
  cases.push(gatherCase({ nKvHeads: 2, nChunks: 30, tail: 0, chunkSize: 9, nSel: 12, headDim: 64, duplicates: true }));

  cases.push(
    rebuildCase({ nKvHeads: 1, nChunks: 1, tail: 0, chunkSize: 1, nSel: 1, headDim: 64, rank: 1, positionOffset: 0 }),
    rebuildCase({ nKvHeads: 2, nChunks: 64, tail: 5, chunkSize: 8, nSel: 9, headDim: 128, rank: 32, positionOffset: 0 }),
    rebuildCase({ nKvHeads: 8, nChunks: 512, tail: 0, chunkSize: 8, nSel: 7, headDim: 64, rank: 160, positionOffset: 127000 }),
    rebuildCase({ nKvHeads: 2, nChunks: 40, tail: 2, chunkSize: 9, nSel: 5, headDim: 128, rank: 16, positionOffset: 3, duplicates: true }),
    rebuildCase({ nKvHeads: 4, nChunks: 20, tail: 6, chunkSize: 7, nSel: 20, headDim: 64, rank: 65, positionOffset: 1 }),
  );
  for (let i = 0; i < randomCount; i++) {
    const nChunks = r.int(1, 200);
    cases.push(rebuildCase({
      nKvHeads: r.pick([1, 2, 4, 8]), nChunks, tail: r.int(0, 7), chunkSize: r.pick([1, 7, 8, 9, 16]), nSel: r.int(1, Math.min(nChunks, 40)),
      headDim: r.pick([64, 128]), rank: r.int(1, 160), positionOffset: r.pick([0, r.int(0, 120000)]),
    }));
  }
  cases.push(rebuildCase({ nKvHeads: 8, nChunks: 8192, tail: 0, chunkSize: 8, nSel: 256, headDim: 128, rank: 160, positionOffset: 65536, long: true }));

  for (const [group, headDim, nChunks] of [[1, 64, 1], [2, 128, 7], [4, 64, 9], [8, 128, 512], [4, 128, 65], [1, 128, 257]] as const) {
    cases.push(landmarkCase(2 * group, 2, nChunks, headDim, 1));
  }
  cases.push(landmarkCase(32, 8, 4096, 128, 3), landmarkCase(8, 1, 63, 64, 10));
  // Widths that are not a multiple of 4 and odd groups: ShadowKV's spread landmarks are headDim + groups wide
  // (65 with one group, 72 with 8), and backends may score query heads in pairs.
  for (const [group, width, nChunks] of [[3, 72, 13], [3, 65, 6], [1, 65, 5], [2, 65, 11], [5, 66, 9]] as const) {
    cases.push(landmarkCase(2 * group, 2, nChunks, width, 1));
  }
  for (let i = 0; i < randomCount; i++) {
    const group = r.pick([1, 2, 4, 8]);
    const nKv = r.pick([1, 2, 4]);
    cases.push(landmarkCase(group * nKv, nKv, r.int(1, 1000), r.pick([64, 128]), 2));
  }
  cases.push(landmarkCase(32, 8, 16384, 128, 3, true));

  cases.push(
    topKCase(1, 1, 1, 'distinct'),
    topKCase(2, 9, 9, 'distinct'),
    topKCase(3, 7, 1, 'ties'),
    topKCase(8, 512, 256, 'ties'),
    topKCase(2, 257, 65, 'distinct'),
    topKCase(4, 65, 63, 'negative'),
    topKCase(8, 4096, 256, 'distinct'),
    topKCase(2, 1000, 300, 'ties'),
  );
  for (let i = 0; i < randomCount; i++) {
    const n = r.int(1, 2000);
    cases.push(topKCase(r.int(1, 8), n, r.int(1, n), r.pick(['distinct', 'ties', 'negative'] as const)));
  }
  cases.push(topKCase(8, 16384, 256, 'ties', true), topKCase(32, 131072, 2048, 'distinct', true));
  return cases;
}
