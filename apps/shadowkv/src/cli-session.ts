// `shadowkv generate` with a session: several turns (--turns-file), --save-session / --resume-session, a raised
// context (--max-context) and a memory trace over a long generation (--memory-every).
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { KvCachePolicy, KvMemoryReport } from '@shadowkv/core';
import type { Engine, GenerateResult, PromptInput } from './engine.js';
import type { Session } from './session.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be an integer >= 1, got "${v}"`);
  return n;
};

/** Adds the session options to `generate`. */
export function addSessionOptions(cmd: Command): Command {
  return cmd
    .option('--turns-file <file>', 'a chat of several turns in one session: JSON lines, each a string (text), {"inputIds": [...]} or {"messages": [...]}; each turn prefills only its new tokens')
    .option('--save-session <file>', 'after generating, save the session (tokens, policy, K/V) to this file (docs/saved-session-format.md)')
    .option('--resume-session <file>', 'restore a saved session and continue it (with --prompt: as a new turn; without: generation goes on)')
    .option('--max-context <n>', "raise the model's context limit (max_position_embeddings) to n positions: RoPE extrapolates past the trained length, quality untested", int('--max-context'))
    .option('--ignore-eos', 'keep generating past end-of-sequence tokens (long-generation runs)')
    .option('--memory-every <n>', 'record the KV memory report every n generated tokens (stderr table; "memoryTrace" in --json)', int('--memory-every'));
}

/** Whether these options need a session (otherwise generate runs one-shot as before). */
export function wantsSession(o: Record<string, unknown>): boolean {
  return ['turnsFile', 'saveSession', 'resumeSession', 'memoryEvery'].some((k) => o[k] !== undefined);
}

/** Raises the context limit for --max-context and says so (with the model's own limit) on stderr. */
export function applyMaxContext(engine: Engine, o: Record<string, unknown>): void {
  if (o.maxContext === undefined) return;
  const trained = engine.model.config.maxPositionEmbeddings;
  engine.model.contextLimit = Math.max(o.maxContext as number, trained);
  if (!o.quiet) {
    process.stderr.write(
      `context limit ${engine.model.contextLimit} positions; the model's config says max_position_embeddings ${trained}${
        engine.model.contextLimit > trained ? ' — past it RoPE extrapolates and the output quality is untested' : ''
      }\n`,
    );
  }
}

/** One turn of a --turns-file; maxNewTokens overrides --max-new-tokens for it (0: prefill only). */
export interface Turn {
  prompt: PromptInput;
  maxNewTokens?: number;
}

/**
 * Parses a --turns-file: one JSON value per non-empty line, a string (text), or an object with "inputIds" or
 * "messages" and optionally "maxNewTokens".
 */
export async function readTurns(file: string): Promise<Turn[]> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new InvalidArgumentError(`--turns-file ${file}: cannot be read (${err.message})`);
  });
  const turns: Turn[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new InvalidArgumentError(`--turns-file ${file} line ${i + 1}: not JSON (${(err as Error).message}); each line is a JSON string, {"inputIds": [...]} or {"messages": [...]}`);
    }
    const o = v as { inputIds?: unknown; messages?: unknown; maxNewTokens?: unknown };
    const max = o && typeof o === 'object' ? o.maxNewTokens : undefined;
    if (max !== undefined && !(Number.isInteger(max) && (max as number) >= 0)) throw new InvalidArgumentError(`--turns-file ${file} line ${i + 1}: maxNewTokens must be an integer >= 0`);
    const maxNewTokens = max as number | undefined;
    if (typeof v === 'string') turns.push({ prompt: v });
    else if (o && typeof o === 'object' && Array.isArray(o.inputIds)) turns.push({ prompt: { inputIds: o.inputIds as number[] }, maxNewTokens });
    else if (o && typeof o === 'object' && Array.isArray(o.messages)) turns.push({ prompt: { messages: o.messages as { role: string; content: string }[] }, maxNewTokens });
    else throw new InvalidArgumentError(`--turns-file ${file} line ${i + 1}: must be a JSON string, {"inputIds": [...]} or {"messages": [...]}`);
  });
  if (turns.length === 0) throw new InvalidArgumentError(`--turns-file ${file}: has no turns`);
  return turns;
}

