// EngineOptions.tokenizer: a tokenizer built without files (as in a browser) replaces the one the engine
// would load from the model folder; null means none. The fixture model has no tokenizer.json of its own,
// and the fixture BPE tokenizer has the same 512-token vocabulary, so its text is what the ids decode to.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTokenizer, LlamaModel } from '@shadowkv/model-llama';
import { cpu } from '@shadowkv/kernels-cpu';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', '..', 'fixtures');
const modelDir = process.env.SHADOWKV_HF_LLAMA_DIR ? resolve(process.env.SHADOWKV_HF_LLAMA_DIR) : join(fixtures, 'hf-llama-gqa');
const tokenizerDir = process.env.SHADOWKV_TOKENIZER_DIR ? resolve(process.env.SHADOWKV_TOKENIZER_DIR) : join(fixtures, 'tokenizer-bpe');
const readJson = (dir: string, name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));

describe('EngineOptions.tokenizer', () => {
  it('uses the given tokenizer for text prompts and output text, and null for none', async () => {
    const backend = cpu();
    const model = await LlamaModel.load(modelDir, { backend });
    const tokenizer = createTokenizer(readJson(tokenizerDir, 'tokenizer.json'), readJson(tokenizerDir, 'tokenizer_config.json'));
    const withTok = await createEngine({ model, backend, tokenizer });
    expect(withTok.tokenizer).toBe(tokenizer);
    const ids = tokenizer.encode('def main():');
    const viaText = await withTok.generateText('def main():', { maxNewTokens: 6, ignoreEos: true });
    const viaIds = await withTok.generateText({ inputIds: ids }, { maxNewTokens: 6, ignoreEos: true });
    expect(viaText.tokens).toEqual(viaIds.tokens);
    expect(viaText.promptTokens).toBe(ids.length);
    expect(viaText.text).toBe(tokenizer.decode(viaText.tokens, { skipSpecialTokens: true }));

    const none = await createEngine({ model, backend, tokenizer: null });
    expect(none.tokenizer).toBeNull();
    expect(() => none.generate('def main():')).toThrow(/no tokenizer/);
    // Without the option the engine looks in the model folder, which has no tokenizer.json.
    expect((await createEngine({ model, backend })).tokenizer).toBeNull();
    model.dispose();
  });
});
