import { ApiError, type TaskData } from './api.js';

/** Every error from the API in words a person understands. */
export function requestError(err: unknown): string {
  if (!(err instanceof ApiError)) return `Something went wrong: ${(err as Error).message}`;
  switch (err.status) {
    case 0:
      return 'Cannot reach the ClearShot service. Is it running?';
    case 401:
      return `The API key was not accepted (${err.message}). Check the key in step 1.`;
    case 402:
      return 'This API key has run out of credits. Ask the administrator to add some (clearshot keys credits).';
    case 413:
      return 'The file is larger than 20 MB, the most the service accepts.';
    case 429:
      return `Too many requests for this key. Wait ${err.retryAfterS ?? 1} s and try again.`;
    case 400:
      return `The request was refused: ${err.message}.`;
    case 404:
      return 'The task no longer exists (results and tasks are kept for one hour).';
    default:
      return `The service failed (${err.status}): ${err.message}.`;
  }
}

/** A failed task's state in plain words. */
export function taskError(task: TaskData): string {
  const detail = task.state_detail.replace(/^[^:]*:\s*/, '');
  switch (task.state) {
    case -8:
      return 'Processing took too long and was stopped. Try a smaller image, a smaller scale, or the fast model.';
    case -7:
      return `This file is not an image ClearShot can read: ${detail}.`;
    case -5:
      return `The image is outside the limits: ${detail}.`;
    case -3:
      return `The image URL could not be used: ${detail}.`;
    case -2:
      return 'The image was enhanced but storing the result failed. Please try again.';
    default:
      return `Enhancement failed: ${detail}.`;
  }
}

export const STATE_TEXT: Readonly<Record<number, string>> = {
  0: 'Queued: waiting for a worker',
  2: 'Preparing the image',
  3: 'Waiting',
  4: 'Enhancing',
  1: 'Done',
};
