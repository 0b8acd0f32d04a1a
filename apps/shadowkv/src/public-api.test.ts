// The entries: browser.ts is the everywhere-list, index.ts adds only the Node-only list, benchmarks are shadowkv/bench.
import { describe, expect, it } from 'vitest';
import * as bench from './bench/index.js';
import * as browser from './browser.js';
import * as main from './index.js';
import * as nodeOnly from './public-api-node.js';

describe('public entries', () => {
  it('index = browser + the Node-only exports, and no benchmark helper in either', async () => {
    const keys = (m: object) => Object.keys(m).sort();
    expect(keys(main)).toEqual([...keys(browser), ...keys(nodeOnly)].sort());
    for (const k of keys(bench)) expect(keys(main), k).not.toContain(k);
    // The package's own subpath export resolves to the same module.
    const viaExport = (await import('shadowkv/bench')) as object;
    expect(keys(viaExport)).toEqual(keys(bench));
    expect(keys(bench)).toEqual(expect.arrayContaining(['runNiah', 'runSpeed', 'PrefillRecordingCache', 'replayPrefill']));
  });
});
