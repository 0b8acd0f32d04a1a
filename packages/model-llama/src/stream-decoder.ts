// Incremental detokenization for streaming output: text is released only once it is final, so a
// character split across byte-level tokens is never shown as U+FFFD and later rewritten.

/** Turns generated ids into text pieces whose concatenation equals decoding all ids at once. */
export interface StreamDecoder {
  /** Adds one id; returns the newly completed text (often '', e.g. mid-character). */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete character decodes to U+FFFD here). Call at the end. */
  flush(): string;
}

const REPLACEMENT = '\uFFFD';

/**
 * A StreamDecoder over any whole-sequence `decode`. It decodes a short window of ids twice, with and
 * without the newest ones, and releases the difference once it does not end in U+FFFD (an unfinished
 * UTF-8 sequence). The window starts one emission back so that decoders that treat the first token
 * specially (e.g. stripping a leading space) see the same context as in a full decode.
 */
export function createStreamDecoder(decode: (ids: number[]) => string): StreamDecoder {
  let ids: number[] = [];
  let prefixOffset = 0; // start of the context window
  let readOffset = 0; // ids before this are already emitted

  const release = (force: boolean): string => {
    const prefixText = decode(ids.slice(prefixOffset, readOffset));
    const fullText = decode(ids.slice(prefixOffset));
    if (fullText.length <= prefixText.length || (!force && fullText.endsWith(REPLACEMENT))) return '';
    const out = fullText.slice(prefixText.length);
    // Drop ids that can no longer influence output so memory stays bounded in long generations.
    ids = ids.slice(readOffset);
    prefixOffset = 0;
    readOffset = ids.length;
    return out;
  };

  return {
    push(id: number): string {
      ids.push(id);
      return release(false);
    },
    flush(): string {
      return release(true);
    },
  };
}
