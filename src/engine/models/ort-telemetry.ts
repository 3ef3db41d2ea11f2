/**
 * ONNX Runtime's own telemetry is on by default: its native library reports usage to a
 * Microsoft endpoint and keeps a device id and an event queue under
 * `~/.cache/Microsoft/DeveloperTools/.onnxruntime/`. ClearShot promises to work offline
 * and to write nothing outside DATA_DIR, so it is switched off here, for the whole
 * process, before the native library is loaded.
 *
 * The library reads `ORT_DISABLE_TELEMETRY` from the C environment. Setting
 * `process.env` on the main thread writes that environment (worker threads inherit
 * it; a worker's own `process.env` is a private copy), so this module is imported
 * ahead of `onnxruntime-node` by onnx-session.ts, the one module that loads it, and
 * engine-pool.ts loads that on the main thread before it starts any worker.
 * Tested for real: test/telemetry.test.ts.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';

export const ORT_TELEMETRY_DISABLED = process.env.ORT_DISABLE_TELEMETRY === '1';
