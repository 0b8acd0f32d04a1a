// Checks shared by the policy factories: every bad option is reported by name with what to do about it.
import { ContextLengthError, InvalidOptionError } from '@shadowkv/core';

/** Throws unless `value` is an integer >= min. */
export function checkInt(option: string, value: number, min: number, hint = ''): void {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(option, `must be an integer >= ${min}, got ${value}${hint ? `; ${hint}` : ''}`);
  }
}

/** Throws unless `value` is a boolean. */
export function checkBool(option: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, `must be true or false, got ${String(value)}`);
}

/** Throws unless the prompt is non-empty and fits the capacity the cache is created with. */
export function checkPromptFits(policy: string, promptLen: number, maxSeqLen: number): void {
  if (!Number.isInteger(promptLen) || promptLen < 1) {
    throw new ContextLengthError(`${policy}: the prompt must hold at least one token, got ${promptLen}`);
  }
  if (promptLen > maxSeqLen) {
    throw new ContextLengthError(`${policy}: the prompt has ${promptLen} tokens but the cache is created for ${maxSeqLen}; raise maxSeqLen or shorten the prompt`);
  }
}
