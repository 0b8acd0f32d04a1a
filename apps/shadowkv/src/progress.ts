// Progress reporting on stderr: a live bar on a terminal, sparse plain lines otherwise (CI logs, pipes).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** `everyStep`: off a terminal, print a line for every update (e.g. one per benchmark prompt), not at most every 2 s. */
export function createProgress(label: string, total: number, quiet = false, opts: { everyStep?: boolean } = {}): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: `${label} [{bar}] {value}/{total} {eta_formatted} {info}`, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return {
      update: (done, payload) => bar.update(done, { info: payload?.info ?? '' }),
      stop: () => bar.stop(),
    };
  }
  // Off a terminal: a line at most every 2 s, plus the final one, so CI logs stay readable.
  let lastPrintMs = -Infinity;
  const t0 = Date.now();
  return {
    update(done, payload) {
      const now = Date.now();
      if (done !== total && !opts.everyStep && now - lastPrintMs < 2000) return;
      lastPrintMs = now;
      const s = ((now - t0) / 1000).toFixed(1);
      // The ETA assumes the remaining steps cost what the finished ones did on average.
      const eta = done > 0 && done < total && now - t0 > 500 ? `, ETA ${formatSeconds(((now - t0) / 1000 / done) * (total - done))}` : '';
      process.stderr.write(`${label}: ${done}/${total} (${s} s${eta})${payload?.info ? ` ${payload.info}` : ''}\n`);
    },
    stop() {},
  };
}

/** 75 → "1m15s", 8 → "8s". */
export function formatSeconds(sec: number): string {
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
