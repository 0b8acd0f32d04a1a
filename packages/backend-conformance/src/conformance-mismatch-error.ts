// The error a conformance check throws when a backend's result or behaviour differs from the reference.

/** A backend did not conform: the message names the op, the case, the element and the tolerance. */
export class ConformanceMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceMismatchError';
  }
}
