// Ready guest configurations for tests and demos inside Xen in a box (or any dom0 with the
// box's images built), and a way to wait for a guest's console.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { HVM_IDLE_MARKER, readManifest } from './images';

export interface GuestOptions {
  name: string;
  memoryMiB?: number;
  vcpus?: number;
  /** Extra xl.cfg lines. */
  extra?: string[];
  /** Extra kernel command line (PV). */
  cmdline?: string;
}

/** A PV guest of your own: your kernel and initrd (any path on the host: dom0 sees the host's files). */
export interface PvGuestOptions extends GuestOptions {
  /** Kernel image (default: the box's Debian kernel). */
  kernel?: string;
  /** Initrd (default: the box's busybox initrd, a shell on hvc0). */
  ramdisk?: string;
  /** xl disk specs, e.g. "format=raw,vdev=xvda,access=rw,target=/xfer/disk.img" (writable images belong under /xfer). */
  disks?: string[];
}

const q = (s: string) => JSON.stringify(s);

/** xl.cfg of the tiny PV guest (Debian kernel, busybox initrd, a shell on hvc0), or of your own. */
export function pvGuestConfig(opts: PvGuestOptions): string {
  const m = opts.kernel && opts.ramdisk ? undefined : readManifest();
  return (
    [
      `name = ${q(opts.name)}`,
      'type = "pv"',
      `kernel = ${q(opts.kernel ?? m!.guestKernel ?? m!.kernel)}`,
      `ramdisk = ${q(opts.ramdisk ?? m!.guestInitrd)}`,
      ...(opts.disks?.length ? [`disk = [ ${opts.disks.map(q).join(', ')} ]`] : []),
      `memory = ${opts.memoryMiB ?? 128}`,
      `vcpus = ${opts.vcpus ?? 1}`,
      `extra = ${q(`console=hvc0 loglevel=4 ${opts.cmdline ?? ''}`.trim())}`,
      ...(opts.extra ?? []),
    ].join('\n') + '\n'
  );
}

/**
 * xl.cfg of an HVM guest with its device model and a VNC server on loopback. Its firmware boots
 * the box's idle CD (as hdd, read-only) and the guest then idles: without it SeaBIOS finds no
 * boot device and reboots the guest every 60 s.
 */
export function hvmGuestConfig(
  opts: GuestOptions & {
    vncDisplay?: number;
    /** xl disk specs in place of the idle CD. */
    disks?: string[];
    /** Boot order (xl's `boot`), "d" (the CD) by default. */
    boot?: string;
  },
): string {
  const disks = opts.disks ?? [`format=raw,vdev=hdd,access=ro,devtype=cdrom,target=${readManifest().hvmIdleIso}`];
  return (
    [
      `name = ${q(opts.name)}`,
      'type = "hvm"',
      `memory = ${opts.memoryMiB ?? 128}`,
      `vcpus = ${opts.vcpus ?? 1}`,
      'vnc = 1',
      'vnclisten = "127.0.0.1"',
      ...(opts.vncDisplay !== undefined ? [`vncdisplay = ${opts.vncDisplay}`, 'vncunused = 0'] : []),
      'serial = "pty"',
      `boot = ${q(opts.boot ?? 'd')}`,
      `disk = [ ${disks.map(q).join(', ')} ]`,
      ...(opts.extra ?? []),
    ].join('\n') + '\n'
  );
}

/** Where xenconsoled (started with --log=guest in the box) writes a guest's console. */
export function consoleLogPath(name: string): string {
  return `/var/log/xen/console/guest-${name}.log`;
}

export class GuestPanicError extends Error {
  override name = 'GuestPanicError';
}

const PANIC = /Kernel panic - not syncing[^\n]*/;

/**
 * Resolves when the guest's console log matches `pattern`; rejects at once if the guest's
 * kernel panics (with the panic line), or after `timeoutMs`.
 */
export async function waitForConsole(name: string, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const file = consoleLogPath(name);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
    if (pattern.test(text)) return text;
    const panic = PANIC.exec(text);
    if (panic) throw new GuestPanicError(`guest ${name} panicked: ${panic[0].trim()}`);
    if (Date.now() > deadline) {
      const tail = text.split('\n').slice(-10).join('\n');
      throw new Error(`guest ${name}: no ${pattern} on its console after ${timeoutMs} ms; last lines:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `xl dmesg`: the hypervisor's console ring, as text. */
function xlDmesg(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('xl', ['dmesg'], { encoding: 'latin1', maxBuffer: 16 * 2 ** 20 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

/** Whether `xl list <domid>` knows the domain. */
function xlKnows(domid: number): Promise<boolean> {
  return new Promise((resolve) => execFile('xl', ['list', String(domid)], (err) => resolve(!err)));
}

/**
 * Resolves once the HVM guest `domid` runs the box's idle boot code (IDLE_BOOT_CODE, on the idle
 * CD or as a disk's boot sector): Xen's console shows `(d<domid>) xenlight-idle: up`, written
 * to the HVM debug port after the firmware (hvmloader, SeaBIOS) handed over. From then on the
 * guest only halts and takes timer interrupts: wait for this before saving or migrating a
 * freshly created HVM guest, whose BIOS is otherwise still probing its drives. Rejects at once
 * if the guest triple-faults (Xen then reboots it) or the domain goes away, and after
 * `timeoutMs`, with the guest's last console lines. Only for a guest that boots: a restored or
 * migrated-in domain ran its boot code under another domid.
 */
export async function waitForHvmIdle(domid: number, timeoutMs = 120_000): Promise<void> {
  const line = new RegExp(`^\\(d${domid}\\) ${HVM_IDLE_MARKER}$`, 'm');
  const fault = new RegExp(`^\\(XEN\\) d${domid}v\\d+ Triple fault[^\\n]*`, 'm');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await xlDmesg();
    if (line.test(text)) return;
    const f = fault.exec(text);
    if (f) throw new Error(`HVM guest d${domid} did not reach its idle code: ${f[0]}`);
    if (!(await xlKnows(domid))) throw new Error(`HVM guest d${domid} is gone before reaching its idle code`);
    if (Date.now() > deadline) {
      const own = text
        .split('\n')
        .filter((l) => l.startsWith(`(d${domid}) `))
        .slice(-10)
        .join('\n');
      throw new Error(
        `HVM guest d${domid}: no "${HVM_IDLE_MARKER}" on Xen's console after ${timeoutMs} ms; ` + `its last lines:\n${own}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
