/**
 * The contract's envelope: every JSON answer of the API (README, "API": status repeats
 * the HTTP code) and every webhook payload (a task's view in `success`). It lives with
 * the tasks because both the HTTP layer and the webhook dispatcher render it.
 */
export interface Envelope<T> {
  status: number;
  message: string;
  data: T;
}

export function success<T>(data: T): Envelope<T> {
  return { status: 200, message: 'success', data };
}

export function failure(status: number, message: string, data: Record<string, unknown> = {}): Envelope<Record<string, unknown>> {
  return { status, message, data };
}
