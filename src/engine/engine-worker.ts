import { parentPort, workerData } from 'node:worker_threads';
import { ClearShotError, toClearShotError } from '../errors/index.js';
import { LocalEngine } from './local-engine.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

/**
 * Entry point of an engine worker thread: owns one LocalEngine (one ONNX session per
 * model, loaded once and reused) and runs one job at a time.
 */
const port = parentPort;
if (!port) throw new Error('engine-worker must run in a worker thread');
const init = workerData as WorkerInit;
const send = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const running = new Map<number, AbortController>();

async function main(): Promise<void> {
  let engine: LocalEngine;
  try {
    engine = await LocalEngine.open({ ...init.engine, log: (line) => send({ type: 'log', line }) }, init.paths, init.int8);
  } catch (err) {
    send({ type: 'init-failed', error: toClearShotError(err, 'MODEL_FAILURE').toJSON() });
    return;
  }
  send({ type: 'ready' });

  port!.on('message', (msg: ToWorker) => {
    if (msg.type === 'cancel') {
      running.get(msg.id)?.abort(msg.reason ? ClearShotError.fromJSON(msg.reason) : new ClearShotError('CANCELLED'));
      return;
    }
    const controller = new AbortController();
    running.set(msg.id, controller);
    engine
      .enhance(msg.bytes, {
        ...msg.job,
        signal: controller.signal,
        onProgress: (percent) => send({ type: 'progress', id: msg.id, percent }),
      })
      .then(
        (result) => {
          // sharp's buffers may be external memory that cannot be detached: copy once
          // into a plain ArrayBuffer and transfer that.
          const data = new Uint8Array(result.data);
          send({ type: 'done', id: msg.id, result: { ...result, data } }, [data.buffer]);
        },
        (err: unknown) => send({ type: 'failed', id: msg.id, error: toClearShotError(err).toJSON() }),
      )
      .finally(() => running.delete(msg.id));
  });
}

void main();
