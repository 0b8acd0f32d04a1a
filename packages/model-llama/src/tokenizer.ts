// Loads a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) with its chat template, on top of
// the pure-JS @huggingface/tokenizers implementation. Files are read through #model-files (fs in Node,
// fetch in browsers); createTokenizer builds one from already-parsed JSON.
import { isModelFile, modelFilePath, readModelText } from '#model-files';
import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidOptionError, ModelFormatError, UnsupportedModelError } from '@shadowkv/core';
import { ChatTemplate, chatTemplateSource, type ChatMessage } from './chat-template.js';
import { createStreamDecoder, type StreamDecoder } from './stream-decoder.js';
import { checkTextFits, probeTokenizer, wrapTokenizerError } from './tokenizer-probe.js';
import { validateTokenizerJson } from './tokenizer-validate.js';
import { showBounded } from './bounded-json.js';

/** Encode, decode and chat formatting for one model. */
export interface LlamaTokenizer {
  /** One past the largest token id (model vocabulary plus added tokens). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  /** From tokenizer_config.json `eos_token`; merge with config.json's eos ids for stopping. */
  readonly eosTokenIds: number[];
  /**
   * Token ids of `text`; with addSpecialTokens (default true) the post-processor adds BOS. With maxTokens,
   * a text too long to fit is refused (ContextLengthError) before it is tokenized, from its length alone.
   */
  encode(text: string, opts?: { addSpecialTokens?: boolean; maxTokens?: number }): number[];
  /** Text of `ids`; special tokens are kept unless skipSpecialTokens. */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  hasChatTemplate(): boolean;
  /** Renders messages with the model's chat template; addGenerationPrompt defaults to true. */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  /** A decoder for streaming: text appears once complete UTF-8 characters are available. */
  createStreamDecoder(opts?: { skipSpecialTokens?: boolean }): StreamDecoder;
  /** Id of a token string (e.g. "<|eot_id|>"), or null. */
  tokenToId(token: string): number | null;
  /**
   * Length of the longest token string: a text longer than contextTokens × this cannot fit the context, so
   * callers can refuse it before tokenizing megabytes. Absent on tokenizers that do not know it.
   */
  readonly maxTokenChars?: number;
}

const SPECIAL_NAMES = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;

