/**
 * The one registry of ClearShot error codes.
 *
 * Every failure the service can report has exactly one entry here. The HTTP error
 * handler, the task state mapper and the CLI exit-code map read this table and nothing
 * else, so a code means the same thing everywhere.
 *
 * `taskState` follows the contract (README, "Responses"): -8 timeout, -7 invalid image, -5 over the
 * limits, -3 download failed, -2 storing failed, -1 any other failure.
 */
export interface ErrorSpec {
  /** HTTP status when the error is answered directly to a request. */
  readonly http: number;
  /** `data.state` when the error ends a task (README, "Responses"). */
  readonly taskState: number;
  /** Process exit code for the CLI. */
  readonly exit: number;
  /** Transient failures may be retried with backoff; bad input never is. */
  readonly retryable: boolean;
  /** Message safe to show to a client when no more specific one is given. */
  readonly message: string;
}

export const ERROR_CODES = {
  // Input problems: never retried.
  INVALID_IMAGE: { http: 400, taskState: -7, exit: 3, retryable: false, message: 'invalid image file' },
  IMAGE_TOO_LARGE: { http: 400, taskState: -5, exit: 4, retryable: false, message: 'image exceeds the limits' },
  IMAGE_TOO_SMALL: { http: 400, taskState: -5, exit: 4, retryable: false, message: 'image is too small' },
  FILE_TOO_LARGE: { http: 413, taskState: -5, exit: 4, retryable: false, message: 'file exceeds the size limit' },
  DOWNLOAD_FAILED: { http: 400, taskState: -3, exit: 5, retryable: false, message: 'failed to download image_url' },
  URL_FORBIDDEN: { http: 400, taskState: -3, exit: 5, retryable: false, message: 'image_url is not allowed' },
  BAD_PARAMETER: { http: 400, taskState: -1, exit: 2, retryable: false, message: 'invalid parameter' },

  // Request-level refusals.
  UNAUTHORIZED: { http: 401, taskState: -1, exit: 2, retryable: false, message: 'missing or invalid X-API-KEY' },
  // NOTE: PicWish documents no code for "out of credits"; we answer 402 Payment Required
  // (see README, "Credits"), distinct from 400 so clients can tell it from bad input.
  INSUFFICIENT_CREDITS: { http: 402, taskState: -1, exit: 6, retryable: false, message: 'not enough credits' },
  // A result URL (GET /results/...): its signature is wrong or missing / it has expired.
  SIGNATURE_INVALID: { http: 403, taskState: -1, exit: 2, retryable: false, message: 'invalid or missing signature' },
  LINK_EXPIRED: { http: 410, taskState: -1, exit: 2, retryable: false, message: 'this result URL has expired' },
  NOT_FOUND: { http: 404, taskState: -1, exit: 2, retryable: false, message: 'not found' },
  RATE_LIMITED: { http: 429, taskState: -1, exit: 7, retryable: true, message: 'too many requests' },

  // Processing outcomes.
  CANCELLED: { http: 500, taskState: -1, exit: 8, retryable: false, message: 'cancelled' },
  TIMEOUT: { http: 500, taskState: -8, exit: 8, retryable: false, message: 'processing timeout' },
  STORAGE_FAILED: { http: 500, taskState: -2, exit: 9, retryable: true, message: 'storing the result failed' },
  MODEL_FAILURE: { http: 500, taskState: -1, exit: 10, retryable: true, message: 'model inference failed' },
  MODEL_CONVERSION: { http: 500, taskState: -1, exit: 10, retryable: false, message: 'model conversion failed' },
  CONFIG_INVALID: { http: 500, taskState: -1, exit: 2, retryable: false, message: 'invalid configuration' },
  // At start: the database is empty while other state exists, damaged, or from a newer version.
  DATABASE_INVALID: { http: 503, taskState: -1, exit: 12, retryable: false, message: 'the database cannot be used' },
  UNAVAILABLE: { http: 503, taskState: -1, exit: 11, retryable: true, message: 'service unavailable' },
  INTERNAL: { http: 500, taskState: -1, exit: 1, retryable: true, message: 'internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}
