// The two twins behind "#model-files": the same API (checked by the type checker), and the browser twin
// doing over HTTP what the Node twin does on disk (run here with Node's fetch against a local server).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import * as browserFiles from './model-files-browser.js';
import * as nodeFiles from './model-files-node.js';
import { serveFolder, type RangeServer } from './test-support/range-server.js';

const FIXTURE_DIR = process.env.SHADOWKV_HF_LLAMA_DIR ?? fileURLToPath(new URL('../../../fixtures/hf-llama-gqa', import.meta.url));

let server: RangeServer;
beforeAll(async () => {
  server = await serveFolder(FIXTURE_DIR);
});
afterAll(async () => {
  await server.close();
});

describe('#model-files twins', () => {
  it('export the same functions with the same types', () => {
    expect(Object.keys(browserFiles).sort()).toEqual(Object.keys(nodeFiles).sort());
    expectTypeOf(browserFiles).toEqualTypeOf(nodeFiles);
  });

  it('name, test, read and open the same files, on disk and over HTTP', async () => {
    const onDisk = nodeFiles.modelFilePath(FIXTURE_DIR, 'config.json');
    const overHttp = browserFiles.modelFilePath(server.url.slice(0, -1), 'config.json');
    expect(onDisk).toBe(join(FIXTURE_DIR, 'config.json'));
    expect(overHttp).toBe(`${server.url}config.json`);
    expect(await browserFiles.readModelText(overHttp)).toBe(await nodeFiles.readModelText(onDisk));
    expect([await nodeFiles.isModelFile(onDisk), await browserFiles.isModelFile(overHttp)]).toEqual([true, true]);
    const absent = ['tokenizer.json', 'nope.json'];
    for (const name of absent) {
      expect(await nodeFiles.isModelFile(nodeFiles.modelFilePath(FIXTURE_DIR, name))).toBe(false);
      expect(await browserFiles.isModelFile(browserFiles.modelFilePath(server.url, name))).toBe(false);
    }
    await expect(browserFiles.readModelText(`${server.url}nope.json`)).rejects.toThrow(/HTTP 404/);
    // A name is one path segment: it cannot climb out of the folder.
    expect(browserFiles.modelFilePath(server.url, '../secret.json')).toBe(`${server.url}..%2Fsecret.json`);
    const [a, b] = await Promise.all([nodeFiles.openModelWeights(FIXTURE_DIR), browserFiles.openModelWeights(server.url)]);
    expect(b.names()).toEqual(a.names());
    await Promise.all([a.close(), b.close()]);
  });
});
