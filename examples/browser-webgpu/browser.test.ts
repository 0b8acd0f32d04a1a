// The example end to end: the page is bundled for browsers (no node:* anywhere in it), served with the fixture
// model over HTTP with Range support, and run in Debian's headless Chromium on WebGPU (SwiftShader when there
// is no GPU: no shader-f16, 256 invocations per workgroup). Its 24 greedy tokens must be transformers' tokens.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '@shadowkv/model-llama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample, type ExampleBuild } from './build.js';
import { chromiumMissing, launchChromium, type HeadlessChromium } from './chromium.js';
import type { PageResult } from './src/run-generation.js';
import { startStaticServer, type StaticServer } from './static-server.js';

const FIXTURE_DIR = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../fixtures/hf-llama-gqa', import.meta.url));
const TOKENIZER_DIR = process.env.SHADOWKV_TOKENIZER_DIR ?? fileURLToPath(new URL('../../fixtures/tokenizer-bpe', import.meta.url));
/** Set to a .png path to keep a screenshot of the page after generation. */
const SCREENSHOT = process.env.SHADOWKV_BROWSER_SCREENSHOT;

const golden = JSON.parse(readFileSync(join(FIXTURE_DIR, 'golden.json'), 'utf8')) as {
  inputs: Record<string, number[]>;
  generate: { prompt_len: number; new_tokens: number[] };
};

let outDir: string;
let bundle: ExampleBuild;
beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'skv-browser-example-'));
  bundle = await buildExample(outDir);
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('the browser bundle', () => {
  it('builds for platform "browser" from the fetch-based modules only', () => {
    // esbuild fails a platform-"browser" build on any node:* import, so reaching here already proves there is
    // none; these checks pin down that the browser variants were the ones resolved.
    const inputs = bundle.inputs.map((p) => p.replaceAll('\\', '/'));
    expect(inputs.some((p) => p.endsWith('model-llama/src/model-files-browser.ts'))).toBe(true);
    expect(inputs.some((p) => p.endsWith('model-llama/src/browser.ts'))).toBe(true);
    expect(inputs.some((p) => p.endsWith('apps/shadowkv/src/browser.ts'))).toBe(true);
    const fsModules = ['model-files-node.ts', 'model-llama/src/safetensors.ts', 'safetensors-writer.ts', 'random-llama.ts', 'random-models.ts', 'bench/'];
    expect(inputs.filter((p) => fsModules.some((m) => p.includes(m)) || p.startsWith('node:'))).toEqual([]);
  });
});

const missing = chromiumMissing();
if (missing !== null) console.warn(`browser-webgpu: skipping the headless-Chromium test: ${missing}`);

