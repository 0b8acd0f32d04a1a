// The browser twin of "#session-files": saving and restoring sessions reads and writes files, which browsers
// cannot; each call is a typed error instead of a bundle that pulls in node:fs.
import { InvalidOptionError } from '@shadowkv/core';
import type { SavedSession } from './saved-session-error.js';

const nodeOnly = (what: string) => new InvalidOptionError('session', `${what} reads or writes files and needs Node; in a browser keep the session in memory`);

export async function readSavedSession(_path: string): Promise<SavedSession> {
  throw nodeOnly('engine.restore()');
}

export async function writeSavedSession(_path: string, _s: SavedSession): Promise<void> {
  throw nodeOnly('session.save()');
}

export async function modelFingerprint(_modelDir: string): Promise<string> {
  throw nodeOnly('the model fingerprint of saved sessions');
}
