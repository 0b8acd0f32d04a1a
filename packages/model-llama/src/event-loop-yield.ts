// Lets the event loop run (timers, I/O, other requests, AbortSignal.timeout) between units of compute: a CPU
// forward pass is synchronous JavaScript, so without this a generation would starve every timer until it ends.

type Yield = () => Promise<void>;

// setImmediate (Node) runs after pending I/O and due timers without the ≥1 ms clamp of setTimeout; browsers
// get a MessageChannel hop (setTimeout(0) is clamped to 4 ms once nested).
const yieldNow: Yield =
  typeof setImmediate === 'function'
    ? () => new Promise<void>((resolve) => setImmediate(resolve))
    : typeof MessageChannel === 'function'
      ? () =>
          new Promise<void>((resolve) => {
            const ch = new MessageChannel();
            ch.port1.onmessage = () => {
              ch.port1.close();
              resolve();
            };
            ch.port2.postMessage(null);
          })
      : () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Resolves after one turn of the event loop (timers and I/O that are due have run). */
export function yieldToEventLoop(): Promise<void> {
  return yieldNow();
}
