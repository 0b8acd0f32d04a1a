// The one error type of this package: it has no dependencies, so it cannot extend @shadowkv/core's errors.

/**
 * A bad argument to an SVD function: a size, a rank, an option or non-finite matrix data.
 * `option` names the argument (e.g. "rank", "energy", "a"), like InvalidOptionError in @shadowkv/core.
 */
export class SvdOptionError extends Error {
  readonly option: string;
  readonly code = 'INVALID_OPTION';
  constructor(option: string, message: string) {
    super(`option "${option}": ${message}`);
    this.name = 'SvdOptionError';
    this.option = option;
  }
}
