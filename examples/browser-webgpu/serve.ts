// Builds the page and serves it with a model folder (and optionally a tokenizer folder) on 127.0.0.1, for
// trying the example by hand: `pnpm --filter @shadowkv/example-browser-webgpu dev [--model DIR] [--tokenizer DIR] [--port N]`.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildExample } from './build.js';
import { startStaticServer } from './static-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', 'fixtures');

// `pnpm dev -- --port 9000` hands the "--" through; it only separates pnpm's options from ours.
const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
const { values } = parseArgs({
  args,
  options: {
    model: { type: 'string', default: join(fixtures, 'hf-llama-gqa') },
    tokenizer: { type: 'string', default: join(fixtures, 'tokenizer-bpe') },
    port: { type: 'string', default: '8080' },
  },
});

const out = join(here, 'dist');
await buildExample(out);
const server = await startStaticServer(
  { '/': out, '/model/': resolve(values.model!), '/tokenizer/': resolve(values.tokenizer!) },
  Number(values.port),
);
console.log(`model ${resolve(values.model!)} at ${server.url}model/, tokenizer ${resolve(values.tokenizer!)} at ${server.url}tokenizer/`);
console.log(`open ${server.url}?model=model/&tokenizer=tokenizer/&prompt=Hello%20world&maxNewTokens=24 in a browser with WebGPU (Ctrl+C stops)`);
