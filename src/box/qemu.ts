// The emulated machine: QEMU's command line, finding our QEMU by pid, and reading the files it
// and dom0 write (serial console, job output) as they grow.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { BoxSetupError } from './errors';
import type { BoxImages } from './images';
import { MARK } from './scripts';

export const QEMU = 'qemu-system-x86_64';

/** Lines of the serial console that mean the box is dead and will not power off by itself. */
export const FATAL = [
  /Kernel panic - not syncing/,
  /\(XEN\) Panic on CPU/,
  /\(XEN\) Hardware Dom0 crashed/,
  new RegExp(`${MARK} init failed`),
  new RegExp(`${MARK} (xenfs|xenstored|xen-init-dom0|xenconsoled) failed`),
];

export function checkHost(): void {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new BoxSetupError(
      `${QEMU} not found: install the Debian package qemu-system-x86 ` + '(or run `bash scripts/setup.sh`)',
    );
  }
}

export interface MachineFiles {
  /** The serial line (Xen's console, which also carries dom0's) goes to this file. */
  serialLog: string;
  /** QEMU writes its pid here once it runs in the background (and keeps the file locked). */
  pidFile: string;
  xferDir: string;
}

/** A host directory shared read-only into dom0 (a box with a root of its own), by 9p tag. */
export interface HostShare {
  tag: string;
  path: string;
  /** Where dom0 mounts it (default: the same path as on the host). */
  at?: string;
  /** dom0's kernel may cache it (9p cache=loose): only for files that do not change while a box runs. */
  cached?: boolean;
}

export function qemuArgs(
  images: BoxImages,
  opts: MachineFiles & { memoryMiB: number; dom0MemoryMiB: number; shares?: HostShare[] },
): string[] {
  const xen = [
    'console=com1',
    'com1=115200,8n1',
    `dom0_mem=${opts.dom0MemoryMiB}M,max:${opts.dom0MemoryMiB}M`,
    'loglvl=all',
    'guest_loglvl=all',
    // The emulated IOMMU below: PCI passthrough needs Xen's I/O virtualisation.
    'iommu=1,verbose',
  ].join(' ');
  const dom0 = `${images.kernel} console=hvc0 earlyprintk=xen root=/dev/ram0 loglevel=4`;
  return [
    '-accel',
    'tcg,thread=multi',
    '-smp',
    '2',
    '-m',
    String(opts.memoryMiB),
    // qemu64 + NPT: -cpu max crashes the PV dom0; +npt gives Xen HAP for HVM guests.
    '-cpu',
    'qemu64,+npt',
    '-machine',
    'q35',
    '-display',
    'none',
    '-vga',
    'none',
    '-monitor',
    'none',
    '-parallel',
    'none',
    '-serial',
    `file:${opts.serialLog}`,
    // In the background, reparented to init: the box outlives the command that started it, and
    // QEMU's parent exits only once the machine is set up (or with QEMU's error).
    '-daemonize',
    '-pidfile',
    opts.pidFile,
    '-no-reboot',
    '-nic',
    'none',
    // For PCI passthrough: an IOMMU (before the other devices) and two spare devices that no
    // dom0 driver claims (edu 1234:11e8, pci-testdev 1b36:0005).
    '-device',
    'intel-iommu,intremap=off',
    '-device',
    'edu',
    '-device',
    'pci-testdev',
    // For USB passthrough: an xHCI controller with a keyboard and a tablet on it.
    '-device',
    'qemu-xhci,id=xhci',
    '-device',
    'usb-kbd,bus=xhci.0',
    '-device',
    'usb-tablet,bus=xhci.0',
    '-kernel',
    images.xen,
    '-append',
    xen,
    '-initrd',
    `${dom0},${images.dom0Initrd}`,
    '-virtfs',
    `local,path=${images.rootDir ?? '/'},mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap`,
    '-virtfs',
    `local,path=${opts.xferDir},mount_tag=xfer,security_model=none,multidevs=remap`,
    ...(opts.shares ?? []).flatMap((s) => [
      '-virtfs',
      `local,path=${s.path},mount_tag=${s.tag},security_model=none,readonly=on,multidevs=remap`,
    ]),
  ];
}

/**
 * True while `pid` is the QEMU started with this pid file: a pid alone may have been reused by
 * an unrelated process since, and a zombie is not a running machine.
 */
export function isOurQemu(pid: number, pidFile: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!argv[0]?.endsWith(QEMU) || !argv.includes(pidFile)) return false;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/**
 * True once `pid` has exited. isOurQemu turns false a little earlier: an exiting process's
 * cmdline reads empty while it still releases its memory (several GiB for the box).
 */
export function hasExited(pid: number): boolean {
  try {
    return /^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Reads what has been appended to a file since the last call (the file may not exist yet). */
export class FileFollower {
  private pos = 0;
  private readonly buf = Buffer.alloc(1 << 16);

  constructor(
    readonly file: string,
    from: 'start' | 'end' = 'start',
  ) {
    if (from === 'end') {
      try {
        this.pos = fs.statSync(file).size;
      } catch {
        /* not there yet: from its start */
      }
    }
  }

  read(): Buffer {
    let fd: number | undefined;
    const parts: Buffer[] = [];
    try {
      fd = fs.openSync(this.file, 'r');
      for (;;) {
        const n = fs.readSync(fd, this.buf, 0, this.buf.length, this.pos);
        if (n <= 0) break;
        this.pos += n;
        parts.push(Buffer.from(this.buf.subarray(0, n)));
      }
    } catch {
      /* not there yet */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return Buffer.concat(parts);
  }
}

/** Watches the serial console for the lines that mean the box died. */
export class SerialWatch {
  private readonly follower: FileFollower;
  private recent = '';
  /** The FATAL pattern seen, if any. */
  fatal?: string;

  constructor(
    serialLog: string,
    from: 'start' | 'end',
    private readonly tee?: NodeJS.WritableStream,
  ) {
    this.follower = new FileFollower(serialLog, from);
  }

  poll(): string | undefined {
    const chunk = this.follower.read();
    if (chunk.length) {
      this.tee?.write(chunk);
      // Keep a little of the text before: a line can arrive split over two reads.
      this.recent = this.recent.slice(-200) + chunk.toString('latin1');
      if (!this.fatal) this.fatal = FATAL.find((re) => re.test(this.recent))?.source;
    }
    return this.fatal;
  }
}

/** The last lines of a serial log, for an error message. */
export function serialTail(serialLog: string, lines = 40): string {
  try {
    const fd = fs.openSync(serialLog, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 64 << 10);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('latin1').split(/\r?\n/).slice(-lines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '(no serial console was written)';
  }
}
