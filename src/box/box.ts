// Xen in a box: the real Xen hypervisor and a Linux dom0 under QEMU (software emulation). `Box`
// keeps one running in the background for many commands; `runInBox` boots one for a single
// command and powers it off.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BoxError } from './errors';
import { defaultCacheDir } from './images';
import type { XenVersion } from './roots';
import { Box } from './session';

export { Box, defaultStateDir } from './session';
export type { BoxStatus, BoxUpOptions, RunOptions, RunResult } from './session';
export { BoxError, BoxSetupError } from './errors';
export { XEN_VERSIONS, defaultRootsDir, prepareRoot } from './roots';
export type { BoxRoot, XenVersion } from './roots';
export type { BoxImages } from './images';
export type { BoxErrorCode } from './errors';
export { QEMU, checkHost, qemuArgs } from './qemu';
export type { HostShare, MachineFiles } from './qemu';
export { hvmGuestConfig, pvGuestConfig, waitForConsole, waitForHvmIdle } from './guests';
export type { GuestOptions, PvGuestOptions } from './guests';

export interface BoxOptions {
  /** The Xen version: '4.17' (default) or '4.20' (a Debian 13 dom0; see BoxUpOptions.xen). */
  xen?: XenVersion;
  /** The command, as argv (each word quoted for the shell) or as one shell string with `shell`. */
  command: string[];
  shell?: boolean;
  /** Working directory inside dom0 (the host's root is shared, so host paths work). */
  cwd?: string;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Wall-clock limit for boot + command + power-off, in seconds. */
  timeoutSeconds?: number;
  /** Memory of the emulated machine and of dom0, in MiB. */
  memoryMiB?: number;
  dom0MemoryMiB?: number;
  /** Host directory shared read-write as /xfer (default: a fresh temporary one). */
  xferDir?: string;
  cacheDir?: string;
  /** Where the command's output goes (default: this process's stdout). */
  output?: NodeJS.WritableStream;
  /** Copy the serial console (Xen and dom0 kernel) to this stream as it arrives. */
  serial?: NodeJS.WritableStream;
  log?: (msg: string) => void;
}

export interface BoxResult {
  /** The command's exit status; 124 on timeout, 125 when the box itself failed. */
  exitCode: number;
  /** Seconds from QEMU start to dom0 ready to run the command. */
  bootSeconds?: number;
  totalSeconds: number;
  /** Why the box failed (not the command), with the serial log's tail. */
  failure?: string;
  serialLog: string;
}

/**
 * Boots a box, runs one command in dom0, powers off. Never hangs past the time limit: exit code
 * 124 when it is reached (QEMU is killed), 125 when the box itself failed (`failure` says why,
 * with the serial console's tail).
 */
export async function runInBox(opts: BoxOptions): Promise<BoxResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`testbed: ${m}\n`));
  const started = Date.now();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  fs.mkdirSync(cacheDir, { recursive: true });
  // A box of its own: a state directory nobody else uses.
  const stateDir = fs.mkdtempSync(path.join(cacheDir, 'run-'));
  const serialLog = path.join(cacheDir, 'serial.log');
  const limit = (opts.timeoutSeconds ?? 1800) * 1000;
  const result = (exitCode: number, failure?: string, bootSeconds?: number): BoxResult => ({
    exitCode,
    failure,
    bootSeconds,
    totalSeconds: (Date.now() - started) / 1000,
    serialLog,
  });
  let box: Box | undefined;
  try {
    try {
      box = await Box.up({
        xen: opts.xen,
        stateDir,
        cacheDir,
        xferDir: opts.xferDir,
        memoryMiB: opts.memoryMiB,
        dom0MemoryMiB: opts.dom0MemoryMiB,
        bootTimeoutSeconds: limit / 1000,
        serial: opts.serial,
        log,
      });
    } catch (e) {
      if (!(e instanceof BoxError) || e.code === 'ERR_BOX_SETUP') throw e;
      // A boot that runs out of time says where it stopped: the console's tail is the only trace.
      if (e.detail.timedOut) {
        const tail = e.serialTail ? `\n--- last lines of the serial console ---\n${e.serialTail}` : '';
        return result(124, `time limit of ${limit / 1000} s reached while booting; QEMU (pid ${e.detail.pid}) was killed${tail}`);
      }
      return result(125, e.message);
    }
    const remaining = Math.max(1, (limit - (Date.now() - started)) / 1000);
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), remaining * 1000);
    try {
      const r = await box.run(opts.command, {
        shell: opts.shell,
        cwd: opts.cwd,
        env: opts.env,
        output: opts.output ?? process.stdout,
        serial: opts.serial,
        signal: controller.signal,
      });
      if (r.aborted) {
        // The whole box goes with the time limit, not just the command.
        const pid = box.pid;
        await box.kill();
        return result(124, `time limit of ${limit / 1000} s reached; QEMU (pid ${pid}) was killed`, box.bootSeconds);
      }
      return result(r.exitCode, undefined, box.bootSeconds);
    } catch (e) {
      if (e instanceof BoxError) return result(125, e.message, box.bootSeconds);
      throw e;
    } finally {
      clearTimeout(deadline);
    }
  } finally {
    if (box?.isUp()) await box.down({ graceSeconds: 30 });
    // Keep the serial console where the testbed has always left it.
    try {
      fs.copyFileSync(path.join(stateDir, 'serial.log'), serialLog);
    } catch {
      /* QEMU never started */
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

/** True inside dom0 of a Xen host (the box's or a real one). */
export function isDom0(): boolean {
  try {
    return fs.readFileSync('/proc/xen/capabilities', 'utf8').includes('control_d');
  } catch {
    return false;
  }
}