describe.skipIf(missing !== null)('the page in headless Chromium on WebGPU', () => {
  let server: StaticServer;
  let browser: HeadlessChromium;

  beforeAll(async () => {
    server = await startStaticServer({ '/': outDir, '/model/': FIXTURE_DIR, '/tokenizer/': TOKENIZER_DIR });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it(
    'streams the golden greedy tokens for the 64-token prompt, reading the weights with Range requests',
    async () => {
      const ids = golden.inputs[String(golden.generate.prompt_len)];
      const want = golden.generate.new_tokens;
      const page = await browser.context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
      });
      const query = new URLSearchParams({ model: 'model/', tokenizer: 'tokenizer/', ids: ids.join(','), maxNewTokens: String(want.length), autorun: '1' });
      await page.goto(`${server.url}?${query}`);
      // SwiftShader runs the kernels on the CPU: a few seconds unloaded, about 30 s on a busy 2-core machine.
      await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, null, { timeout: 200_000 });
      const outcome = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
      if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
      await page.close();
      expect(outcome.error, `the page failed; ${problems.join('; ')}`).toBeUndefined();
      const r = outcome.result as PageResult;
      console.log(
        `browser-webgpu: ${r.adapterName} (${r.adapterInfo!.features.includes('shader-f16') ? 'shader-f16' : 'no shader-f16'}, ` +
          `${r.adapterInfo!.maxComputeInvocationsPerWorkgroup} invocations): load ${r.loadMs.toFixed(0)} ms, prefill ${r.prefillMs.toFixed(0)} ms, decode ${r.decodeMs.toFixed(0)} ms`,
      );

      // Token ids compare exactly: greedy decoding is discrete, and the f32 CPU reference reproduces these
      // tokens from the float64 goldens, so a backend error large enough to flip an argmax is a bug.
      expect(r.tokens).toEqual(want);
      expect(r.backend).toBe('webgpu');
      expect(r.promptTokens).toBe(ids.length);
      expect(r.finishReason).toBe('length');
      // The tokenizer came over HTTP through createTokenizer; its text must be what Node's decodes.
      const tok = (await loadTokenizer(TOKENIZER_DIR))!;
      expect(r.text).toBe(tok.decode(want, { skipSpecialTokens: true }));
      expect(problems).toEqual([]);
      // The weights were read by byte ranges, never downloaded whole.
      const weightRequests = server.log.filter((l) => l.startsWith('GET /model/model.safetensors'));
      expect(weightRequests.length).toBeGreaterThan(1);
      expect(weightRequests.filter((l) => !l.endsWith('→ 206'))).toEqual([]);
    },
    240_000,
  );
});

// The same page on the wasm backend, served with the COOP/COEP headers (cross-origin isolated: SharedArrayBuffer,
// so worker threads on one shared WebAssembly.Memory; the main thread spins while they work, since a page's main
// thread may not Atomics.wait) and without them (single-threaded, with the reason reported).
describe.skipIf(missing !== null)('the page in headless Chromium on the wasm backend', () => {
  let browser: HeadlessChromium;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const isolated of [true, false]) {
    it(
      `${isolated ? 'cross-origin isolated: threads' : 'not isolated: single-threaded, says why'}; the golden greedy tokens`,
      async () => {
        const server = await startStaticServer({ '/': outDir, '/model/': FIXTURE_DIR, '/tokenizer/': TOKENIZER_DIR }, 0, { crossOriginIsolated: isolated });
        try {
          const ids = golden.inputs[String(golden.generate.prompt_len)];
          const want = golden.generate.new_tokens;
          const page = await browser.context.newPage();
          const problems: string[] = [];
          page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
          page.on('console', (m) => {
            if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
          });
          const query = new URLSearchParams({ model: 'model/', ids: ids.join(','), maxNewTokens: String(want.length), backend: 'wasm', autorun: '1' });
          await page.goto(`${server.url}?${query}`);
          await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, null, { timeout: 200_000 });
          const outcome = await page.evaluate(() => ({ result: window.__result, error: window.__error, isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency }));
          await page.close();
          expect(outcome.error, `the page failed; ${problems.join('; ')}`).toBeUndefined();
          const r = outcome.result as PageResult;
          console.log(`browser wasm (${isolated ? 'isolated' : 'not isolated'}): ${r.adapterName}: load ${r.loadMs.toFixed(0)} ms, prefill ${r.prefillMs.toFixed(0)} ms, decode ${r.decodeMs.toFixed(0)} ms`);
          expect(outcome.isolated).toBe(isolated);
          expect(r.tokens).toEqual(want);
          expect(r.backend).toBe('wasm');
          expect(r.adapterInfo).toBeNull();
          if (isolated) {
            expect(r.singleThreadReason).toBeNull();
            expect(r.wasmThreads).toBe(Math.min(8, outcome.cores));
          } else {
            expect(r.wasmThreads).toBe(1);
            expect(r.singleThreadReason).toMatch(/cross-origin isolated|SharedArrayBuffer/);
          }
          expect(problems).toEqual([]);
        } finally {
          await server.close();
        }
      },
      240_000,
    );
  }
});
