// @ts-check
// shadowkv: createEngine() + generate() with the ShadowKV cache, on the needle model the package ships.
import { createEngine, shadowkv } from 'shadowkv';

const model = new URL('./node_modules/shadowkv/assets/needle-llama', import.meta.url).pathname;
const engine = await createEngine({ model, backend: 'cpu', cache: shadowkv({ rank: 32, budget: 64, outliers: 2 }) });
const haystack = 'def add(a, b):\n    return a + b\n\n'.repeat(20);
const prompt = `${haystack}\nThe pass key is 48213. Remember it. 48213 is the pass key.\n${haystack}\nWhat is the pass key? The pass key is`;
const stream = engine.generate(prompt, { maxNewTokens: 6 });
for await (const { text } of stream) process.stdout.write(text);
const { promptTokens, memory } = await stream.result;
console.log(`\n${promptTokens} prompt tokens; KV fast ${memory.fastBytes} B, slow ${memory.slowBytes} B, dense would be ${memory.denseBytes} B`);
