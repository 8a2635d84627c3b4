// Progress of save, restore and migrate on stderr: a cli-progress bar on a terminal, plain
// lines otherwise (one per phase and per tenth of the expected bytes), so logs stay readable.
import type { Presets as BarPresets, SingleBar as Bar } from 'cli-progress';
import type { Progress, ProgressListener } from '../transfer/streams';

export interface ProgressReporter {
  listener: ProgressListener;
  /** Ends the bar (or prints the last line). */
  stop(): void;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/**
 * `expectedBytes` is the guest's memory, what a save or migration stream mostly carries; the
 * stream is a little larger (page headers, device state), so the bar is capped at its end.
 */
export function progressReporter(
  what: string,
  expectedBytes: number,
  opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { listener: () => undefined, stop: () => undefined };
  const total = Math.max(1, expectedBytes);
  if (stream.isTTY) {
    // Loaded only for a terminal: every other command starts without it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SingleBar, Presets } = require('cli-progress') as { SingleBar: typeof Bar; Presets: typeof BarPresets };
    const bar = new SingleBar({
      ...Presets.shades_classic,
      stream,
      format: `${what} {phase} {bar} {percentage}% | {done}/{all} MiB`,
      hideCursor: true,
      clearOnComplete: false,
    });
    let started = false;
    return {
      listener: (p: Progress) => {
        const bytes = Math.min(p.bytes ?? 0, total);
        if (!started) {
          bar.start(total, bytes, { phase: p.phase, done: mib(bytes), all: mib(total) });
          started = true;
        } else {
          bar.update(p.phase === 'done' ? total : bytes, { phase: p.phase, done: mib(p.phase === 'done' ? total : bytes) });
        }
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let phase = '';
  let tenth = -1;
  return {
    listener: (p: Progress) => {
      const t = p.bytes === undefined ? tenth : Math.min(10, Math.floor((p.bytes / total) * 10));
      if (p.phase === phase && t === tenth) return;
      phase = p.phase;
      tenth = t;
      const bytes = p.bytes === undefined ? '' : ` ${mib(p.bytes)} MiB`;
      const domid = p.domid === undefined ? '' : ` (domain ${p.domid})`;
      stream.write(`${what}: ${p.phase}${bytes}${domid}\n`);
    },
    stop: () => undefined,
  };
}
