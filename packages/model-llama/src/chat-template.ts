// A model's Jinja chat template (tokenizer_config.json `chat_template` or chat_template.jinja), rendered
// with the variables Hugging Face transformers puts in scope.
import { Template } from '@huggingface/jinja';
import { InvalidOptionError, ModelFormatError } from '@shadowkv/core';

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
    field: string | undefined,
    private readonly specialTokens: Readonly<Record<string, string>>,
  ) {
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
      return this.template.render({
        ...this.specialTokens,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? true,
      });
    } catch (err) {
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
