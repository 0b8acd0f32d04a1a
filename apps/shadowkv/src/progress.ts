// Progress reporting on stderr: a live bar on a terminal, sparse plain lines otherwise (CI logs, pipes).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export function createProgress(label: string, total: number, quiet = false): Progress {
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
      if (done !== total && now - lastPrintMs < 2000) return;
      lastPrintMs = now;
      const s = ((now - t0) / 1000).toFixed(1);
      process.stderr.write(`${label}: ${done}/${total} (${s} s)${payload?.info ? ` ${payload.info}` : ''}\n`);
    },
    stop() {},
  };
}
