// A one-consumer async queue: the scheduler pushes a request's chunks as steps produce them, the stream reads them.

export class TokenChannel<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private error: unknown;
  private failed = false;

  push(item: T): void {
    if (this.ended || this.failed) return;
    this.items.push(item);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  /** Ends the channel with an error, thrown to the reader at once (unread items are dropped). */
  fail(err: unknown): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    this.error = err;
    // An error (an abort) drops what was not read yet: the reader learns at once.
    this.items.length = 0;
    this.notify();
  }

  get closed(): boolean {
    return this.ended || this.failed;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *read(): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift() as T;
        continue;
      }
      if (this.failed) throw this.error;
      if (this.ended) return;
      await new Promise<void>((res) => (this.wake = res));
    }
  }
}
