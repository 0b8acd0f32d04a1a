// Token sampling on the host: greedy, temperature, top-k and top-p (nucleus), with a seeded PRNG.
import { InvalidOptionError, mulberry32 } from '@shadowkv/core';
import { checkFiniteLogits } from './logits-check.js';

export interface SamplingOptions {
  /** 0 (default) means greedy argmax. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** Seed of the PRNG used when temperature > 0. */
  seed?: number;
}

/** Uniforms in [0, 1) from a seed: core's mulberry32, under the name this package has always exported. */
export const seededRandom: (seed: number) => () => number = mulberry32;

export function validateSampling(o: SamplingOptions): void {
  const t = o.temperature ?? 0;
  if (!(t >= 0) || !Number.isFinite(t)) throw new InvalidOptionError('temperature', `${o.temperature} must be a finite number >= 0 (0 = greedy)`);
  const k = o.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new InvalidOptionError('topK', `${o.topK} must be an integer >= 0 (0 = off)`);
  const p = o.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new InvalidOptionError('topP', `${o.topP} must be in (0, 1] (1 = off)`);
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export class Sampler {
  private readonly random: () => number;
  constructor(private readonly opts: SamplingOptions) {
    validateSampling(opts);
    this.random = seededRandom(opts.seed ?? 0);
  }

  sample(logits: Float32Array): number {
    checkFiniteLogits(logits);
    const t = this.opts.temperature ?? 0;
    if (t === 0) return argmax(logits);
    const n = logits.length;
    let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
    const k = this.opts.topK ?? 0;
    if (k > 0 && k < n) order = order.slice(0, k);
    const max = logits[order[0]];
    const probs = order.map((i) => Math.exp((logits[i] - max) / t));
    let total = probs.reduce((a, b) => a + b, 0);
    const p = this.opts.topP ?? 1;
    let keep = probs.length;
    if (p < 1) {
      let acc = 0;
      for (let i = 0; i < probs.length; i++) {
        acc += probs[i] / total;
        if (acc >= p) {
          keep = i + 1;
          break;
        }
      }
      total = probs.slice(0, keep).reduce((a, b) => a + b, 0);
    }
    let r = this.random() * total;
    for (let i = 0; i < keep; i++) {
      r -= probs[i];
      if (r <= 0) return order[i];
    }
    return order[keep - 1];
  }
}
