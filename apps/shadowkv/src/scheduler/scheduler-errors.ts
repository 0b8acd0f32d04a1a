// Typed refusals of the batch scheduler: a full queue, a request that can never fit the KV budget, a closed scheduler.
import { ShadowKvError } from '@shadowkv/core';

/** The waiting queue is full: the request was not accepted (an HTTP server answers 429 / 503). */
export class QueueFullError extends ShadowKvError {
  constructor(readonly maxQueue: number) {
    super('QUEUE_FULL', `the request queue is full (${maxQueue} waiting); retry later, or raise maxQueue (--max-queue)`);
  }
}

/** One request alone needs more fast-side KV memory than the whole budget: it could never be admitted. */
export class KvBudgetExceededError extends ShadowKvError {
  constructor(
    readonly needBytes: number,
    readonly kvMemory: number,
    what: string,
  ) {
    super(
      'KV_BUDGET_EXCEEDED',
      `${what} needs ${needBytes} bytes of fast-side KV memory, more than the whole budget kvMemory ${kvMemory} (--kv-memory); shorten the prompt or maxNewTokens, choose a sparse policy (shadowkv, kcache), or raise the budget`,
    );
  }
}

/** The scheduler was closed; it takes no new requests. */
export class SchedulerClosedError extends ShadowKvError {
  constructor() {
    super('SCHEDULER_CLOSED', 'the scheduler was closed; create a new one with engine.scheduler()');
  }
}
