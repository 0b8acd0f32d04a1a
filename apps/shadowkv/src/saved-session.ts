// The saved-session file (docs/saved-session-format.md): a versioned binary of a session's tokens and KV history.
// Writing is atomic (temporary file, then rename); reading checks everything before anything is built from it.
import { createHash } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { KvHistory } from './kv-history.js';
import { SavedSessionError, type SavedModelInfo, type SavedSession, type SavedSessionProblem } from './saved-session-error.js';

export { sameParams, SavedSessionError } from './saved-session-error.js';
export type { SavedModelInfo, SavedSession, SavedSessionProblem } from './saved-session-error.js';

/** The format version this build writes and the only one it reads. */
export const SAVED_SESSION_VERSION = 1;
/** First 8 bytes of every saved session. */
const MAGIC = Buffer.from('SKVSESS\0', 'latin1');
const PREFIX = 16; // magic, u32 version, u32 header length
const DIGEST = 32; // sha256 trailer

interface Section {
  name: string;
  dtype: 'i32' | 'f32';
  offset: number;
  bytes: number;
}

interface Header {
  model: SavedModelInfo;
  backend: string;
  policy: SavedSession['policy'];
  capacity: number;
  tokenCount: number;
  storedTokens: number;
  endPrefillAt: number | null;
  conversation: { role: string; content: string; end: number }[];
  sections: Section[];
}

