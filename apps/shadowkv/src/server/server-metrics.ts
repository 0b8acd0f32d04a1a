// The server's counters and their Prometheus text exposition (format 0.0.4) for GET /metrics.
import type { GenerateResult } from '../engine.js';
import type { SchedulerStats } from '../scheduler/batch-scheduler.js';

/** Upper bounds (seconds) of the time-to-first-token histogram. */
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Generated tokens are rated over this window (tokens/s gauge). */
const RATE_WINDOW_MS = 10_000;

export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private generatedTokens = 0;
  private promptTokens = 0;
  private readonly ttftCounts = new Array<number>(TTFT_BUCKETS.length).fill(0);
  private ttftSum = 0;
  private ttftCount = 0;
  /** (time, tokens) of recent token events, for the windowed rate. */
  private readonly recent: { at: number; n: number }[] = [];
  /** Fast/slow KV bytes of the last finished request (the scheduler's live states are its own). */
  private lastKv = { fast: 0, slow: 0 };

  /** One answered HTTP request by route and status. */
  request(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  token(now = performance.now()): void {
    this.generatedTokens++;
    const last = this.recent[this.recent.length - 1];
    if (last && now - last.at < 100) last.n++;
    else this.recent.push({ at: now, n: 1 });
    this.trim(now);
  }

  firstToken(seconds: number): void {
    this.ttftSum += seconds;
    this.ttftCount++;
    TTFT_BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.ttftCounts[i]++;
    });
  }

  finished(r: GenerateResult): void {
    this.promptTokens += r.promptTokens;
    this.lastKv = { fast: r.memory.fastBytes, slow: r.memory.slowBytes };
  }

  private trim(now: number): void {
    while (this.recent.length > 0 && now - this.recent[0].at > RATE_WINDOW_MS) this.recent.shift();
  }

  /** Generated tokens per second over the last RATE_WINDOW_MS. */
  tokensPerSecond(now = performance.now()): number {
    this.trim(now);
    return this.recent.reduce((a, r) => a + r.n, 0) / (RATE_WINDOW_MS / 1000);
  }

  render(s: SchedulerStats): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels ? `{${labels}}` : ''} ${Number.isFinite(v) ? v : 0}`);
    };
    metric('shadowkv_queue_depth', 'gauge', 'Requests waiting for KV memory.', [['', s.queued]]);
    metric('shadowkv_running_sequences', 'gauge', 'Sequences being prefilled or decoded.', [['', s.running]]);
    metric('shadowkv_kv_reserved_fast_bytes', 'gauge', 'Projected fast-side KV bytes reserved by running sequences.', [['', s.reservedBytes]]);
    metric('shadowkv_kv_memory_budget_bytes', 'gauge', 'The fast-side KV budget (--kv-memory).', [['', s.kvMemory]]);
    metric('shadowkv_kv_fast_bytes', 'gauge', 'Fast-side KV bytes of the last finished request.', [['', this.lastKv.fast]]);
    metric('shadowkv_kv_slow_bytes', 'gauge', 'Slow-side (offloaded) KV bytes of the last finished request.', [['', this.lastKv.slow]]);
    metric('shadowkv_batch_steps_total', 'counter', 'Batched forward steps run.', [['', s.steps]]);
    metric('shadowkv_max_batch', 'gauge', 'Most sequences in one step so far.', [['', s.maxBatch]]);
    metric('shadowkv_generated_tokens_total', 'counter', 'Tokens generated.', [['', this.generatedTokens]]);
    metric('shadowkv_prompt_tokens_total', 'counter', 'Prompt tokens of finished requests.', [['', this.promptTokens]]);
    metric('shadowkv_tokens_per_second', 'gauge', `Generated tokens per second over the last ${RATE_WINDOW_MS / 1000} s.`, [['', this.tokensPerSecond()]]);
    lines.push('# HELP shadowkv_time_to_first_token_seconds From request arrival to its first token.', '# TYPE shadowkv_time_to_first_token_seconds histogram');
    TTFT_BUCKETS.forEach((b, i) => lines.push(`shadowkv_time_to_first_token_seconds_bucket{le="${b}"} ${this.ttftCounts[i]}`));
    lines.push(`shadowkv_time_to_first_token_seconds_bucket{le="+Inf"} ${this.ttftCount}`);
    lines.push(`shadowkv_time_to_first_token_seconds_sum ${this.ttftSum}`, `shadowkv_time_to_first_token_seconds_count ${this.ttftCount}`);
    metric('shadowkv_http_requests_total', 'counter', 'HTTP requests answered, by route and status.', [...this.requests.entries()]);
    return `${lines.join('\n')}\n`;
  }
}
