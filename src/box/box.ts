// Xen in a box: boots the real Xen hypervisor and a Linux dom0 under QEMU (software emulation),
// runs one command inside dom0 as root, streams its output, returns its exit status.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BoxImages, BoxSetupError, defaultCacheDir, prepareImages } from './images';
import { MARK, dom0RunScript, shellQuote } from './scripts';

export const QEMU = 'qemu-system-x86_64';

export interface BoxOptions {
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

// Lines of the serial console that mean the box is dead and will not power off by itself.
const FATAL = [
  /Kernel panic - not syncing/,
  /\(XEN\) Panic on CPU/,
  /\(XEN\) Hardware Dom0 crashed/,
  new RegExp(`${MARK} init failed`),
  new RegExp(`${MARK} (xenfs|xenstored|xen-init-dom0|xenconsoled) failed`),
];

/** Environment variables passed into dom0 unless overridden. */
const PASS_ENV = /^(CI|TERM|NODE_OPTIONS|NODE_ENV|FORCE_COLOR|NO_COLOR|XENLIGHT_\w+|MOCHA_\w+|DEBUG)$/;

export function checkHost(): void {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new BoxSetupError(`${QEMU} not found: install the Debian package qemu-system-x86 ` +
      '(or run `bash scripts/setup.sh`)');
  }
}

