// Conformance of rope: arbitrary per-token positions (up to 131071), headDim 64 and 128, attentionScaling.
import type { ConformanceCase } from '../conformance-case.js';
import { referenceCase } from '../reference-case.js';
import { SeededRng } from '../seeded-rng.js';
import { makeRopeSpec, ropeAngles } from '../test-rope-spec.js';

interface RopeCaseSpec {
  m: number;
  nHeads: number;
  headDim: number;
  /** Largest position drawn; positions are random in [0, maxPos] with 0 and maxPos always present. */
  maxPos: number;
  attentionScaling?: number;
  longContextScaling?: boolean;
  base?: number;
  long?: boolean;
}

function ropeCase(s: RopeCaseSpec): ConformanceCase {
  const extra = `${s.attentionScaling !== undefined ? ` attentionScaling=${s.attentionScaling}` : ''}${s.longContextScaling ? ' scaled-freqs' : ''}${s.base ? ` base=${s.base}` : ''}`;
  const name = `m=${s.m} nHeads=${s.nHeads} headDim=${s.headDim} positions<=${s.maxPos}${extra}`;
  return referenceCase('rope', name, (rng) => {
    const spec = makeRopeSpec(s.headDim, { base: s.base, attentionScaling: s.attentionScaling, longContextScaling: s.longContextScaling });
    // Positions are per token and need not be consecutive or sorted (sparse decode reuses rope this way).
    const positions = rng.ints(s.m, 0, s.maxPos);
    positions[0] = s.maxPos;
    if (s.m > 1) positions[1] = 0;
    const width = s.nHeads * s.headDim;
    return {
      inputs: [
        { data: rng.normals(s.m * width), shape: [s.m, width] },
        { data: positions, shape: [s.m] },
      ],
      run: (be, [x, pos]) => be.rope(x, pos, s.nHeads, spec),
      tolerance: { kind: 'rotation', length: 1, angles: ropeAngles(positions, s.nHeads, spec) },
    };
  }, { long: s.long });
}

/** Rope cases: fixed edges plus `randomCount` random shapes from the suite seed. */
export function ropeCases(seed: number, randomCount: number): ConformanceCase[] {
  const r = SeededRng.fromString('rope shapes', seed);
  const cases = [
    ropeCase({ m: 1, nHeads: 1, headDim: 64, maxPos: 0 }),
    ropeCase({ m: 1, nHeads: 32, headDim: 128, maxPos: 131000 }),
    ropeCase({ m: 9, nHeads: 8, headDim: 64, maxPos: 4095 }),
    ropeCase({ m: 7, nHeads: 4, headDim: 128, maxPos: 131071, attentionScaling: 1.25 }),
    ropeCase({ m: 65, nHeads: 2, headDim: 64, maxPos: 131000, longContextScaling: true, attentionScaling: 0.8 }),
    ropeCase({ m: 3, nHeads: 3, headDim: 128, maxPos: 100, base: 10000 }),
  ];
  for (let i = 0; i < randomCount; i++) {
    cases.push(ropeCase({ m: r.int(1, 40), nHeads: r.pick([1, 2, 4, 8, 32]), headDim: r.pick([64, 128]), maxPos: r.int(1, 131071) }));
  }
  cases.push(ropeCase({ m: 512, nHeads: 32, headDim: 128, maxPos: 131071, long: true }));
  return cases;
}
