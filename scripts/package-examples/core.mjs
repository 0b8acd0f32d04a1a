// @ts-check
// @shadowkv/core: shared types, the seeded PRNG and the typed errors every package throws.
import { InvalidOptionError, ShadowKvError, bytesPerElement, mulberry32, numel } from '@shadowkv/core';

const rand = mulberry32(42);
console.log('first draws', rand().toFixed(6), rand().toFixed(6));
console.log('a [4, 8] f16 tensor holds', numel([4, 8]) * bytesPerElement('f16'), 'bytes');
try {
  throw new InvalidOptionError('budget', 'must be a multiple of 8');
} catch (err) {
  if (err instanceof ShadowKvError) console.log(`${err.name} (${err.code}): ${err.message}`);
}
