// Test support: gives the process an X display for gpu.js's headlessgl mode, starting a private Xvfb when
// DISPLAY is unset and Xvfb is installed (scripts/setup-gpujs.sh installs it). Not part of the public API.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function findOnPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, bin);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export interface XDisplay {
  /** e.g. ":99". */
  display: string;
  /** Stops the Xvfb this helper started (no-op for an existing DISPLAY). */
  stop(): void;
}

/** Returns the current DISPLAY, or starts Xvfb on a free display and sets DISPLAY; a reason when neither works. */
export async function ensureXDisplay(timeoutMs = 10_000): Promise<XDisplay | { reason: string }> {
  if (process.env.DISPLAY) return { display: process.env.DISPLAY, stop: () => {} };
  const xvfb = findOnPath('Xvfb');
  if (!xvfb) return { reason: 'DISPLAY is unset and Xvfb is not installed (run scripts/setup-gpujs.sh)' };
  // -displayfd makes Xvfb pick a free display number and print it once it accepts connections.
  const child: ChildProcess = spawn(xvfb, ['-displayfd', '1', '-screen', '0', '64x64x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', stop);
  const display = await new Promise<string | undefined>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`:${m[1]}`);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  if (!display) {
    stop();
    return { reason: `Xvfb (${xvfb}) did not report a display within ${timeoutMs} ms` };
  }
  process.env.DISPLAY = display;
  return {
    display,
    stop: () => {
      stop();
      if (process.env.DISPLAY === display) delete process.env.DISPLAY;
    },
  };
}