/** Writes `s` to `path` atomically (a crash leaves the old file or none, never half a file). */
export async function writeSavedSession(path: string, s: SavedSession): Promise<void> {
  const { history } = s;
  const n = history.length;
  const parts: { name: string; dtype: 'i32' | 'f32'; data: Uint8Array }[] = [];
  const bytesOf = (a: Int32Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  parts.push({ name: 'tokens', dtype: 'i32', data: bytesOf(Int32Array.from(s.tokens)) });
  if (s.lastLogits) parts.push({ name: 'lastLogits', dtype: 'f32', data: bytesOf(s.lastLogits) });
  for (let l = 0; l < history.nLayers; l++) {
    parts.push({ name: `kPre.${l}`, dtype: 'f32', data: bytesOf(history.kPre(l, n)) });
    parts.push({ name: `v.${l}`, dtype: 'f32', data: bytesOf(history.v(l, n)) });
  }
  let offset = 0;
  const sections: Section[] = parts.map((p) => {
    const sec = { name: p.name, dtype: p.dtype, offset, bytes: p.data.byteLength };
    offset += p.data.byteLength;
    return sec;
  });
  const header: Header = {
    model: s.model,
    backend: s.backend,
    policy: { name: s.policy.name, params: { ...s.policy.params } },
    capacity: s.capacity,
    tokenCount: s.tokens.length,
    storedTokens: n,
    endPrefillAt: history.endPrefillAt ?? null,
    conversation: s.conversation.map((c) => ({ role: c.message.role, content: c.message.content, end: c.end })),
    sections,
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header with spaces to a multiple of 8 so that the sections are 8-byte aligned in the file.
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(SAVED_SESSION_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  const hash = createHash('sha256');
  const chunks: Uint8Array[] = [prefix, json, ...parts.map((p) => p.data)];
  for (const c of chunks) hash.update(c);
  const tmp = `${path}.partial-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    for (const c of chunks) await fh.write(c);
    await fh.write(hash.digest());
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/**
 * Reads and checks a saved session: magic, version, size (truncation), checksum, then the header's fields and
 * section shapes. Throws SavedSessionError naming the file and the problem; returns only a complete session.
 */
export async function readSavedSession(path: string): Promise<SavedSession> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new SavedSessionError(path, 'not-a-session', `cannot be read (${(err as Error).message})`);
  }
  const bad = (problem: SavedSessionProblem, msg: string) => new SavedSessionError(path, problem, msg);
  if (buf.length < PREFIX || !buf.subarray(0, 8).equals(MAGIC)) {
    if (buf.length < PREFIX && MAGIC.subarray(0, buf.length).equals(buf.subarray(0, MAGIC.length))) {
      throw bad('truncated', `is truncated: ${buf.length} bytes, shorter than the ${PREFIX}-byte prefix`);
    }
    throw bad('not-a-session', 'is not a shadowkv saved session (the first 8 bytes are not "SKVSESS\\0")');
  }
  const version = buf.readUInt32LE(8);
  if (version !== SAVED_SESSION_VERSION) {
    throw bad('version', `is format version ${version}; this shadowkv reads version ${SAVED_SESSION_VERSION} only (save the session again with this version)`);
  }
  const headerLen = buf.readUInt32LE(12);
  if (PREFIX + headerLen + DIGEST > buf.length) throw bad('truncated', `is truncated: the header alone needs ${PREFIX + headerLen + DIGEST} bytes, the file has ${buf.length}`);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(PREFIX, PREFIX + headerLen).toString('utf8')) as Header;
  } catch (err) {
    // A corrupted header: report it as the checksum failure it also is, when the digest disagrees.
    throw checksumOk(buf) ? bad('malformed', `has a header that is not JSON (${(err as Error).message})`) : bad('checksum', 'is corrupted: its SHA-256 checksum does not match');
  }
  const sections = Array.isArray(header.sections) ? header.sections : [];
  const bodyBytes = sections.reduce((a, s) => Math.max(a, (s.offset ?? 0) + (s.bytes ?? 0)), 0);
  const expected = PREFIX + headerLen + bodyBytes + DIGEST;
  if (buf.length < expected) throw bad('truncated', `is truncated: ${buf.length} bytes, the header describes ${expected}`);
  if (buf.length > expected) throw bad('malformed', `has ${buf.length - expected} bytes after its checksum; the file is not one saved session`);
  if (!checksumOk(buf)) throw bad('checksum', 'is corrupted: its SHA-256 checksum does not match');

  const m = header.model;
  const isInt = (x: unknown, min = 0) => Number.isInteger(x) && (x as number) >= min;
  if (!m || typeof m.fingerprint !== 'string' || !isInt(m.nLayers, 1) || !isInt(m.nKvHeads, 1) || !isInt(m.headDim, 1) || !isInt(m.vocabSize, 1)) {
    throw bad('malformed', 'header field "model" must hold fingerprint, nLayers, nKvHeads, headDim and vocabSize');
  }
  if (!header.policy || typeof header.policy.name !== 'string' || typeof header.policy.params !== 'object') throw bad('malformed', 'header field "policy" must hold name and params');
  if (!isInt(header.tokenCount) || !isInt(header.storedTokens) || header.storedTokens > header.tokenCount) {
    throw bad('malformed', 'header fields "tokenCount" and "storedTokens" must be integers with storedTokens <= tokenCount');
  }
  if (header.endPrefillAt !== null && !(isInt(header.endPrefillAt) && header.endPrefillAt <= header.storedTokens)) {
    throw bad('malformed', 'header field "endPrefillAt" must be null or an integer <= storedTokens');
  }
  const body = PREFIX + headerLen;
  const width = m.nKvHeads * m.headDim;
  const section = (name: string, dtype: 'i32' | 'f32', count: number | undefined) => {
    const s = sections.find((x) => x.name === name);
    if (!s) return undefined;
    if (s.dtype !== dtype || !isInt(s.offset) || !isInt(s.bytes) || s.bytes % 4 !== 0 || (count !== undefined && s.bytes !== count * 4)) {
      throw bad('malformed', `section "${name}" must be ${dtype}${count !== undefined ? ` with ${count} elements` : ''}`);
    }
    // Copy out: the sections are 8-byte aligned in the file but not necessarily in the Buffer's pool.
    const bytes = Uint8Array.prototype.slice.call(buf, body + s.offset, body + s.offset + s.bytes);
    return dtype === 'i32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
  };
  const tokens = section('tokens', 'i32', header.tokenCount);
  if (!tokens) throw bad('malformed', 'has no "tokens" section');
  for (const t of tokens) if (t < 0 || t >= m.vocabSize) throw bad('malformed', `token id ${t} is outside the vocabulary (${m.vocabSize})`);
  const lastLogits = section('lastLogits', 'f32', m.vocabSize) as Float32Array | undefined;
  const kPre: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < m.nLayers; l++) {
    const k = section(`kPre.${l}`, 'f32', header.storedTokens * width);
    const x = section(`v.${l}`, 'f32', header.storedTokens * width);
    if (!k || !x) throw bad('malformed', `has no kPre.${l} / v.${l} section (layer ${l} of ${m.nLayers})`);
    kPre.push(k as Float32Array);
    v.push(x as Float32Array);
  }
  const conversation = (Array.isArray(header.conversation) ? header.conversation : []).map((c) => ({
    message: { role: String(c.role), content: String(c.content) },
    end: Number(c.end),
  }));
  return {
    model: m,
    backend: String(header.backend),
    policy: header.policy,
    capacity: header.capacity,
    tokens: [...tokens],
    history: KvHistory.fromRows(kPre, v, width, header.storedTokens, header.endPrefillAt ?? undefined),
    lastLogits,
    conversation,
  };
}

function checksumOk(buf: Buffer): boolean {
  const digest = createHash('sha256').update(buf.subarray(0, buf.length - DIGEST)).digest();
  return digest.equals(buf.subarray(buf.length - DIGEST));
}
