// One-call helpers: load a model and stream (generate) or collect (generateText) a completion.
import { createEngine, type EngineOptions, type GenerateChunk, type GenerateOptions, type GenerateResult, type PromptInput } from './engine.js';

export interface OneShotOptions extends EngineOptions, GenerateOptions {
  prompt: PromptInput;
}

/**
 * Streams a completion: `for await (const { text } of generate({ model: dir, prompt: 'Hi' })) process.stdout.write(text)`.
 * Loads the model on each call; keep an Engine (`createEngine`) to generate repeatedly.
 */
export async function* generate(opts: OneShotOptions): AsyncGenerator<GenerateChunk, GenerateResult> {
  const engine = await createEngine(opts);
  try {
    const stream = engine.generate(opts.prompt, opts);
    yield* stream;
    return await stream.result;
  } finally {
    // Frees the model and backend only if this call created them (a model or backend passed in stays usable).
    engine.dispose();
  }
}

/** Loads the model, generates, and returns the whole text with measurements. */
export async function generateText(opts: OneShotOptions): Promise<GenerateResult> {
  const engine = await createEngine(opts);
  try {
    return await engine.generateText(opts.prompt, opts);
  } finally {
    // Frees the model and backend only if this call created them (a model or backend passed in stays usable).
    engine.dispose();
  }
}
