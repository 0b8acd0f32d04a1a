// The prompt-length check shared by the policy factories (parameter checks live in each policy's schema).
import { ContextLengthError, KvCapacityError } from '@shadowkv/core';

/** Throws unless the prompt is non-empty and fits the capacity the cache is created with. */
export function checkPromptFits(policy: string, promptLen: number, maxSeqLen: number): void {
  if (!Number.isInteger(promptLen) || promptLen < 1) {
    throw new ContextLengthError(`${policy}: the prompt must hold at least one token, got ${promptLen}`);
  }
  // The same error as a step past the capacity (beginStep), since it is the same limit.
  if (promptLen > maxSeqLen) throw new KvCapacityError(policy, promptLen, maxSeqLen);
}