export function qemuArgs(images: BoxImages, opts: { memoryMiB: number; dom0MemoryMiB: number; xferDir: string }): string[] {
  const xen = [
    'console=com1', 'com1=115200,8n1', `dom0_mem=${opts.dom0MemoryMiB}M,max:${opts.dom0MemoryMiB}M`,
    'loglvl=all', 'guest_loglvl=all',
    // The emulated IOMMU below: PCI passthrough needs Xen's I/O virtualisation.
    'iommu=1,verbose',
  ].join(' ');
  const dom0 = `${images.kernel} console=hvc0 earlyprintk=xen root=/dev/ram0 loglevel=4`;
  return [
    '-accel', 'tcg,thread=multi', '-smp', '2', '-m', String(opts.memoryMiB),
    // qemu64 + NPT: -cpu max crashes the PV dom0; +npt gives Xen HAP for HVM guests.
    '-cpu', 'qemu64,+npt', '-machine', 'q35',
    '-display', 'none', '-vga', 'none', '-monitor', 'none', '-parallel', 'none', '-serial', 'stdio',
    '-no-reboot', '-nic', 'none',
    // For PCI passthrough: an IOMMU (before the other devices) and two spare devices that no
    // dom0 driver claims (edu 1234:11e8, pci-testdev 1b36:0005).
    '-device', 'intel-iommu,intremap=off', '-device', 'edu', '-device', 'pci-testdev',
    // For USB passthrough: an xHCI controller with a keyboard and a tablet on it.
    '-device', 'qemu-xhci,id=xhci', '-device', 'usb-kbd,bus=xhci.0', '-device', 'usb-tablet,bus=xhci.0',
    '-kernel', images.xen, '-append', xen,
    '-initrd', `${dom0},${images.dom0Initrd}`,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${opts.xferDir},mount_tag=xfer,security_model=none,multidevs=remap`,
  ];
}

/** Boots the box, runs the command in dom0 and powers off. Never hangs past the time limit. */
export async function runInBox(opts: BoxOptions): Promise<BoxResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`testbed: ${m}\n`));
  const started = Date.now();
  checkHost();
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  fs.mkdirSync(cacheDir, { recursive: true });
  const images = await prepareImages(cacheDir, log);

  const ownXfer = !opts.xferDir;
  const xferDir = opts.xferDir ?? fs.mkdtempSync(path.join(cacheDir, 'xfer-'));
  fs.mkdirSync(xferDir, { recursive: true });
  for (const f of ['out.log', 'rc', 'rc.tmp']) fs.rmSync(path.join(xferDir, f), { force: true });
  fs.writeFileSync(path.join(xferDir, 'out.log'), '');

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (PASS_ENV.test(k) && v !== undefined) env[k] = v;
  Object.assign(env, opts.env);
  env.PATH = `/usr/lib/xen-4.17/bin:${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
  const command = opts.shell ? opts.command.join(' ') : opts.command.map(shellQuote).join(' ');
  fs.writeFileSync(path.join(xferDir, 'run.sh'), dom0RunScript({ cwd: opts.cwd ?? process.cwd(), command, env }));

  const memoryMiB = opts.memoryMiB ?? 4096;
  const args = qemuArgs(images, { memoryMiB, dom0MemoryMiB: opts.dom0MemoryMiB ?? 1536, xferDir });
  const qemu = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let serial = '';
  let bootSeconds: number | undefined;
  let failure: string | undefined;
  let timedOut = false;
  const output = opts.output ?? process.stdout;

  // Stream the command's output as dom0 writes it into the exchange share.
  const outFile = path.join(xferDir, 'out.log');
  let outPos = 0;
  const pump = () => {
    let fd: number | undefined;
    try {
      fd = fs.openSync(outFile, 'r');
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, outPos);
        if (n <= 0) break;
        outPos += n;
        output.write(Buffer.from(buf.subarray(0, n)));
      }
    } catch { /* not there yet */ } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };
  const pumpTimer = setInterval(pump, 100);

  const kill = (why: string) => {
    if (!failure && !timedOut) failure = why;
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  };
  let fatalTimer: NodeJS.Timeout | undefined;
  let fatalSeen: string | undefined;
  let doneSeen = false;
  let doneTimer: NodeJS.Timeout | undefined;
  let scanned = 0;
  const onSerial = (chunk: Buffer) => {
    opts.serial?.write(chunk);
    serial += chunk.toString('latin1');
    if (serial.length > 4 << 20) {
      const cut = serial.length - (2 << 20);
      serial = serial.slice(cut);
      scanned = Math.max(0, scanned - cut);
    }
    // Scan from a little before the new text: a line can arrive split over two chunks.
    const fresh = serial.slice(Math.max(0, scanned - 200));
    scanned = serial.length;
    if (bootSeconds === undefined && fresh.includes(`${MARK} ready`)) {
      bootSeconds = (Date.now() - started) / 1000;
    }
    // Once the command is done, only power-off remains: nothing there can fail the run.
    if (!doneSeen && fresh.includes(`${MARK} done`)) {
      doneSeen = true;
      // Under TCG, QEMU has been seen to stay up (spinning) after Xen entered ACPI S5: the
      // command's result is already on the share, so stop QEMU if it has not gone by itself.
      doneTimer = setTimeout(() => {
        if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
      }, 20_000);
    }
    if (!fatalSeen && !doneSeen) {
      const fatal = FATAL.find((re) => re.test(fresh));
      if (fatal) {
        fatalSeen = `the box crashed (${fatal.source})`;
        // Give the console a moment to print the rest of the report, then stop the machine.
        fatalTimer = setTimeout(() => kill(fatalSeen!), 1500);
      }
    }
  };
  qemu.stdout.on('data', onSerial);
  let qemuStderr = '';
  qemu.stderr.on('data', (c: Buffer) => { qemuStderr += c.toString(); });

  const limit = (opts.timeoutSeconds ?? 1800) * 1000;
  const deadline = setTimeout(() => {
    timedOut = true;
    kill(`time limit of ${limit / 1000} s reached`);
  }, limit);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    qemu.on('error', (error) => resolve({ code: null, signal: null, error }));
    qemu.on('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(deadline);
  if (fatalTimer) clearTimeout(fatalTimer);
  if (doneTimer) clearTimeout(doneTimer);
  clearInterval(pumpTimer);
  pump();

  const rcFile = path.join(xferDir, 'rc');
  let exitCode: number;
  if (timedOut) {
    exitCode = 124;
    failure = `time limit of ${limit / 1000} s reached; QEMU (pid ${qemu.pid}) was killed`;
  } else if (!failure && !fatalSeen && fs.existsSync(rcFile)) {
    exitCode = Number(fs.readFileSync(rcFile, 'utf8').trim());
  } else {
    exitCode = 125;
    // Xen may reboot (QEMU exits) before our own timer stops it: the console says why.
    failure ??= fatalSeen;
    if (!failure) {
      failure = exit.error
        ? `QEMU could not start: ${exit.error.message}`
        : `QEMU exited (${exit.signal ?? `code ${exit.code}`}) before the command finished` +
          (qemuStderr ? `: ${qemuStderr.trim()}` : '');
    }
  }
  if (failure) {
    const tail = serial.split(/\r?\n/).slice(-40).join('\n');
    failure += `\n--- last lines of the serial console ---\n${tail}`;
  }
  const serialLog = path.join(cacheDir, 'serial.log');
  fs.writeFileSync(serialLog, serial);
  if (ownXfer) fs.rmSync(xferDir, { recursive: true, force: true });
  return { exitCode, bootSeconds, totalSeconds: (Date.now() - started) / 1000, failure, serialLog };
}

/** True inside dom0 of a Xen host (the box's or a real one). */
export function isDom0(): boolean {
  try {
    return fs.readFileSync('/proc/xen/capabilities', 'utf8').includes('control_d');
  } catch {
    return false;
  }
}
