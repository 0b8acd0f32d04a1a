// Conformance of the KV layout ops: writeKv (in place) and GQA attention (causal prefill, decode).
import type { ConformanceCase } from '../conformance-case.js';
import { referenceCase } from '../reference-case.js';
import { SeededRng } from '../seeded-rng.js';

function writeKvCase(nKvHeads: number, capacity: number, headDim: number, m: number, start: number): ConformanceCase {
  return referenceCase('writeKv', `nKvHeads=${nKvHeads} capacity=${capacity} headDim=${headDim} m=${m} start=${start}`, (rng) => ({
    // The cache starts with random contents: rows outside start..start+m must keep them.
    inputs: [
      { data: rng.normals(nKvHeads * capacity * headDim), shape: [nKvHeads, capacity, headDim] },
      { data: rng.normals(m * nKvHeads * headDim), shape: [m, nKvHeads * headDim] },
    ],
    run: (be, [cache, x]) => be.writeKv(cache, x, start),
    tolerance: { kind: 'exact' },
  }));
}

interface AttentionCaseSpec {
  m: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  kvLen: number;
  /** Rows of k/v per KV head; rows kvLen.. hold garbage that must never be read. */
  capacity: number;
  causal: boolean;
  queryOffset: number;
  /** Multiplies q: larger values make the softmax peaky, where a wrong mask or a missed key shows most. */
  qScale?: number;
  long?: boolean;
}

/** k/v [nKvHeads, capacity, headDim] with rows >= kvLen set to values that wreck any result that reads them. */
function kvWithGarbage(rng: SeededRng, s: AttentionCaseSpec, garbage: number): Float32Array {
  const data = rng.normals(s.nKvHeads * s.capacity * s.headDim);
  for (let g = 0; g < s.nKvHeads; g++) {
    data.fill(garbage, (g * s.capacity + s.kvLen) * s.headDim, (g + 1) * s.capacity * s.headDim);
  }
  return data;
}

function attentionCase(s: AttentionCaseSpec): ConformanceCase {
  const group = s.nHeads / s.nKvHeads;
  const name =
    `${s.causal ? 'causal' : 'non-causal'} m=${s.m} nHeads=${s.nHeads} nKvHeads=${s.nKvHeads} (GQA ${group}) headDim=${s.headDim} ` +
    `kvLen=${s.kvLen} capacity=${s.capacity} queryOffset=${s.queryOffset}${s.qScale ? ` qScale=${s.qScale}` : ''}`;
  return referenceCase('attention', name, (rng) => {
    const width = s.nHeads * s.headDim;
    const p = {
      nHeads: s.nHeads,
      nKvHeads: s.nKvHeads,
      headDim: s.headDim,
      kvLen: s.kvLen,
      causal: s.causal,
      queryOffset: s.queryOffset,
      scale: 1 / Math.sqrt(s.headDim),
    };
    const kvShape = [s.nKvHeads, s.capacity, s.headDim];
    return {
      inputs: [
        { data: rng.normals(s.m * width, s.qScale ?? 1), shape: [s.m, width] },
        // Garbage keys of 30 give scores far above the real ones; garbage values of 1000 dominate any sum.
        { data: kvWithGarbage(rng, s, 30), shape: kvShape },
        { data: kvWithGarbage(rng, s, 1000), shape: kvShape },
      ],
      run: (be, [q, k, v]) => be.attention(q, k, v, p),
      // Each output sums kvLen weighted values; each score sums headDim products.
      tolerance: { kind: 'reduction', length: s.kvLen + s.headDim },
    };
  }, { long: s.long });
}

/** writeKv and attention cases: every GQA ratio (1, 2, 4, 8) with headDim 64 and 128, edge lengths, random shapes. */
export function kvCases(seed: number, randomCount: number): ConformanceCase[] {
  const r = SeededRng.fromString('kv shapes', seed);
  const cases: ConformanceCase[] = [];

  cases.push(writeKvCase(1, 1, 64, 1, 0), writeKvCase(2, 65, 64, 65, 0), writeKvCase(8, 300, 128, 9, 291), writeKvCase(4, 4096, 64, 7, 1000));
  for (let i = 0; i < randomCount; i++) {
    const cap = r.int(1, 600);
    const m = r.int(1, cap);
    cases.push(writeKvCase(r.pick([1, 2, 8]), cap, r.pick([64, 128]), m, r.int(0, cap - m)));
  }

  const edgeLens = [1, 7, 9, 63, 65, 257];
  let e = 0;
  for (const group of [1, 2, 4, 8]) {
    for (const headDim of [64, 128]) {
      const nKvHeads = group === 8 ? 1 : 2;
      const kvLen = edgeLens[e++ % edgeLens.length];
      // Decode: one query over kvLen keys of a larger buffer.
      cases.push(attentionCase({ m: 1, nHeads: nKvHeads * group, nKvHeads, headDim, kvLen, capacity: kvLen + 5, causal: false, queryOffset: 0 }));
      // Causal prefill of a continuation: queries sit after `queryOffset` cached tokens.
      const m = 1 + ((kvLen * 3) % 17);
      cases.push(attentionCase({ m, nHeads: nKvHeads * group, nKvHeads, headDim, kvLen: 100 + m, capacity: 128, causal: true, queryOffset: 100 }));
    }
  }
  cases.push(
    attentionCase({ m: 1, nHeads: 32, nKvHeads: 8, headDim: 128, kvLen: 4096, capacity: 4100, causal: false, queryOffset: 0 }),
    attentionCase({ m: 1, nHeads: 8, nKvHeads: 2, headDim: 64, kvLen: 4095, capacity: 4096, causal: false, queryOffset: 0, qScale: 4 }),
    attentionCase({ m: 40, nHeads: 4, nKvHeads: 2, headDim: 64, kvLen: 40, capacity: 64, causal: true, queryOffset: 0 }),
    attentionCase({ m: 9, nHeads: 8, nKvHeads: 1, headDim: 128, kvLen: 9, capacity: 9, causal: true, queryOffset: 0, qScale: 4 }),
    attentionCase({ m: 64, nHeads: 8, nKvHeads: 2, headDim: 64, kvLen: 1024, capacity: 1030, causal: true, queryOffset: 960 }),
    attentionCase({ m: 3, nHeads: 4, nKvHeads: 4, headDim: 128, kvLen: 300, capacity: 310, causal: false, queryOffset: 0 }),
  );
  for (let i = 0; i < randomCount; i++) {
    const group = r.pick([1, 2, 4, 8]);
    const nKvHeads = r.pick([1, 2, 4]);
    const headDim = r.pick([64, 128]);
    const causal = r.next() < 0.5;
    const m = causal ? r.int(1, 24) : r.pick([1, 1, 2]);
    const queryOffset = causal ? r.int(0, 400) : 0;
    const kvLen = causal ? queryOffset + m : r.int(1, 700);
    cases.push(attentionCase({ m, nHeads: nKvHeads * group, nKvHeads, headDim, kvLen, capacity: kvLen + r.int(0, 40), causal, queryOffset }));
  }
  cases.push(
    attentionCase({ m: 1, nHeads: 32, nKvHeads: 8, headDim: 128, kvLen: 32768, capacity: 32768, causal: false, queryOffset: 0, long: true }),
    attentionCase({ m: 256, nHeads: 32, nKvHeads: 8, headDim: 128, kvLen: 4096, capacity: 4096, causal: true, queryOffset: 3840, long: true }),
  );
  return cases;
}
