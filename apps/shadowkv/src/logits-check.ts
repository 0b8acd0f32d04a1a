// Non-finite logits mean the forward pass produced garbage (every token NaN: greedy decoding would emit token 0
// forever); sampling them is refused with a typed error naming the likely causes.
import { NumericalError } from '@shadowkv/core';

/** Throws NumericalError when `logits` holds a NaN or an infinity. O(vocab), like sampling itself. */
export function checkFiniteLogits(logits: Float32Array): void {
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    // x - x is 0 for finite x and NaN for NaN or ±Infinity.
    if (x - x !== 0) {
      throw new NumericalError(
        `the model produced a non-finite logit (${x} for token ${i}); likely causes: NaN or Inf values in the checkpoint's weights, an extreme rope_theta or rms_norm_eps in config.json, or activations overflowing in 16-bit weights`,
      );
    }
  }
}
