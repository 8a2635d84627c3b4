// `xenlight box up|run|down|status|exec`: Xen in a box for other projects' CI. The box runs in the
// background between commands; its files are in a state directory (--state). `box exec` is the
// testbed (`npm run testbed -- <command…>`): up in a private state directory, one run, down.
import type * as boxModule from '../box/box';
import type { XenVersion } from '../box/roots';
import type * as session from '../box/session';
import { ExitStatus, out } from './common';

// Loaded on use: `xenlight list` should not pay for the box's modules.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const box = () => require('../box/session') as typeof session;

const say = (m: string) => process.stderr.write(`xenlight box: ${m}\n`);

/** `box exec`'s messages, as the testbed runner has always printed them. */
const testbed = (m: string) => process.stderr.write(`testbed: ${m}\n`);

// By command name; the command table (commands.ts) holds their arguments, options and help.
export const handlers = {
  'box up': async (o: {
    xen?: XenVersion;
    state?: string;
    cache?: string;
    xfer?: string;
    memory?: number;
    dom0Memory?: number;
    fresh: boolean;
    timeout: number;
    serial: boolean;
    json: boolean;
    gdb?: number;
    gdbWait: boolean;
  }) => {
    const { Box } = box();
    const started = Date.now();
    const bx = await Box.up({
      xen: o.xen,
      stateDir: o.state,
      cacheDir: o.cache,
      xferDir: o.xfer,
      memoryMiB: o.memory,
      dom0MemoryMiB: o.dom0Memory,
      fresh: o.fresh,
      bootTimeoutSeconds: o.timeout,
      serial: o.serial ? process.stderr : undefined,
      log: say,
      gdbPort: o.gdb,
      gdbWait: o.gdbWait,
    });
    if (o.json) out(JSON.stringify({ ...Box.status(bx.stateDir), reused: bx.reused }, null, 2));
    else
      out(
        bx.reused
          ? `already up (QEMU pid ${bx.pid})`
          : `up in ${((Date.now() - started) / 1000).toFixed(1)} s (QEMU pid ${bx.pid})`,
      );
  },

  'box run': async (
    command: string[],
    o: { state?: string; shell: boolean; cwd?: string; env?: Record<string, string>; timeout?: number; serial: boolean },
  ) => {
    const { Box } = box();
    const bx = Box.attach(o.state);
    const controller = new AbortController();
    // Ctrl-C cancels the command in dom0, not the box.
    const onSigint = () => controller.abort();
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    try {
      const r = await bx.run(command, {
        shell: o.shell,
        cwd: o.cwd,
        env: o.env,
        timeoutSeconds: o.timeout,
        output: process.stdout,
        serial: o.serial ? process.stderr : undefined,
        signal: controller.signal,
      });
      if (r.timedOut) say(`time limit of ${o.timeout} s reached: the command was cancelled (the box is still up)`);
      if (r.aborted) say('interrupted: the command was cancelled (the box is still up)');
      throw new ExitStatus(r.exitCode);
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
  },

  'box down': async (o: { state?: string; grace: number }) => {
    const r = await box().Box.down({ stateDir: o.state, graceSeconds: o.grace, log: say });
    out(r.message);
  },

  'box status': (o: { state?: string; json: boolean }) => {
    const s = box().Box.status(o.state);
    out(o.json ? JSON.stringify(s, null, 2) : `${s.state}: ${s.message}`);
    const code = { up: 0, booting: 0, down: 3, dead: 4 }[s.state];
    if (code) throw new ExitStatus(code);
  },

  /**
   * Boot, run one command, power off: exits with the command's status, 124 at the time limit,
   * 125 when the box itself failed (with the serial console's last lines).
   */
  'box exec': async (
    command: string[],
    o: { xen?: XenVersion; shell: boolean; timeout?: number; memory?: number; xfer?: string; serial: boolean; quiet: boolean },
  ) => {
    let r: boxModule.BoxResult;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runInBox } = require('../box/box') as typeof boxModule;
      r = await runInBox({
        command,
        xen: o.xen,
        shell: o.shell,
        timeoutSeconds: o.timeout,
        memoryMiB: o.memory,
        xferDir: o.xfer,
        serial: o.serial ? process.stderr : undefined,
      });
    } catch (err) {
      // A missing prerequisite is said in a line; anything else with its stack. Both: 125.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { BoxSetupError } = require('../box/errors') as typeof import('../box/errors');
      testbed(err instanceof BoxSetupError ? err.message : String((err as Error)?.stack ?? err));
      throw new ExitStatus(125);
    }
    if (r.failure) testbed(r.failure);
    if (!o.quiet) {
      testbed(
        `exit ${r.exitCode}; boot to command ${r.bootSeconds?.toFixed(1) ?? '-'} s, ` +
          `total ${r.totalSeconds.toFixed(1)} s (serial log: ${r.serialLog})`,
      );
    }
    throw new ExitStatus(r.exitCode);
  },
};
