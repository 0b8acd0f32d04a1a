// A running generation: an async iterable of chunks plus a promise of the whole result.
import type { GenerateChunk, GenerateResult } from './engine.js';

/** A running generation: iterate it for chunks; `result` resolves when it ends. */
export class GenerationStream implements AsyncIterable<GenerateChunk> {
  private resolveResult!: (r: GenerateResult) => void;
  private rejectResult!: (e: unknown) => void;
  /** Resolves with the whole generation's text, tokens and measurements once iteration finishes. */
  readonly result: Promise<GenerateResult> = new Promise((res, rej) => {
    this.resolveResult = res;
    this.rejectResult = rej;
  });
  private started = false;

  constructor(private readonly run: (emit: (r: GenerateResult) => void) => AsyncGenerator<GenerateChunk>) {
    this.result.catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerateChunk> {
    if (this.started) throw new Error('a GenerationStream can be iterated once');
    this.started = true;
    try {
      yield* this.run((r) => this.resolveResult(r));
    } catch (err) {
      this.rejectResult(err);
      throw err;
    }
  }
}
