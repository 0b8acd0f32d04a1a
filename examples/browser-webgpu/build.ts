// Bundles the page (src/main.ts → main.js, plus index.html) for browsers with esbuild. Platform "browser"
// makes any node:* import a build error, and resolves the workspace packages' browser entries from source.
// Run directly (`pnpm build`) it writes dist/.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** What a build produced. */
export interface ExampleBuild {
  outDir: string;
  /** Every source file in the bundle, relative to the repository root's parent as esbuild names them. */
  inputs: string[];
  metafile: Metafile;
}

/** Builds the page into `outDir` (created if needed). Throws with esbuild's messages when the build fails. */
export async function buildExample(outDir: string): Promise<ExampleBuild> {
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    // Workspace packages resolve to their TypeScript sources (and their "browser" variants) without a build.
    conditions: ['@shadowkv/source'],
    sourcemap: true,
    metafile: true,
    logLevel: 'silent',
  });
  await copyFile(join(here, 'index.html'), join(outDir, 'index.html'));
  return { outDir, inputs: Object.keys(result.metafile.inputs), metafile: result.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = join(here, 'dist');
  const { inputs } = await buildExample(out);
  console.log(`built ${out} from ${inputs.length} source files`);
}
