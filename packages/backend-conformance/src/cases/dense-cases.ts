// Conformance of the dense ops: embedding, matmul, rmsNorm, add, swiglu, softmax.
import type { ConformanceCase } from '../conformance-case.js';
import { referenceCase } from '../reference-case.js';
import { SeededRng } from '../seeded-rng.js';

function embeddingCase(vocab: number, hidden: number, m: number, long?: boolean): ConformanceCase {
  return referenceCase('embedding', `vocab=${vocab} hidden=${hidden} m=${m}`, (rng) => {
    const ids = rng.ints(m, 0, vocab - 1);
    // The first and last rows of the table, and a repeated id, are where off-by-one errors show.
    ids[0] = vocab - 1;
    if (m > 1) ids[1] = 0;
    if (m > 2) ids[2] = ids[0];
    return {
      inputs: [{ data: rng.normals(vocab * hidden), shape: [vocab, hidden] }, { data: ids, shape: [m] }],
      run: (be, [table, idv]) => be.embedding(table, idv),
      tolerance: { kind: 'exact' },
    };
  }, { long });
}

function matmulCase(m: number, k: number, n: number, long?: boolean): ConformanceCase {
  return referenceCase('matmul', `m=${m} k=${k} n=${n}`, (rng) => ({
    inputs: [
      { data: rng.normals(m * k), shape: [m, k] },
      { data: rng.normals(n * k, 1 / Math.sqrt(k)), shape: [n, k] },
    ],
    run: (be, [x, w]) => be.matmul(x, w),
    tolerance: { kind: 'reduction', length: k },
  }), { long });
}

function rmsNormCase(m: number, d: number, eps: number, scale: number, long?: boolean): ConformanceCase {
  return referenceCase('rmsNorm', `m=${m} d=${d} eps=${eps} |x|~${scale}`, (rng) => ({
    inputs: [
      { data: rng.normals(m * d, scale), shape: [m, d] },
      { data: rng.normals(d, 0.2, 1), shape: [d] },
    ],
    run: (be, [x, w]) => be.rmsNorm(x, w, eps),
    tolerance: { kind: 'reduction', length: d },
  }), { long });
}

function addCase(shape: number[]): ConformanceCase {
  const n = shape.reduce((a, b) => a * b, 1);
  return referenceCase('add', `[${shape.join(', ')}]`, (rng) => ({
    inputs: [
      { data: rng.normals(n, 3), shape },
      { data: rng.normals(n, 3), shape },
    ],
    run: (be, [a, b]) => be.add(a, b),
    tolerance: { kind: 'elementwise' },
  }));
}

function swigluCase(shape: number[], gateScale: number): ConformanceCase {
  const n = shape.reduce((a, b) => a * b, 1);
  return referenceCase('swiglu', `[${shape.join(', ')}] |gate|~${gateScale}`, (rng) => ({
    inputs: [
      { data: rng.normals(n, gateScale), shape },
      { data: rng.normals(n, 2), shape },
    ],
    run: (be, [gate, up]) => be.swiglu(gate, up),
    tolerance: { kind: 'elementwise' },
  }));
}

type SoftmaxVariant = 'normal' | 'offset' | 'masked';

function softmaxCase(shape: number[], variant: SoftmaxVariant, long?: boolean): ConformanceCase {
  const n = shape[shape.length - 1];
  const total = shape.reduce((a, b) => a * b, 1);
  return referenceCase('softmax', `[${shape.join(', ')}] ${variant}`, (rng) => {
    // 'offset' adds +1000 so that exp without max-subtraction overflows; 'masked' sets some entries to
    // -Infinity (how callers mask scores), never a whole row.
    const data = rng.normals(total, 3, variant === 'offset' ? 1000 : 0);
    if (variant === 'masked') {
      for (let i = 0; i < total; i++) if (i % n !== 0 && rng.next() < 0.3) data[i] = -Infinity;
    }
    return {
      inputs: [{ data, shape }],
      run: (be, [x]) => be.softmax(x),
      tolerance: { kind: 'reduction', length: n },
    };
  }, { long });
}

/**
 * Dense-op cases: fixed edge shapes (1, chunkSize±1 = 7/9, around the 64/256 workgroup sizes, 4096) plus
 * `randomPerOp` shapes per op drawn from the suite seed.
 */
export function denseCases(seed: number, randomPerOp: number): ConformanceCase[] {
  const r = SeededRng.fromString('dense shapes', seed);
  const cases: ConformanceCase[] = [];

  cases.push(embeddingCase(1, 1, 1), embeddingCase(50, 4096, 3), embeddingCase(257, 65, 9));
  for (let i = 0; i < randomPerOp; i++) cases.push(embeddingCase(r.int(1, 300), r.int(1, 300), r.int(1, 40)));
  cases.push(embeddingCase(32000, 256, 64, true));

  // m = 1 is the decode GEMV path, m > 1 the prefill GEMM path; k and n around tile sizes.
  cases.push(matmulCase(1, 1, 1), matmulCase(1, 63, 65), matmulCase(1, 257, 255), matmulCase(1, 4096, 256), matmulCase(1, 128, 4096));
  cases.push(matmulCase(2, 1, 7), matmulCase(9, 64, 256), matmulCase(65, 129, 63), matmulCase(7, 4096, 9), matmulCase(256, 256, 256));
  for (let i = 0; i < randomPerOp; i++) cases.push(matmulCase(1, r.int(1, 600), r.int(1, 600)));
  for (let i = 0; i < randomPerOp; i++) cases.push(matmulCase(r.int(2, 70), r.int(1, 300), r.int(1, 300)));
  cases.push(matmulCase(1, 4096, 4096, true), matmulCase(128, 4096, 1024, true), matmulCase(513, 1000, 257, true));

  cases.push(rmsNormCase(1, 1, 1e-5, 1), rmsNormCase(3, 4096, 1e-5, 1), rmsNormCase(9, 257, 1e-6, 100), rmsNormCase(2, 64, 1e-5, 1e-3));
  for (let i = 0; i < randomPerOp; i++) cases.push(rmsNormCase(r.int(1, 20), r.int(1, 2048), 1e-5, 1));
  cases.push(rmsNormCase(512, 4096, 1e-5, 1, true));

  for (const shape of [[1], [7], [3, 257], [2, 3, 65], [4, 4096]]) cases.push(addCase(shape));
  for (let i = 0; i < randomPerOp; i++) cases.push(addCase([r.int(1, 20), r.int(1, 600)]));

  // |gate| ~ 30 reaches exp overflow territory for naive silu implementations.
  for (const [shape, s] of [[[1], 1], [[9, 257], 3], [[2, 14336], 1], [[3, 65], 30]] as const) cases.push(swigluCase([...shape], s));
  for (let i = 0; i < randomPerOp; i++) cases.push(swigluCase([r.int(1, 20), r.int(1, 600)], 2));

  cases.push(softmaxCase([1, 1], 'normal'), softmaxCase([3, 9], 'normal'), softmaxCase([2, 257], 'offset'));
  cases.push(softmaxCase([4, 65], 'masked'), softmaxCase([2, 3, 63], 'normal'), softmaxCase([2, 4096], 'normal'));
  for (let i = 0; i < randomPerOp; i++) cases.push(softmaxCase([r.int(1, 10), r.int(1, 5000)], 'normal'));
  cases.push(softmaxCase([32, 131072], 'normal', true));
  return cases;
}
