// Holds back streamed text that could be the start of a stop string, and cuts the text at a stop string.

export class StopMatcher {
  private pending = '';
  private readonly stops: readonly string[];
  /** A single string is one stop string (not a list of its characters). */
  constructor(stops: string | readonly string[]) {
    this.stops = typeof stops === 'string' ? [stops] : stops;
  }

  /** Adds text; returns what can be emitted now and whether a stop string was found. */
  push(piece: string): { emit: string; stopped: boolean } {
    if (this.stops.length === 0) return { emit: piece, stopped: false };
    this.pending += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = s ? this.pending.indexOf(s) : -1;
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const emit = this.pending.slice(0, cut);
      this.pending = '';
      return { emit, stopped: true };
    }
    // Keep the longest suffix that is a prefix of some stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > keep; n--) {
        if (this.pending.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    const emit = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return { emit, stopped: false };
  }

  /** At the end: the held-back text (plus a final piece) is emitted unless it completes a stop string. */
  flush(piece = ''): string {
    const { emit, stopped } = this.push(piece);
    if (stopped) return emit;
    const rest = emit + this.pending;
    this.pending = '';
    return rest;
  }
}
