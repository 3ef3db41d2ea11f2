import { ERROR_CODES, isErrorCode, type ErrorCode, type ErrorSpec } from './error-codes.js';

/**
 * The base of every error ClearShot raises on purpose.
 *
 * `message` is public: it must be safe to show a client (no paths, no stack, no secrets).
 * Internal detail belongs in `cause`. Errors cross worker-thread boundaries as plain
 * objects through {@link ClearShotError.toJSON} / {@link ClearShotError.fromJSON}.
 */
export class ClearShotError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'ClearShotError';
    this.code = code;
  }

  get spec(): ErrorSpec {
    return ERROR_CODES[this.code];
  }

  get httpStatus(): number {
    return this.spec.http;
  }

  get taskState(): number {
    return this.spec.taskState;
  }

  get retryable(): boolean {
    return this.spec.retryable;
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }

  static fromJSON(value: unknown): ClearShotError {
    if (value && typeof value === 'object') {
      const { code, message } = value as Partial<SerializedError>;
      if (isErrorCode(code)) return new ClearShotError(code, typeof message === 'string' ? message : undefined);
    }
    return new ClearShotError('INTERNAL');
  }
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
}

/** Wraps anything thrown into a ClearShotError, keeping ours as they are. */
export function toClearShotError(err: unknown, fallback: ErrorCode = 'INTERNAL'): ClearShotError {
  if (err instanceof ClearShotError) return err;
  return new ClearShotError(fallback, undefined, { cause: err });
}

/** The message shape sharp uses for bad arguments: "expected X for NAME but received Y". */
export function badArgument(name: string, expected: string, received: unknown): ClearShotError {
  const shown = typeof received === 'string' ? JSON.stringify(received) : String(received);
  return new ClearShotError('BAD_PARAMETER', `expected ${expected} for ${name} but received ${shown}`);
}
