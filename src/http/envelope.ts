/** The response envelope of every JSON answer (README, "API"): status repeats the HTTP code. */
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
