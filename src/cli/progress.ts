import type { CallOutcome, Dispatcher } from '../registry/dispatch.js';

/** A live progress display: `step` starts the next step, `end` closes the last one. */
export interface ProgressLine {
  step(message: string): void;
  end(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`.padStart(6);

/**
 * Progress of a long operation on a terminal: the current step on one live line with a spinner
 * and its elapsed time; each finished step stays as a line with its duration (first, so a line
 * clipped to the terminal's width keeps it). On anything but a
 * TTY it is undefined, so piped output stays clean.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressLine | undefined {
  if (!stream.isTTY) return undefined;
  let current: { message: string; startedAt: number } | undefined;
  let frame = 0;
  const clip = (text: string) => (text.length > stream.columns - 1 ? `${text.slice(0, Math.max(0, stream.columns - 2))}…` : text);
  const draw = () => {
    if (!current) return;
    frame = (frame + 1) % FRAMES.length;
    stream.write(`\r\x1b[2K${clip(`${FRAMES[frame]} ${seconds(Date.now() - current.startedAt)}  ${current.message}`)}`);
  };
  const finish = () => {
    if (current) stream.write(`\r\x1b[2K${clip(`✓ ${seconds(Date.now() - current.startedAt)}  ${current.message}`)}\n`);
    current = undefined;
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    step(message) {
      finish();
      current = { message, startedAt: Date.now() };
      draw();
    },
    end() {
      clearInterval(timer);
      finish();
    },
  };
}

/** dispatcher.call with the progress of its long steps shown on a terminal (stderr). */
export async function callShowingProgress(dispatcher: Dispatcher, method: string, params: unknown): Promise<CallOutcome> {
  const progress = terminalProgress();
  try {
    return await dispatcher.call(method, params, progress ? { progress: (step) => progress.step(step) } : {});
  } finally {
    progress?.end();
  }
}