interface TraceRow extends KvMemoryReport {
  tokens: number;
  ms: number;
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(2)} MiB`;
}

/**
 * Runs generate through a session: the turns (or the one prompt), each streamed, with per-turn stats on stderr
 * (new tokens, prefilled, reused, time to first token) or one JSON line per turn; then saves if asked.
 */
export async function runSessionGenerate(engine: Engine, prompt: PromptInput | null, o: Record<string, unknown>, policy: KvCachePolicy): Promise<void> {
  const json = Boolean(o.json);
  const quiet = Boolean(o.quiet);
  let session: Session;
  if (o.resumeSession !== undefined) {
    const t0 = performance.now();
    session = await engine.restore(String(o.resumeSession));
    if (!quiet) process.stderr.write(`restored ${o.resumeSession}: ${session.tokens.length} tokens, policy ${session.policy.name}, in ${(performance.now() - t0).toFixed(0)} ms\n`);
  } else {
    session = engine.session({ cache: policy, keepHistory: o.saveSession !== undefined || o.turnsFile !== undefined });
  }
  const turns: { prompt: PromptInput | null; maxNewTokens?: number }[] = o.turnsFile !== undefined ? await readTurns(String(o.turnsFile)) : [{ prompt }];
  try {
    for (let k = 0; k < turns.length; k++) {
      const every = o.memoryEvery as number | undefined;
      const trace: TraceRow[] = [];
      const start = performance.now();
      const stream = session.generate(turns[k].prompt, {
        maxNewTokens: turns[k].maxNewTokens ?? (o.maxNewTokens as number),
        temperature: o.temperature as number,
        topK: o.topK as number | undefined,
        topP: o.topP as number | undefined,
        seed: o.seed as number,
        stop: o.stop as string[] | undefined,
        chat: Boolean(o.chat),
        ignoreEos: Boolean(o.ignoreEos),
      });
      let n = 0;
      for await (const c of stream) {
        if (!json) process.stdout.write(c.text);
        if (c.tokenId >= 0) n++;
        if (every && n % every === 0 && c.tokenId >= 0) {
          trace.push({ tokens: session.storedTokens, ms: performance.now() - start, ...session.memory() });
          if (!quiet && !json) process.stderr.write(`\n[memory] ${session.storedTokens} tokens: fast ${mib(trace.at(-1)!.fastBytes)}, slow ${mib(trace.at(-1)!.slowBytes)}, dense would be ${mib(trace.at(-1)!.denseBytes)}\n`);
        }
      }
      const r: GenerateResult & { turn?: number; memoryTrace?: TraceRow[] } = await stream.result;
      if (json) {
        process.stdout.write(`${JSON.stringify({ turn: k + 1, ...r, ...(every ? { memoryTrace: trace } : {}) })}\n`);
      } else {
        process.stdout.write('\n');
        if (!quiet) {
          process.stderr.write(
            `[turn ${k + 1} · ${r.backend} · ${r.policy.name}] new prompt tokens ${r.promptTokens}, prefilled ${r.prefilledTokens}, reused ${r.reusedTokens}; ` +
              `time to first token ${r.timeToFirstTokenMs.toFixed(0)} ms; ${r.tokens.length} tokens at ${r.decodeTokensPerSecond.toFixed(2)} tok/s (${r.finishReason}); ` +
              `KV fast ${mib(r.memory.fastBytes)}, slow ${mib(r.memory.slowBytes)}, dense would be ${mib(r.memory.denseBytes)}\n`,
          );
        }
      }
    }
    if (o.saveSession !== undefined) {
      await session.save(String(o.saveSession));
      if (!quiet) process.stderr.write(`saved the session (${session.tokens.length} tokens) to ${o.saveSession}\n`);
    }
  } finally {
    session.dispose();
  }
}
