// How the CLI reports user errors: one message, one short usage line, exit code 2; and input files checked up front.
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { CommanderError, InvalidArgumentError, type Command } from 'commander';
import { InvalidOptionError, ShadowKvError } from '@shadowkv/core';
import { loadLlamaConfig, openSafetensors, validateLlamaWeights } from '@shadowkv/model-llama';

/** Exit code of every user error (bad flag, bad value, missing file, typed ShadowKvError). */
export const USER_ERROR_EXIT_CODE = 2;

/** The (sub)command the arguments address: `bench niah --x` → the niah command. */
export function addressedCommand(program: Command, args: readonly string[]): Command {
  let cmd = program;
  for (const a of args) {
    if (a.startsWith('-')) break;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

/** `usage: shadowkv bench niah [options] (shadowkv bench niah --help lists them)`. */
export function usageLine(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  const path = names.join(' ');
  return `usage: ${path} ${cmd.usage()}  (${path} --help lists the options)\n`;
}

/**
 * A typed shadowkv error, also when it comes from another copy of @shadowkv/core than the CLI's: a backend package
 * imported by name at run time (the launcher's bundle carries its own core; kernels-cuda is loaded from its build)
 * throws the classes of the core it resolved, which `instanceof` against the CLI's classes does not recognize.
 */
export function isShadowKvError(err: unknown): err is ShadowKvError {
  if (err instanceof ShadowKvError) return true;
  if (!(err instanceof Error) || typeof (err as { code?: unknown }).code !== 'string') return false;
  for (let p = Object.getPrototypeOf(err) as object | null; p && p !== Error.prototype; p = Object.getPrototypeOf(p) as object | null) {
    if ((p as { constructor?: { name?: string } }).constructor?.name === 'ShadowKvError') return true;
  }
  return false;
}

/**
 * Turns an error thrown while parsing or running a command into the exit code and stderr text a user sees.
 * Returns undefined for errors that are not the user's (a bug: the caller rethrows, keeping the stack).
 */
export function userErrorReport(err: unknown, cmd: Command): { code: number; text: string } | undefined {
  // InvalidArgumentError extends CommanderError: thrown by an action (not by commander's parser), nobody printed it yet.
  if (isShadowKvError(err) || err instanceof InvalidArgumentError) {
    return { code: USER_ERROR_EXIT_CODE, text: `shadowkv: ${err.name}: ${err.message}\n${usageLine(cmd)}` };
  }
  if (err instanceof CommanderError) {
    // --help and --version end with exit code 0; commander already printed what it had to say.
    if (err.exitCode === 0) return { code: 0, text: '' };
    // A bare `shadowkv` or `shadowkv bench` printed the help itself.
    if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') return { code: USER_ERROR_EXIT_CODE, text: '' };
    return { code: USER_ERROR_EXIT_CODE, text: usageLine(cmd) };
  }
  return undefined;
}

/** Throws InvalidOptionError naming the flag unless `file` is a readable file (checked before any model loads). */
export async function checkInputFile(flag: string, file: string): Promise<void> {
  try {
    if (!(await stat(file)).isFile()) throw new InvalidOptionError(flag, `"${file}" is not a file; give the path of a file`);
    await access(file, constants.R_OK);
  } catch (err) {
    if (err instanceof ShadowKvError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new InvalidOptionError(flag, `cannot read "${file}" (${why}); check the path (relative paths start at ${process.cwd()})`);
  }
}

/**
 * Throws a typed error naming `dir` and what to do unless it is a Llama directory shadowkv can load: it exists,
 * its config.json is valid and its safetensors headers hold every weight the config needs. Reads the config and
 * the headers only (milliseconds), so that a wrong path fails before a backend starts (loading Dawn, probing a
 * GPU or starting wasm workers takes seconds) and before minutes of weight loading.
 */
export async function checkModelDir(flag: string, dir: string): Promise<void> {
  const what = 'give a Hugging Face Llama directory (config.json and *.safetensors weights)';
  try {
    if (!(await stat(dir)).isDirectory()) throw new InvalidOptionError(flag, `"${dir}" is not a directory; ${what}`);
  } catch (err) {
    if (err instanceof ShadowKvError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new InvalidOptionError(flag, `cannot read "${dir}" (${why}); ${what} (relative paths start at ${process.cwd()})`);
  }
  const config = await loadLlamaConfig(dir);
  const weights = await openSafetensors(dir);
  try {
    validateLlamaWeights(weights, config);
  } finally {
    await weights.close();
  }
}

/** Reads a UTF-8 input file given by `flag`, with checkInputFile's errors. */
export async function readInputFile(flag: string, file: string): Promise<string> {
  await checkInputFile(flag, file);
  return readFile(file, 'utf8');
}
