// Renders an untrusted Jinja chat template with limits that hold in-thread, in Node and in browsers alike:
// a wall-clock deadline and step budget checked on every interpreter step, a bounded range(), and size caps
// on every value the interpreter produces (so doubling a string or list cannot outgrow memory).
//
// Why in-thread and not a worker with resourceLimits: on Node 20 a worker_thread that exceeds its heap limit
// can abort the whole process while the worker is torn down ("FATAL ERROR: Reached heap limit" from
// Worker::Run -> ~IsolateData; reproduced here with range()-style growth), and a synchronous render cannot
// wait on a Web Worker in a browser. Checking every step and every value bounds time and memory by
// construction instead: one step costs at most O(limit) work, values never exceed 2 × the caps.
import { Environment, Interpreter, type Template } from '@huggingface/jinja';

/** Limits of one render. */
export interface ChatTemplateLimits {
  /** Wall-clock budget of one render (real templates take well under 10 ms). */
  timeoutMs: number;
  /** Interpreter steps (expression/statement evaluations) of one render. */
  maxSteps: number;
  /** Longest string any step may produce, the rendered prompt included (UTF-16 units). */
  maxChars: number;
  /** Longest list any step may produce (range() included). */
  maxItems: number;
  /**
   * Most items one for-loop may iterate: the library builds a scope per item before running the body (about
   * 15 µs each, unobservable by the step checks), so this bounds the time between two deadline checks.
   */
  maxLoopItems: number;
}

export const DEFAULT_CHAT_TEMPLATE_LIMITS: Readonly<ChatTemplateLimits> = {
  timeoutMs: 2000,
  maxSteps: 20_000_000,
  // 8M characters: a prompt of over a million tokens, beyond every supported context.
  maxChars: 8 * 1024 * 1024,
  maxItems: 1 << 20,
  maxLoopItems: 1 << 14,
};

/** Longest template source accepted: published chat templates are under 20 KB. */
export const MAX_CHAT_TEMPLATE_CHARS = 256 * 1024;

/** A limit was hit; the caller turns it into a typed error naming the file. */
export class ChatTemplateLimitError extends Error {}

type RuntimeLike = { type?: string; value?: unknown };
type Node = { type: string };

class GuardedInterpreter extends Interpreter {
  private steps = 0;
  private readonly deadline: number;
  /** Expressions that are the iterable of a for-loop: their value's length is bounded by maxLoopItems. */
  private readonly loopIterables = new WeakSet<object>();

  constructor(
    env: Environment,
    private readonly limits: ChatTemplateLimits,
  ) {
    super(env);
    this.deadline = performance.now() + limits.timeoutMs;
    // evaluateBlock runs once per loop iteration even for an empty body: check the clock there too.
    // (It is private in the library's typings, hence the instance-level wrapper.)
    const self = this as unknown as { evaluateBlock: (s: unknown, e: unknown) => unknown };
    const block = self.evaluateBlock.bind(this);
    self.evaluateBlock = (s, e) => {
      this.tick();
      return block(s, e);
    };
  }

  private tick(): void {
    if (++this.steps > this.limits.maxSteps) throw new ChatTemplateLimitError(`ran more than ${this.limits.maxSteps} steps`);
    if (performance.now() > this.deadline) throw new ChatTemplateLimitError(`ran longer than ${this.limits.timeoutMs} ms`);
  }

  // Every statement, expression, filter and macro call of the interpreter goes through evaluate.
  override evaluate(statement: Node | undefined, environment: Environment): ReturnType<Interpreter['evaluate']> {
    this.tick();
    if (statement?.type === 'For') {
      const it = (statement as unknown as { iterable: Node & { lhs?: Node } }).iterable;
      this.loopIterables.add(it.type === 'SelectExpression' && it.lhs ? it.lhs : it);
    }
    const out = super.evaluate(statement as Parameters<Interpreter['evaluate']>[0], environment);
    checkSize(out as RuntimeLike, this.limits);
    if (statement && this.loopIterables.has(statement)) {
      const x = (out as RuntimeLike).value;
      const n = Array.isArray(x) ? x.length : x instanceof Map ? x.size : 0;
      if (n > this.limits.maxLoopItems) throw new ChatTemplateLimitError(`loops over ${n} items (limit ${this.limits.maxLoopItems})`);
    }
    return out;
  }
}

function checkSize(v: RuntimeLike, limits: ChatTemplateLimits): void {
  const x = v?.value;
  if (typeof x === 'string' && x.length > limits.maxChars) {
    throw new ChatTemplateLimitError(`produced a string of ${x.length} characters (limit ${limits.maxChars})`);
  }
  if (Array.isArray(x) && x.length > limits.maxItems) {
    throw new ChatTemplateLimitError(`produced a list of ${x.length} items (limit ${limits.maxItems})`);
  }
}

/**
 * Renders a parsed template with `context` (messages, add_generation_prompt, special tokens) under `limits`.
 * Throws ChatTemplateLimitError when a limit is hit, RangeError when the JS stack overflows (deep macro
 * recursion), and the template's own errors (raise_exception) as they are.
 */
export function renderSandboxed(template: Template, context: Record<string, unknown>, limits: ChatTemplateLimits = DEFAULT_CHAT_TEMPLATE_LIMITS): string {
  const env = new Environment();
  // The globals Template.render installs, with range() bounded before it allocates.
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (msg: unknown) => {
      throw new Error(String(msg));
    },
    range: (start: number, stop?: number, step = 1) => boundedRange(start, stop, step, limits.maxItems),
    strftime_now: (format: string) => strftime(new Date(), String(format)),
  };
  for (const [k, v] of Object.entries({ ...globals, ...context })) env.set(k, v as never);
  const out = new GuardedInterpreter(env, limits).run(template.parsed) as RuntimeLike;
  const text = out.value;
  if (typeof text !== 'string') throw new ChatTemplateLimitError('did not render to a string');
  if (text.length > limits.maxChars) throw new ChatTemplateLimitError(`rendered ${text.length} characters (limit ${limits.maxChars})`);
  return text;
}

function boundedRange(start: number, stop: number | undefined, step: number, maxItems: number): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  for (const [name, x] of [['start', start], ['stop', stop], ['step', step]] as const) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`range() ${name} must be a finite number, got ${String(x)}`);
  }
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > maxItems) throw new ChatTemplateLimitError(`called range() with ${n} items (limit ${maxItems})`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + i * step);
  return out;
}

// strftime_now as the library defines it (the codes chat templates use: %Y %m %d %b %B %H %M %%).
function strftime(date: Date, format: string): string {
  const pad2 = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (token) => {
    switch (token) {
      case '%Y':
        return String(date.getFullYear());
      case '%m':
        return pad2(date.getMonth() + 1);
      case '%d':
        return pad2(date.getDate());
      case '%b':
        return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(date);
      case '%B':
        return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(date);
      case '%H':
        return pad2(date.getHours());
      case '%M':
        return pad2(date.getMinutes());
      default:
        return '%';
    }
  });
}
