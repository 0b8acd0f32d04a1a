// The committed kernel binaries (src/generated/kernel-binaries.ts, wasm/*.wasm) are exactly what the
// AssemblyScript sources in assembly/ compile to: a fresh clone needs no compiler, and nobody can change a
// kernel source without rebuilding (pnpm --filter @shadowkv/kernels-wasm build:wasm).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { buildKernels, generatedSource, GENERATED_TS, VARIANTS } from '../scripts/build-kernels.mjs';

describe('kernel binaries', () => {
  it('match a fresh AssemblyScript build of assembly/ byte for byte', async () => {
    const bins = (await buildKernels()) as { threads: Uint8Array; single: Uint8Array };
    expect(await readFile(GENERATED_TS, 'utf8')).toBe(generatedSource(bins));
    for (const [k, v] of Object.entries(VARIANTS as Record<string, { file: string }>)) {
      expect(Buffer.compare(await readFile(v.file), Buffer.from(bins[k as 'threads' | 'single']))).toBe(0);
    }
  }, 180_000);
});
