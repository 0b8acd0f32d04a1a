// The vitest entry point: registers one test per conformance case for a backend under test.
import type { KernelBackend } from '@shadowkv/core';
import { cpu } from '@shadowkv/kernels-cpu';
import { beforeAll, describe, it } from 'vitest';
import type { FloatDType, OpName } from './conformance-case.js';
import { conformanceCases, DEFAULT_CONFORMANCE_SEED } from './conformance-cases.js';
import { SeededRng } from './seeded-rng.js';

export interface ConformanceOptions {
  /** Float dtypes to run the suite in (every float tensor uses it). Default ['f32']. */
  dtypes?: FloatDType[];
  /** When set, registers a skipped describe and prints this reason (e.g. "no WebGPU adapter"). */
  skip?: string;
  /** Adds the big shapes. Default: true when SHADOWKV_CONFORMANCE_LONG=1. */
  long?: boolean;
  /** Suite seed for random shapes and data. Default: SHADOWKV_CONFORMANCE_SEED or 0x5eed. */
  seed?: number;
  /** Random shapes per op besides the edge shapes. Default 3. */
  randomPerOp?: number;
  /** Only these ops (for debugging). */
  ops?: readonly OpName[];
}

function envSeed(): number | undefined {
  const s = process.env.SHADOWKV_CONFORMANCE_SEED;
  return s ? Number.parseInt(s, 0) : undefined;
}

/**
 * Registers the conformance suite of a backend: every op of KernelBackend compared with the CPU reference
 * (`@shadowkv/kernels-cpu`) under the tolerances of `TOLERANCE_TABLE`. Call it at the top level of a test
 * file; `factory` runs once, in a beforeAll. Dtypes the backend does not list in `capabilities.dtypes` skip.
 */
export function describeBackendConformance(
  name: string,
  factory: () => KernelBackend | Promise<KernelBackend>,
  opts: ConformanceOptions = {},
): void {
  const title = `backend conformance: ${name}`;
  if (opts.skip !== undefined) {
    console.warn(`[backend-conformance] ${name}: skipped — ${opts.skip}`);
    describe.skip(`${title} (skipped: ${opts.skip})`, () => {
      it('every op against the cpu reference', () => {});
    });
    return;
  }
  const seed = opts.seed ?? envSeed() ?? DEFAULT_CONFORMANCE_SEED;
  const cases = conformanceCases({
    long: opts.long ?? process.env.SHADOWKV_CONFORMANCE_LONG === '1',
    seed,
    randomPerOp: opts.randomPerOp,
    ops: opts.ops,
  });
  const reference = cpu();
  let backend: KernelBackend | undefined;

  describe(title, () => {
    beforeAll(async () => {
      backend = await factory();
    });
    const shared = cases.filter((c) => !c.ownBackend);
    for (const dtype of opts.dtypes ?? ['f32']) {
      describe(dtype, () => {
        const ops = [...new Set(shared.map((c) => c.op))];
        for (const op of ops) {
          describe(op, () => {
            for (const c of shared.filter((x) => x.op === op)) {
              it(c.name, async (ctx) => {
                if (!backend) throw new Error(`the ${name} backend factory did not produce a backend`);
                if (!backend.capabilities.dtypes.includes(dtype)) {
                  ctx.skip(`${name} does not offer ${dtype} (capabilities.dtypes = ${backend.capabilities.dtypes.join(', ')})`);
                  return;
                }
                const skip = (reason: string): never => {
                  ctx.skip(reason);
                  throw new Error('unreachable: ctx.skip() returned');
                };
                await c.check({ backend, reference, dtype, rng: SeededRng.fromString(`${c.op} ${c.name}`, seed), skip });
              });
            }
          });
        }
      });
    }
    // Cases that need a backend of their own (destroy) run last, once, on a fresh backend from the factory: a
    // factory that hands out one shared instance then loses it only after every other case has run.
    describe('lifecycle', () => {
      for (const c of cases.filter((x) => x.ownBackend)) {
        it(`${c.op}: ${c.name}`, async (ctx) => {
          const skip = (reason: string): never => {
            ctx.skip(reason);
            throw new Error('unreachable: ctx.skip() returned');
          };
          const dtype = (opts.dtypes ?? ['f32'])[0];
          await c.check({ backend: backend as KernelBackend, reference, dtype, rng: SeededRng.fromString(`${c.op} ${c.name}`, seed), skip, createBackend: async () => factory() });
        });
      }
    });
  });
}
