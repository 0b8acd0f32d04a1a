// Typed errors shared by every shadowkv package. Messages say what is wrong, where, and what to do.

/** Base class of every error thrown on purpose by shadowkv. `code` is stable and machine-readable. */
export class ShadowKvError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A model file (config.json, safetensors, tokenizer files) is malformed or inconsistent. */
export class ModelFormatError extends ShadowKvError {
  readonly file: string;
  readonly field: string | undefined;
  constructor(file: string, field: string | undefined, message: string, options?: { cause?: unknown }) {
    super('MODEL_FORMAT', `${file}${field ? ` (field "${field}")` : ''}: ${message}`, options);
    this.file = file;
    this.field = field;
  }
}

/** The model is well-formed but uses something shadowkv does not implement (architecture, dtype, rope type). */
export class UnsupportedModelError extends ShadowKvError {
  readonly file: string;
  readonly field: string | undefined;
  constructor(file: string, field: string | undefined, message: string) {
    super('UNSUPPORTED_MODEL', `${file}${field ? ` (field "${field}")` : ''}: ${message}`);
    this.file = file;
    this.field = field;
  }
}

/** A user-supplied option is out of range or inconsistent with another. */
export class InvalidOptionError extends ShadowKvError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('INVALID_OPTION', `option "${option}": ${message}`);
    this.option = option;
  }
}

/** The prompt (plus requested new tokens) does not fit the model's context or the configured capacity. */
export class ContextLengthError extends ShadowKvError {
  constructor(message: string) {
    super('CONTEXT_LENGTH', message);
  }
}

/**
 * A step needs more positions than the KV cache state was created for (`KvCacheContext.maxSeqLen`). The one
 * error every policy throws for it (a ContextLengthError: the model's own limit is the other kind).
 */
export class KvCapacityError extends ContextLengthError {
  readonly needed: number;
  readonly capacity: number;
  constructor(policy: string, needed: number, capacity: number) {
    super(`${policy}: position ${needed} exceeds the capacity ${capacity} the KV cache was created with (maxSeqLen); create the state with a larger maxSeqLen, or raise maxNewTokens`);
    this.needed = needed;
    this.capacity = capacity;
  }
}

/** A requested kernel backend cannot run here (no adapter, no driver, missing optional dependency). */
export class BackendUnavailableError extends ShadowKvError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', `backend "${backend}" is not available: ${message}`, options);
    this.backend = backend;
  }
}

/** A backend (or a tensor of it) was used after `destroy()`. */
export class BackendDestroyedError extends ShadowKvError {
  readonly backend: string;
  constructor(backend: string, what: string) {
    super('BACKEND_DESTROYED', `backend "${backend}" was destroyed; ${what} is no longer possible: create a new backend`);
    this.backend = backend;
  }
}

/** A kernel was called with tensors whose shapes or dtypes do not match its contract. */
export class ShapeError extends ShadowKvError {
  constructor(op: string, message: string) {
    super('SHAPE', `${op}: ${message}`);
  }
}

/** Generation was cancelled through an AbortSignal. */
export class GenerationAbortedError extends ShadowKvError {
  constructor(message = 'generation was aborted') {
    super('ABORTED', message);
  }
}

/** A computation produced non-finite values (NaN/Inf logits): the model or its weights are broken. */
export class NumericalError extends ShadowKvError {
  constructor(message: string) {
    super('NUMERICAL', message);
  }
}
