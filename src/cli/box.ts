// `xenlight box up|run|down|status`: Xen in a box for other projects' CI. The box runs in the
// background between commands; its files are in a state directory (--state).
import { Command, InvalidArgumentError } from 'commander';
import type * as session from '../box/session';
import { out } from './common';

/** Thrown by an action to end the command with this exit status (box run: the command's). */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

// Loaded on use: `xenlight list` should not pay for the box's modules.
const box = () => require('../box/session') as typeof session;

const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
};
const mib = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 512) throw new InvalidArgumentError('must be a whole number of MiB >= 512');
  return n;
};
const tcpPort = (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a TCP port, 1-65535');
  return n;
};
const envPair = (v: string, prev: Record<string, string> = {}) => {
  const m = /^([A-Za-z_]\w*)=(.*)$/s.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not NAME=value`);
  return { ...prev, [m[1]]: m[2] };
};
const say = (m: string) => process.stderr.write(`xenlight box: ${m}\n`);

export function addBoxCommands(p: Command): void {
  const b = p.command('box')
    .description('Xen in a box: real Xen and dom0 under QEMU (no KVM needed), kept up between commands for CI')
    .enablePositionalOptions();
  const stateOption = (c: Command) => c.option('--state <dir>', 'state directory of the box (default: $XENLIGHT_BOX_STATE, else .cache/box of the package)');

  stateOption(b.command('up'))
    .description('Boot a box in the background, or find the one already up; prints how long the boot took')
    .option('--cache <dir>', 'where built images are cached (default: $XENLIGHT_BOX_CACHE, else .cache/testbed of the package)')
    .option('--xfer <dir>', 'host directory shared read-write as /xfer in dom0 (default: xfer in the state directory)')
    .option('--memory <MiB>', 'memory of the emulated machine', mib)
    .option('--dom0-memory <MiB>', 'memory of dom0', mib)
    .option('--fresh', 'stop a box that is up and rebuild the images first', false)
    .option('--timeout <seconds>', 'give up (and kill QEMU) if dom0 is not ready by then', seconds, 600)
    .option('--serial', 'copy the serial console (Xen, dom0 kernel) to stderr while booting', false)
    .option('--gdb <port>', "QEMU's gdb stub on 127.0.0.1:<port>, for gdb on Xen (xen-syms) and dom0's kernel", tcpPort)
    .option('--gdb-wait', 'with --gdb: start with the CPUs stopped until gdb continues them', false)
    .option('--json', 'print the status as JSON', false)
    .action(async (o: { state?: string; cache?: string; xfer?: string; memory?: number; dom0Memory?: number; fresh: boolean;
      timeout: number; serial: boolean; json: boolean; gdb?: number; gdbWait: boolean }) => {
      const { Box } = box();
      const started = Date.now();
      const bx = await Box.up({
        stateDir: o.state, cacheDir: o.cache, xferDir: o.xfer, memoryMiB: o.memory, dom0MemoryMiB: o.dom0Memory, fresh: o.fresh,
        bootTimeoutSeconds: o.timeout, serial: o.serial ? process.stderr : undefined, log: say,
        gdbPort: o.gdb, gdbWait: o.gdbWait,
      });
      if (o.json) out(JSON.stringify({ ...Box.status(bx.stateDir), reused: bx.reused }, null, 2));
      else out(bx.reused ? `already up (QEMU pid ${bx.pid})` : `up in ${((Date.now() - started) / 1000).toFixed(1)} s (QEMU pid ${bx.pid})`);
    });

  stateOption(b.command('run'))
    .description('Run a command as root in dom0 of the box that is up; its output streams here, its exit status is ours ' +
      '(124: --timeout, 130: interrupted; the box stays up)')
    .argument('<command...>', 'the command and its arguments (put -- before it if it has options)')
    .option('--shell', 'run the words as one sh command line', false)
    .option('--cwd <dir>', 'working directory in dom0 (default: this one; the host\'s files are there, read-only)')
    .option('-e, --env <NAME=value>', 'extra environment (repeatable)', envPair)
    .option('--timeout <seconds>', 'cancel the command (kill all it started) after this long', seconds)
    .option('--serial', 'copy the serial console to stderr while the command runs', false)
    .passThroughOptions()
    .action(async (command: string[], o: { state?: string; shell: boolean; cwd?: string; env?: Record<string, string>;
      timeout?: number; serial: boolean }) => {
      const { Box } = box();
      const bx = Box.attach(o.state);
      const controller = new AbortController();
      // Ctrl-C cancels the command in dom0, not the box.
      const onSigint = () => controller.abort();
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      try {
        const r = await bx.run(command, {
          shell: o.shell, cwd: o.cwd, env: o.env, timeoutSeconds: o.timeout, output: process.stdout,
          serial: o.serial ? process.stderr : undefined, signal: controller.signal,
        });
        if (r.timedOut) say(`time limit of ${o.timeout} s reached: the command was cancelled (the box is still up)`);
        if (r.aborted) say('interrupted: the command was cancelled (the box is still up)');
        throw new ExitStatus(r.exitCode);
      } finally {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });

  stateOption(b.command('down'))
    .description('Power the box off (QEMU is killed by pid if dom0 does not stop); nothing running is not an error')
    .option('--grace <seconds>', 'how long dom0 may take to power off', seconds, 30)
    .action(async (o: { state?: string; grace: number }) => {
      const r = await box().Box.down({ stateDir: o.state, graceSeconds: o.grace, log: say });
      out(r.message);
    });

  stateOption(b.command('status'))
    .description('Whether a box is up (exit 0), down (3) or dead: its QEMU gone (4)')
    .option('--json', 'as JSON', false)
    .action((o: { state?: string; json: boolean }) => {
      const s = box().Box.status(o.state);
      out(o.json ? JSON.stringify(s, null, 2) : `${s.state}: ${s.message}`);
      const code = { up: 0, booting: 0, down: 3, dead: 4 }[s.state];
      if (code) throw new ExitStatus(code);
    });
}