class HfLlamaTokenizer implements LlamaTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];

  constructor(
    private readonly tok: Tokenizer,
    private readonly chat: ChatTemplate | null,
    private readonly configFile: string,
    specialTokens: Record<string, string>,
    private readonly tokenizerFile = 'tokenizer.json',
    readonly maxTokenChars?: number,
  ) {
    let maxId = -1;
    for (const id of tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosTokenId = specialTokens.bos_token !== undefined ? this.tokenToId(specialTokens.bos_token) : null;
    const eos = specialTokens.eos_token !== undefined ? this.tokenToId(specialTokens.eos_token) : null;
    this.eosTokenIds = eos === null ? [] : [eos];
  }

  encode(text: string, opts: { addSpecialTokens?: boolean; maxTokens?: number } = {}): number[] {
    if (typeof text !== 'string') throw new InvalidOptionError('text', `must be a string, got ${typeof text}`);
    checkTextFits(text, opts.maxTokens, this.maxTokenChars);
    try {
      return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    } catch (err) {
      throw wrapTokenizerError(err, this.tokenizerFile, 'encode');
    }
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InvalidOptionError('ids', `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    // The library rejects empty input; the empty sequence simply decodes to ''.
    if (ids.length === 0) return '';
    try {
      return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    } catch (err) {
      throw wrapTokenizerError(err, this.tokenizerFile, 'decode');
    }
  }

  hasChatTemplate(): boolean {
    return this.chat !== null;
  }

  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.chat) {
      throw new UnsupportedModelError(this.configFile, 'chat_template', 'this tokenizer has no chat template; pass a plain prompt instead of chat messages');
    }
    return this.chat.render(messages, opts);
  }

  createStreamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    return createStreamDecoder((ids) => this.decode(ids, opts));
  }

  tokenToId(token: string): number | null {
    return this.tok.token_to_id(token) ?? null;
  }
}

/** Where the tokenizer's parts came from (for error messages) and an optional separate chat template. */
export interface CreateTokenizerOptions {
  /** Text of a chat_template.jinja; it takes precedence over tokenizer_config.json's chat_template. */
  chatTemplate?: string;
  /** Names of the sources in error messages (defaults: tokenizer.json, tokenizer_config.json, chat_template.jinja). */
  tokenizerFile?: string;
  configFile?: string;
  chatTemplateFile?: string;
}

/**
 * Builds a tokenizer from the parsed contents of tokenizer.json and tokenizer_config.json (`{}` if there is
 * none). Touches no files, so it works in browsers; loadTokenizer reads the files and calls it.
 * Throws ModelFormatError when the contents are malformed or do not belong together.
 */
export function createTokenizer(tokenizerJson: unknown, tokenizerConfigJson: unknown = {}, opts: CreateTokenizerOptions = {}): LlamaTokenizer {
  const tokenizerFile = opts.tokenizerFile ?? 'tokenizer.json';
  const configFile = opts.configFile ?? 'tokenizer_config.json';
  const tokenizer = jsonObject(tokenizerJson, tokenizerFile);
  if (typeof tokenizer.model !== 'object' || tokenizer.model === null) {
    throw new ModelFormatError(tokenizerFile, 'model', 'is missing; this is not a Hugging Face tokenizer.json');
  }
  const config = jsonObject(tokenizerConfigJson, configFile);
  const facts = validateTokenizerJson(tokenizer, tokenizerFile);

  const specialTokens: Record<string, string> = {};
  for (const name of SPECIAL_NAMES) {
    const v = config[name];
    // Special tokens are stored as strings or as AddedToken objects ({ content, ... }).
    const content = typeof v === 'string' ? v : typeof (v as { content?: unknown })?.content === 'string' ? (v as { content: string }).content : null;
    if (content === null && v !== undefined && v !== null) {
      throw new ModelFormatError(configFile, name, `must be a token string or an object with a string "content", got ${showBounded(v, 60)}`);
    }
    if (content !== null) specialTokens[name] = content;
  }

  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tokenizer, config);
  } catch (err) {
    throw new ModelFormatError(tokenizerFile, undefined, `cannot be loaded as a tokenizer: ${(err as Error).message}`, { cause: err });
  }

  let chat: ChatTemplate | null = null;
  if (opts.chatTemplate !== undefined) {
    chat = new ChatTemplate(opts.chatTemplate, opts.chatTemplateFile ?? 'chat_template.jinja', undefined, specialTokens);
  } else {
    const source = chatTemplateSource(config.chat_template, configFile);
    if (source !== null) chat = new ChatTemplate(source, configFile, 'chat_template', specialTokens);
  }

  const t = new HfLlamaTokenizer(tok, chat, configFile, specialTokens, tokenizerFile, facts.maxTokenChars);
  // The library defers some failures (null decoder entries, a null post-processor template) to first use.
  probeTokenizer(t, tokenizerFile);
  for (const name of ['bos_token', 'eos_token'] as const) {
    if (specialTokens[name] !== undefined && t.tokenToId(specialTokens[name]) === null) {
      throw new ModelFormatError(configFile, name, `"${specialTokens[name]}" is not a token of ${tokenizerFile}; the two files do not belong together`);
    }
  }
  return t;
}

/**
 * Loads DIR/tokenizer.json with DIR/tokenizer_config.json (optional) and the chat template (from
 * DIR/chat_template.jinja if present, else tokenizer_config.json). Returns null when DIR has no
 * tokenizer.json; throws ModelFormatError when the files are malformed. DIR is a directory in Node and a
 * URL in browsers (see model-files-browser.ts).
 */
export async function loadTokenizer(dir: string): Promise<LlamaTokenizer | null> {
  const tokenizerFile = modelFilePath(dir, 'tokenizer.json');
  if (!(await isModelFile(tokenizerFile))) return null;
  const tokenizerJson = await readJson(tokenizerFile);
  const configFile = modelFilePath(dir, 'tokenizer_config.json');
  const config = (await isModelFile(configFile)) ? await readJson(configFile) : {};
  const jinjaFile = modelFilePath(dir, 'chat_template.jinja');
  const chatTemplate = (await isModelFile(jinjaFile)) ? await readModelText(jinjaFile) : undefined;
  return createTokenizer(tokenizerJson, config, { chatTemplate, tokenizerFile, configFile, chatTemplateFile: jinjaFile });
}

function jsonObject(json: unknown, file: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelFormatError(file, undefined, 'must hold a JSON object');
  return json as Record<string, unknown>;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  let json: unknown;
  try {
    json = JSON.parse(await readModelText(file));
  } catch (err) {
    throw new ModelFormatError(file, undefined, `is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return jsonObject(json, file);
}
