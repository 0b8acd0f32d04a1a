// The saved-session error and the in-memory shape of a saved session: no file access, so engines in browsers
// can name them (the file reading and writing is saved-session.ts, Node only).
import { ShadowKvError } from '@shadowkv/core';
import type { ChatMessage } from '@shadowkv/model-llama';
import type { KvHistory } from './kv-history.js';

export type SavedSessionProblem = 'not-a-session' | 'version' | 'truncated' | 'checksum' | 'malformed' | 'model' | 'policy';

/** A saved session cannot be read or does not fit the engine it is restored into. Names the file and the problem. */
export class SavedSessionError extends ShadowKvError {
  readonly file: string;
  readonly problem: SavedSessionProblem;
  constructor(file: string, problem: SavedSessionProblem, message: string) {
    super('SAVED_SESSION', `${file}: ${message}`);
    this.file = file;
    this.problem = problem;
  }
}

export interface SavedModelInfo {
  /** modelFingerprint() of the model folder. */
  fingerprint: string;
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
}

/** Everything a saved session holds, in memory. */
export interface SavedSession {
  model: SavedModelInfo;
  /** Backend that computed the rows (a restore on another backend works, but is not bit-identical). */
  backend: string;
  policy: { name: string; params: Readonly<Record<string, number | string | boolean>> };
  /** The session's capacity (positions). */
  capacity: number;
  tokens: number[];
  /** Pre-RoPE keys and values of the first history.length tokens; the rest of `tokens` are pending. */
  history: KvHistory;
  /** Logits after the last stored token (present when no token is pending). */
  lastLogits: Float32Array | undefined;
  conversation: { message: ChatMessage; end: number }[];
}

/** Same parameters, compared as JSON values with sorted keys. */
export function sameParams(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const norm = (o: Readonly<Record<string, unknown>>) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
  return norm(a) === norm(b);
}
