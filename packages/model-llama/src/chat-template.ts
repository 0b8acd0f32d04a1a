// A model's Jinja chat template (tokenizer_config.json `chat_template` or chat_template.jinja), rendered
// with the variables Hugging Face transformers puts in scope.
import { Template } from '@huggingface/jinja';
import { InvalidOptionError, ModelFormatError } from '@shadowkv/core';
import {
  ChatTemplateLimitError,
  DEFAULT_CHAT_TEMPLATE_LIMITS,
  MAX_CHAT_TEMPLATE_CHARS,
  renderSandboxed,
  type ChatTemplateLimits,
} from './chat-template-sandbox.js';

/** One chat turn. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** Options of a chat template render. */
export interface ChatTemplateRenderOptions {
  /** Append the header that opens the assistant's turn (default true, since the model is about to answer). */
  addGenerationPrompt?: boolean;
}

/** A parsed chat template. */
export class ChatTemplate {
  private readonly template: Template;

  /**
   * Parses `source` (Jinja). `file`/`field` name where it came from, for errors. `specialTokens` are
   * the strings given to the template as bos_token, eos_token, unk_token, pad_token.
   */
  constructor(
    readonly source: string,
    private readonly file: string,
    private readonly field: string | undefined,
    private readonly specialTokens: Readonly<Record<string, string>>,
    private readonly limits: ChatTemplateLimits = DEFAULT_CHAT_TEMPLATE_LIMITS,
  ) {
    if (typeof source !== 'string' || source.length > MAX_CHAT_TEMPLATE_CHARS) {
      const size = typeof source === 'string' ? `${source.length} characters long` : `a ${typeof source}`;
      throw new ModelFormatError(file, field, `chat template is ${size}; at most ${MAX_CHAT_TEMPLATE_CHARS} characters are accepted (published templates are under 20 KB)`);
    }
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new ModelFormatError(file, field, `chat template does not parse as Jinja: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Renders the prompt text for `messages` (special tokens appear as text, e.g. a leading BOS). */
  render(messages: ChatMessage[], opts: ChatTemplateRenderOptions = {}): string {
    if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
      throw new InvalidOptionError('messages', 'must be a list of { role: string, content: string }');
    }
    try {
      // Untrusted code from the model folder: rendered with a deadline and size limits (chat-template-sandbox.ts).
      return renderSandboxed(
        this.template,
        { ...this.specialTokens, messages, add_generation_prompt: opts.addGenerationPrompt ?? true },
        this.limits,
      );
    } catch (err) {
      if (err instanceof ChatTemplateLimitError || err instanceof RangeError) {
        throw new ModelFormatError(this.file, this.field, `chat template exceeded its limits while rendering: ${err.message}; the template is broken or hostile`, {
          cause: err,
        });
      }
      // Templates reject bad conversations with raise_exception (e.g. roles that do not alternate).
      throw new InvalidOptionError('messages', `the chat template of ${this.file} rejected them: ${(err as Error).message}`);
    }
  }
}

/** Picks the template from a tokenizer_config.json `chat_template` value (a string or a list of named ones). */
export function chatTemplateSource(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    // Transformers uses the one named "default" when several are given.
    const pick = named.find((t) => t?.name === 'default') ?? named[0];
    if (pick && typeof pick.template === 'string') return pick.template;
  }
  throw new ModelFormatError(file, 'chat_template', 'must be a string or a list of { name, template } objects');
}
