import type { EventEmitter } from 'node:events';

/**
 * Resolves when `emitter` emits `event`, `ms` have passed, or `signal` aborts, whichever
 * comes first; every listener and the timer are removed then.
 *
 * Not `once(emitter, event, { signal: AbortSignal.any([signal, AbortSignal.timeout(ms)]) })`:
 * on Node 20 the composite signal holds its sources only weakly and the timer of
 * `AbortSignal.timeout` holds its signal only weakly, so a garbage collection during the
 * wait can drop the timeout signal and the wait then never ends by time
 * (nodejs/node#57736). Here the timer itself holds what it resolves.
 */
export function waitForEvent(emitter: EventEmitter, event: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      emitter.off(event, finish);
      signal?.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, Math.max(0, ms));
    emitter.on(event, finish);
    if (signal?.aborted) finish();
    else signal?.addEventListener('abort', finish);
  });
}
