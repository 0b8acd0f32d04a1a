// @ts-check
// @shadowkv/model-llama: a Hugging Face Llama folder (config.json, safetensors, tokenizer.json) read in Node.
// Run: node model-llama.mjs /path/to/llama-folder
import { loadLlamaConfig, loadTokenizer, openSafetensors } from '@shadowkv/model-llama';

const dir = process.argv[2];
const config = await loadLlamaConfig(dir);
console.log(`${config.nLayers} layers, ${config.nHeads} heads / ${config.nKvHeads} KV heads, head_dim ${config.headDim}, vocab ${config.vocabSize}`);
const weights = await openSafetensors(dir);
console.log('tensors', weights.names().length);
const tokenizer = await loadTokenizer(dir);
if (tokenizer) {
  const ids = tokenizer.encode('def add(a, b):');
  console.log('ids', ids, '->', JSON.stringify(tokenizer.decode(ids, { skipSpecialTokens: true })));
}
