// The server's metrics, one owner: a prom-client registry per server holding the counters and latency histograms
// the HTTP handlers feed, and gauges read from the scheduler's live stats at every scrape of GET /metrics.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FinishReason } from '../engine.js';
import type { SchedulerStats } from '../scheduler/batch-scheduler.js';

/** Upper bounds (seconds) of the time-to-first-token histogram: a long prompt's prefill takes tens of seconds on CPU. */
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Upper bounds (seconds) of the inter-token histogram: one batched decode step, longer when it carries a prefill chunk. */
const ITL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Generated tokens are rated over this window (tokens/s gauge). */
const RATE_WINDOW_MS = 10_000;

/** How a generation request ended: its finish reason, or cancelled (client gone), error (5xx), rejected (4xx/503 before it ran). */
export type RequestOutcome = FinishReason | 'cancelled' | 'error' | 'rejected';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'status'>;
  private readonly outcomes: Counter<'outcome'>;
  private readonly generated: Counter;
  private readonly prompt: Counter;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  /** (time, tokens) of recent token events, for the windowed rate. */
  private readonly recent: { at: number; n: number }[] = [];
  private readonly stats: () => SchedulerStats;
  /** The scheduler's stats taken once per scrape (memory() of each running state read once), for every gauge. */
  private snapshot: SchedulerStats | undefined;

  /** `stats` is called at every scrape: the gauges show the scheduler as it is at that moment. */
  constructor(stats: () => SchedulerStats) {
    this.stats = stats;
    const registers = [this.registry];
    const now = () => this.snapshot ?? stats();
    const gauge = (name: string, help: string, pick: (s: SchedulerStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(now()));
        },
      });
    gauge('shadowkv_queue_depth', 'Requests waiting for KV memory.', (s) => s.queued);
    gauge('shadowkv_running_sequences', 'Sequences being prefilled or decoded now.', (s) => s.running);
    gauge('shadowkv_kv_fast_bytes', 'Fast-side KV bytes the running sequences hold now (sum of their states\' memory().fastBytes).', (s) => s.fastBytes);
    gauge('shadowkv_kv_slow_bytes', 'Slow-side (offloaded) KV bytes the running sequences hold now.', (s) => s.slowBytes);
    gauge('shadowkv_kv_reserved_fast_bytes', 'Projected fast-side KV bytes admitted (reserved) by the running sequences, counted against the budget.', (s) => s.reservedBytes);
    gauge('shadowkv_kv_queued_fast_bytes', 'Projected fast-side KV bytes of the queued requests.', (s) => s.queuedBytes);
    gauge('shadowkv_kv_memory_budget_bytes', 'The fast-side KV budget (--kv-memory).', (s) => s.kvMemory);
    gauge('shadowkv_max_batch', 'Most sequences in one batched step so far.', (s) => s.maxBatch);
    new Counter({
      name: 'shadowkv_batch_steps_total',
      help: 'Batched forward steps run.',
      registers,
      collect() {
        // The scheduler owns this count; the counter mirrors it (it only grows).
        this.reset();
        this.inc(now().steps);
      },
    });
    const rate = () => this.tokensPerSecond();
    new Gauge({
      name: 'shadowkv_tokens_per_second',
      help: `Generated tokens per second over the last ${RATE_WINDOW_MS / 1000} s.`,
      registers,
      collect() {
        this.set(rate());
      },
    });
    this.generated = new Counter({ name: 'shadowkv_generated_tokens_total', help: 'Tokens generated.', registers });
    this.prompt = new Counter({ name: 'shadowkv_prompt_tokens_total', help: 'Prompt tokens of finished requests.', registers });
    this.outcomes = new Counter({ name: 'shadowkv_requests_total', help: 'Generation requests by outcome: eos, stop, length, cancelled, error, rejected.', labelNames: ['outcome'], registers });
    this.ttft = new Histogram({ name: 'shadowkv_time_to_first_token_seconds', help: 'From request arrival to its first token.', buckets: TTFT_BUCKETS, registers });
    this.itl = new Histogram({ name: 'shadowkv_inter_token_seconds', help: 'Between consecutive tokens of one request.', buckets: ITL_BUCKETS, registers });
    this.httpRequests = new Counter({ name: 'shadowkv_http_requests_total', help: 'HTTP requests answered, by route and status.', labelNames: ['route', 'status'], registers });
  }

  /** One answered HTTP request by route and status. */
  request(route: string, status: number): void {
    this.httpRequests.inc({ route, status: String(status) });
  }

  /** A generation request ended this way (prompt tokens counted for finished ones). */
  outcome(outcome: RequestOutcome, promptTokens = 0): void {
    this.outcomes.inc({ outcome });
    if (promptTokens > 0) this.prompt.inc(promptTokens);
  }

  token(now = performance.now()): void {
    this.generated.inc();
    const last = this.recent[this.recent.length - 1];
    if (last && now - last.at < 100) last.n++;
    else this.recent.push({ at: now, n: 1 });
    this.trim(now);
  }

  firstToken(seconds: number): void {
    this.ttft.observe(seconds);
  }

  interToken(seconds: number): void {
    this.itl.observe(seconds);
  }

  private trim(now: number): void {
    while (this.recent.length > 0 && now - this.recent[0].at > RATE_WINDOW_MS) this.recent.shift();
  }

  /** Generated tokens per second over the last RATE_WINDOW_MS. */
  tokensPerSecond(now = performance.now()): number {
    this.trim(now);
    return this.recent.reduce((a, r) => a + r.n, 0) / (RATE_WINDOW_MS / 1000);
  }

  /** The Prometheus text exposition (format 0.0.4) and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    this.snapshot = this.stats();
    try {
      return { text: await this.registry.metrics(), contentType: this.registry.contentType };
    } finally {
      this.snapshot = undefined;
    }
  }
}
