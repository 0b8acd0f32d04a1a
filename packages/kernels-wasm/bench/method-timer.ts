// The benches' --breakdown: every method of a backend's class wrapped in a wall-clock timer. Each call reports its
// method name and milliseconds; nested calls (an op that disposes a temporary, a private helper) report too, so
// their time counts in both. Used by bench/decode-step.ts and packages/kv-policies/bench/refine-cost.ts.

/** Replaces each method of `backend`'s prototype, on the instance, with a timed call that reports to `onCall`. */
export function timeBackendMethods(backend: object, onCall: (name: string, ms: number) => void): void {
  const b = backend as Record<string, unknown>;
  const proto = Object.getPrototypeOf(backend) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const f = proto[name];
    if (name === 'constructor' || typeof f !== 'function') continue;
    b[name] = function (...args: unknown[]) {
      const t0 = performance.now();
      try {
        return (f as (...a: unknown[]) => unknown).apply(backend, args);
      } finally {
        onCall(name, performance.now() - t0);
      }
    };
  }
}
