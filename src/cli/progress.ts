/**
 * Progress display for the CLI: a redrawn bar on a terminal, plain lines otherwise
 * (logs, CI), so piped output stays readable.
 */
export interface ProgressView {
  start(label: string): void;
  update(percent: number): void;
  /** Ends the current item with a final line. */
  done(line: string): void;
}

const WIDTH = 24;

export function createProgressView(stream: NodeJS.WriteStream): ProgressView {
  if (!stream.isTTY) {
    return {
      start: () => undefined,
      update: () => undefined,
      done: (line) => void stream.write(`${line}\n`),
    };
  }
  let label = '';
  let started = 0;
  let percent = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    const filled = Math.round((percent / 100) * WIDTH);
    const elapsed = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(percent).padStart(3)}% ${elapsed}s ${label}`);
  };
  return {
    start(l) {
      label = l;
      percent = 0;
      started = Date.now();
      draw();
      // Redraw the elapsed time while a tile runs (inference is in a worker thread).
      timer = setInterval(draw, 200);
      timer.unref();
    },
    update(p) {
      percent = p;
      draw();
    },
    done(line) {
      clearInterval(timer);
      stream.write(`\r\x1b[2K${line}\n`);
    },
  };
}
