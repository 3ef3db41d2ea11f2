import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { runKernel, type KernelCall } from './fusion-kernels.js';

/**
 * A fusion helper thread (adapt/fusion-crew.ts): runs the band of a kernel it is handed,
 * then sets its state word back to idle (or failed, with the error on its port) and wakes
 * the caller, who waits on that word.
 */
const port = parentPort;
if (!port) throw new Error('fusion-helper must run in a worker thread');
const { state, index, errors } = workerData as { state: Int32Array; index: number; errors: MessagePort };

port.on('message', (m: { call: KernelCall; lo: number; hi: number }) => {
  let done = 0;
  try {
    runKernel(m.call, m.lo, m.hi);
  } catch (err) {
    errors.postMessage({ message: err instanceof Error ? err.message : String(err) });
    done = 2;
  }
  Atomics.store(state, index, done);
  Atomics.notify(state, index);
});
port.postMessage('ready');
