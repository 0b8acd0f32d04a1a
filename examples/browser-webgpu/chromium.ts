// Debian's Chromium driven by playwright-core (never a downloaded browser): a capability probe and a
// headless launch with WebGPU enabled (SwiftShader when there is no GPU) in a fresh profile.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** The browser used unless SHADOWKV_CHROMIUM names another Chromium build. */
export const CHROMIUM_PATH = process.env.SHADOWKV_CHROMIUM ?? '/usr/bin/chromium';

/** Flags that give headless Chromium WebGPU on a machine without a GPU, and keep it off the network. */
export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

/** Null when Chromium can be started, else why not (and how to get it). */
export function chromiumMissing(path = CHROMIUM_PATH): string | null {
  if (!existsSync(path)) return `${path} does not exist; install it with \`bash scripts/setup-browser.sh\` (apt-get install chromium)`;
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) return `${path} --version failed (${r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)})`;
  return null;
}

/** A running headless Chromium; close() also deletes its profile. */
export interface HeadlessChromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium headless with a fresh --user-data-dir (a temporary folder). */
export async function launchChromium(path = CHROMIUM_PATH): Promise<HeadlessChromium> {
  const profile = await mkdtemp(join(tmpdir(), 'skv-chromium-'));
  try {
    // launchPersistentContext is how playwright takes a --user-data-dir of our own.
    const context = await chromium.launchPersistentContext(profile, { executablePath: path, headless: true, args: CHROMIUM_FLAGS });
    return {
      context,
      close: async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}
