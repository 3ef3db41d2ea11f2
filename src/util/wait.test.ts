import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { waitForEvent } from './wait.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('waitForEvent', () => {
  it('ends by time even when garbage is collected during the wait', async () => {
    const emitter = new EventEmitter();
    const outer = new AbortController();
    // A long-lived composite like the event stream's (client gone, or its time limit).
    const done = AbortSignal.any([outer.signal, AbortSignal.timeout(600_000)]);
    const churn = setInterval(gc, 5);
    try {
      for (let i = 0; i < 20; i++) {
        const t0 = Date.now();
        let timer: NodeJS.Timeout | undefined;
        const guard = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 3000)));
        const r = await Promise.race([waitForEvent(emitter, 'x', 20, done).then(() => 'ok' as const), guard]);
        clearTimeout(timer);
        assert.equal(r, 'ok', `wait ${i} did not end by time`);
        assert.ok(Date.now() - t0 >= 15);
      }
    } finally {
      clearInterval(churn);
    }
    assert.equal(emitter.listenerCount('x'), 0);
  });

  it('ends at once on the event or on abort, and leaves no listener behind', async () => {
    const emitter = new EventEmitter();
    const t0 = Date.now();
    const waiting = waitForEvent(emitter, 'x', 60_000);
    emitter.emit('x');
    await waiting;
    const controller = new AbortController();
    const aborted = waitForEvent(emitter, 'x', 60_000, controller.signal);
    controller.abort();
    await aborted;
    await waitForEvent(emitter, 'x', 60_000, AbortSignal.abort());
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(emitter.listenerCount('x'), 0);
  });
});
