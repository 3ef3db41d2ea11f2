export { ERROR_CODES, isErrorCode, type ErrorCode, type ErrorSpec } from './error-codes.js';
export { ClearShotError, toClearShotError, badArgument, type SerializedError } from './clearshot-error.js';
