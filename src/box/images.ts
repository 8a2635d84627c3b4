// Builds and caches what Xen in a box boots: the hypervisor ELF, the dom0 initramfs, the tiny
// PV test guest's initrd and the HVM test guests' idle boot CD. Everything comes from the host's
// Debian packages.
import { createHash } from 'node:crypto';
import { spawnSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { packageRoot } from '../core/package-root';
import { BoxSetupError } from './errors';
import type { BoxRoot, XenVersion } from './roots';
import { DOM0_INIT, DOM0_INIT_SHARES, GUEST_INITTAB, GUEST_RC } from './scripts';

export const XEN_GZ = '/boot/xen-4.17-amd64.gz';
export const BUSYBOX = '/bin/busybox';

/** Modules dom0 needs before it can reach the host's files (order is resolved with modprobe). */
export const DOM0_MODULES = [
  'virtio_pci',
  '9pnet_virtio',
  '9p',
  'overlay',
  'xen-evtchn',
  'xen-gntdev',
  'xen-gntalloc',
  'xen-privcmd',
  'xenfs',
  'xen-blkback',
  'xen-netback',
  'xen-pciback',
  'bridge',
  'loop',
  'tun',
  // The box's emulated xHCI controller, so dom0 sees its USB devices (to pass through).
  'xhci-pci',
];
/** Front-end modules the PV test guest loads from its initrd. */
export const GUEST_MODULES = ['xen-blkfront', 'xen-netfront', 'xen-pcifront'];

/**
 * What the idle boot code writes to Xen's HVM debug port (0xE9) once the firmware has handed it
 * the CPU: Xen prints it on its console as `(d<domid>) xenlight-idle: up` (the box runs Xen
 * with guest_loglvl=all), so a test can wait for the guest to be past its BIOS
 * (waitForHvmIdle in ./guests).
 */
export const HVM_IDLE_MARKER = 'xenlight-idle: up';

/**
 * The boot code of the HVM guests' idle CD (also a disk's boot sector in 16-devices-hvm). A
 * diskless HVM guest ends in SeaBIOS's "No bootable device", which reboots the guest every 60 s
 * (and a reboot in the middle of a migration or a device test is a failure that has nothing to
 * do with it); this guest boots, says so on port 0xE9, then halts until the next interrupt, for
 * ever. (hlt with interrupts off would power it off.) 16-bit real mode, position-independent:
 * SeaBIOS enters it at 0000:7C00, but the message is found from IP and read through CS, so
 * neither CS:IP nor DS matter. Bytes by hand (checked with `objdump -D -b binary -m i8086`):
 *
 *   00  FC          cld
 *   01  E8 00 00    call 04            ; pushes the address of 04
 *   04  5E          pop si
 *   05  83 C6 14    add si, 18h-04h    ; si = msg
 *   08  BA E9 00    mov dx, 0E9h
 *   0B  2E AC       cs lodsb           ; al = cs:[si++]
 *   0D  84 C0       test al, al
 *   0F  74 03       jz 14
 *   11  EE          out dx, al
 *   12  EB F7       jmp 0B
 *   14  FB          sti
 *   15  F4          hlt
 *   16  EB FD       jmp 15
 *   18  msg: HVM_IDLE_MARKER, "\n" (Xen prints the line at the newline), 0
 */
export const IDLE_BOOT_CODE = [
  0xfc,
  0xe8,
  0x00,
  0x00,
  0x5e,
  0x83,
  0xc6,
  0x14,
  0xba,
  0xe9,
  0x00,
  0x2e,
  0xac,
  0x84,
  0xc0,
  0x74,
  0x03,
  0xee,
  0xeb,
  0xf7,
  0xfb,
  0xf4,
  0xeb,
  0xfd,
  ...Buffer.from(`${HVM_IDLE_MARKER}\n\0`, 'latin1'),
];

export interface BoxImages {
  /** The Xen version these images boot (absent: 4.17, the host's own). */
  xenVersion?: XenVersion;
  /** The dom0 root file system shared into the box (absent: the host's /). */
  rootDir?: string;
  /** The PV guests' kernel as dom0 sees it (absent: `kernel`, which dom0 sees at the same path). */
  guestKernel?: string;
  /** Uncompressed multiboot ELF of the hypervisor. */
  xen: string;
  kernelVersion: string;
  /** Debian's kernel, used for dom0 and for PV guests. */
  kernel: string;
  dom0Initrd: string;
  guestInitrd: string;
  /** An ISO 9660 CD whose El Torito boot image runs IDLE_BOOT_CODE. */
  hvmIdleIso: string;
}

export { BoxSetupError };

/** The newest Debian 6.1 kernel that has its modules installed. */
export function findKernel(): { version: string; image: string } {
  const versions = fs.existsSync('/boot')
    ? fs
        .readdirSync('/boot')
        .map((f) => /^vmlinuz-(6\.1\.\d+-\d+-amd64)$/.exec(f)?.[1])
        .filter((v): v is string => !!v && fs.existsSync(`/lib/modules/${v}/modules.dep`))
    : [];
  versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions.at(-1);
  if (!version) {
    throw new BoxSetupError(
      'no Debian 6.1 kernel with modules in /boot: run `bash scripts/setup.sh` ' + '(apt-get install linux-image-amd64)',
    );
  }
  return { version, image: `/boot/vmlinuz-${version}` };
}

function requireFile(file: string, pkg: string): void {
  if (!fs.existsSync(file)) {
    throw new BoxSetupError(
      `${file} is missing: install the Debian package ${pkg} ` +
        '(or run `bash scripts/setup.sh`, which installs everything the box needs)',
    );
  }
}

/** Module files (absolute paths) in load order, dependencies first, each once. */
export function moduleFiles(kver: string, names: string[], baseDir?: string): string[] {
  const out: string[] = [];
  for (const name of names) {
    const r = spawnSync('modprobe', [...(baseDir ? ['-d', baseDir] : []), '-S', kver, '--show-depends', name], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      throw new BoxSetupError(`modprobe --show-depends ${name} failed: ${r.stderr || r.error}`);
    }
    for (const line of r.stdout.split('\n')) {
      const m = /^insmod (\S+)/.exec(line);
      if (m && !out.includes(m[1])) out.push(m[1]);
    }
  }
  return out;
}

/** A tree to pack: relative path → file content, a host file to copy, or a symlink. */
type Entry = { data: string | Buffer; mode?: number } | { copy: string; mode?: number } | { link: string };

async function writeCpioGz(entries: Map<string, Entry>, outFile: string): Promise<void> {
  const stage = fs.mkdtempSync(path.join(path.dirname(outFile), '.stage-'));
  try {
    const names = new Set<string>();
    for (const [rel, e] of entries) {
      const dest = path.join(stage, rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      if ('link' in e) fs.symlinkSync(e.link, dest);
      else if ('copy' in e) fs.copyFileSync(e.copy, dest);
      else fs.writeFileSync(dest, e.data);
      if (!('link' in e)) fs.chmodSync(dest, e.mode ?? 0o644);
      for (let p = rel; p !== '.'; p = path.dirname(p)) names.add(p);
    }
    // cpio wants parents before children; sorting the relative paths gives that.
    const list = [...names].sort().join('\n') + '\n';
    const cpio = spawn('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: stage, stdio: ['pipe', 'pipe', 'inherit'] });
    const done = new Promise<void>((resolve, reject) => {
      cpio.on('error', reject);
      cpio.on('exit', (code) => (code === 0 ? resolve() : reject(new BoxSetupError(`cpio exited ${code}`))));
    });
    cpio.stdin.end(list);
    const tmp = `${outFile}.tmp`;
    // One gzip stream: libxc cannot inflate concatenated streams (see RECIPE).
    await pipeline(cpio.stdout, zlib.createGzip({ level: 6 }), fs.createWriteStream(tmp));
    await done;
    fs.renameSync(tmp, outFile);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function busyboxTree(kver: string, modules: string[], baseDir = ''): Map<string, Entry> {
  const tree = new Map<string, Entry>();
  tree.set('bin/busybox', { copy: BUSYBOX, mode: 0o755 });
  tree.set('bin/sh', { link: 'busybox' });
  for (const dir of ['proc', 'sys', 'dev', 'tmp', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root']) {
    tree.set(`${dir}/.keep`, { data: '' });
  }
  const order: string[] = [];
  for (const file of modules) {
    let rel = path.relative(`${baseDir}/lib/modules/${kver}`, file);
    if (rel.endsWith('.xz')) {
      // Debian 13's modules are xz-compressed; busybox's insmod loads them plain.
      rel = rel.slice(0, -3);
      tree.set(`lib/modules/${rel}`, { data: unxz(file) });
    } else {
      tree.set(`lib/modules/${rel}`, { copy: file });
    }
    order.push(rel);
  }
  tree.set('etc/modules.order', { data: order.join('\n') + '\n' });
  return tree;
}

function unxz(file: string): Buffer {
  const r = spawnSync('xz', ['-dc', file], { maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new BoxSetupError(`xz -dc ${file} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}

function dom0Tree(kver: string, baseDir?: string): Map<string, Entry> {
  const tree = busyboxTree(kver, moduleFiles(kver, DOM0_MODULES, baseDir), baseDir);
  tree.set('init', { data: baseDir ? DOM0_INIT_SHARES : DOM0_INIT, mode: 0o755 });
  return tree;
}

function guestTree(kver: string, baseDir?: string): Map<string, Entry> {
  const tree = busyboxTree(kver, moduleFiles(kver, GUEST_MODULES, baseDir), baseDir);
  // The kernel runs /init from an initramfs; busybox as init then reads /etc/inittab.
  tree.set('init', { link: 'bin/busybox' });
  tree.set('sbin/init', { link: '../bin/busybox' });
  // Xen's shutdown watcher runs /sbin/poweroff; reboot arrives as ctrl-alt-del.
  tree.set('sbin/poweroff', { link: '../bin/busybox' });
  tree.set('sbin/reboot', { link: '../bin/busybox' });
  tree.set('etc/inittab', { data: GUEST_INITTAB });
  tree.set('etc/rc', { data: GUEST_RC, mode: 0o755 });
  return tree;
}

function fileStamp(file: string): string {
  const st = fs.statSync(file);
  return `${file}:${st.size}:${st.mtimeMs}`;
}

/**
 * Returns the box's images, building what is missing or stale. Inputs (package files, scripts,
 * module lists) are hashed into a key; a change of any of them rebuilds.
 */
export async function prepareImages(cacheDir: string, log: (msg: string) => void = () => {}): Promise<BoxImages> {
  requireFile(XEN_GZ, 'xen-hypervisor-4.17-amd64');
  requireFile(BUSYBOX, 'busybox-static');
  const { version: kver, image: kernel } = findKernel();
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        fileStamp(XEN_GZ),
        fileStamp(BUSYBOX),
        fileStamp(kernel),
        kver,
        DOM0_MODULES,
        GUEST_MODULES,
        DOM0_INIT,
        GUEST_INITTAB,
        GUEST_RC,
        IDLE_BOOT_CODE,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(cacheDir, `images-${key}`);
  const images: BoxImages = {
    xen: path.join(dir, 'xen.elf'),
    kernelVersion: kver,
    kernel,
    dom0Initrd: path.join(dir, 'dom0-initrd.gz'),
    guestInitrd: path.join(dir, 'guest-initrd.gz'),
    hvmIdleIso: path.join(dir, 'hvm-idle.iso'),
  };
  const manifest = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifest)) return images;

  log(`building box images in ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const old of fs.readdirSync(cacheDir)) {
    // (images-xen<version>-… are other Xen versions' images: kept.)
    if (old.startsWith('images-') && !old.startsWith('images-xen') && path.join(cacheDir, old) !== dir) {
      fs.rmSync(path.join(cacheDir, old), { recursive: true, force: true });
    }
  }
  fs.writeFileSync(`${images.xen}.tmp`, zlib.gunzipSync(fs.readFileSync(XEN_GZ)));
  fs.renameSync(`${images.xen}.tmp`, images.xen);
  await writeCpioGz(dom0Tree(kver), images.dom0Initrd);
  await writeCpioGz(guestTree(kver), images.guestInitrd);
  writeIdleIso(images.hvmIdleIso);
  fs.writeFileSync(manifest, JSON.stringify(images, null, 2) + '\n');
  return images;
}

/**
 * The images of a box whose dom0 runs a root of its own (Xen 4.20's trixie root): its
 * hypervisor, an initramfs with its kernel's modules, and a PV guest initrd for its kernel.
 */
export async function prepareRootImages(
  cacheDir: string,
  root: BoxRoot,
  log: (msg: string) => void = () => {},
): Promise<BoxImages> {
  requireFile(BUSYBOX, 'busybox-static');
  const kver = root.kernelVersion;
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        root.dir,
        fileStamp(root.xenGz),
        fileStamp(BUSYBOX),
        fileStamp(root.kernel),
        kver,
        DOM0_MODULES,
        GUEST_MODULES,
        DOM0_INIT_SHARES,
        GUEST_INITTAB,
        GUEST_RC,
        IDLE_BOOT_CODE,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  const prefix = `images-xen${root.xen}-`;
  const dir = path.join(cacheDir, prefix + key);
  const images: BoxImages = {
    xenVersion: root.xen,
    rootDir: root.dir,
    // dom0's root is this root: the kernel is at /boot there.
    guestKernel: path.join('/boot', path.basename(root.kernel)),
    xen: path.join(dir, 'xen.elf'),
    kernelVersion: kver,
    kernel: root.kernel,
    dom0Initrd: path.join(dir, 'dom0-initrd.gz'),
    guestInitrd: path.join(dir, 'guest-initrd.gz'),
    hvmIdleIso: path.join(dir, 'hvm-idle.iso'),
  };
  const manifest = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifest)) return images;

  log(`building the Xen ${root.xen} box's images in ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const old of fs.readdirSync(cacheDir)) {
    if (old.startsWith(prefix) && path.join(cacheDir, old) !== dir)
      fs.rmSync(path.join(cacheDir, old), { recursive: true, force: true });
  }
  fs.writeFileSync(`${images.xen}.tmp`, zlib.gunzipSync(fs.readFileSync(root.xenGz)));
  fs.renameSync(`${images.xen}.tmp`, images.xen);
  await writeCpioGz(dom0Tree(kver, root.dir), images.dom0Initrd);
  await writeCpioGz(guestTree(kver, root.dir), images.guestInitrd);
  writeIdleIso(images.hvmIdleIso);
  fs.writeFileSync(manifest, JSON.stringify(images, null, 2) + '\n');
  return images;
}

/** The idle boot CD: one 2 KiB no-emulation boot image (xorriso, from Debian). */
function writeIdleIso(outFile: string): void {
  const tree = fs.mkdtempSync(path.join(path.dirname(outFile), 'iso-'));
  try {
    const boot = Buffer.alloc(2048);
    Buffer.from(IDLE_BOOT_CODE).copy(boot);
    fs.writeFileSync(path.join(tree, 'idle.bin'), boot);
    const r = spawnSync(
      'xorriso',
      [
        '-as',
        'mkisofs',
        '-quiet',
        '-V',
        'XENLIGHT_IDLE',
        '-b',
        'idle.bin',
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-o',
        outFile,
        tree,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) {
      throw new BoxSetupError(
        `xorriso failed (${r.error ?? r.stderr}): install the Debian package xorriso ` + '(or run `bash scripts/setup.sh`)',
      );
    }
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

/** Where the box keeps its cache: `.cache/testbed` of the package, or XENLIGHT_BOX_CACHE. */
export function defaultCacheDir(): string {
  return process.env.XENLIGHT_BOX_CACHE ?? path.join(packageRoot(), '.cache', 'testbed');
}

/**
 * The manifest of the images last built for a Xen version (read inside dom0 by the guest helpers,
 * where XENLIGHT_BOX_XEN says which box this is).
 */
export function readManifest(cacheDir = defaultCacheDir(), xen: string = process.env.XENLIGHT_BOX_XEN ?? '4.17'): BoxImages {
  const dirs = fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((d) => d.startsWith('images-')) : [];
  for (const d of dirs) {
    const m = path.join(cacheDir, d, 'manifest.json');
    if (!fs.existsSync(m)) continue;
    const images = JSON.parse(fs.readFileSync(m, 'utf8')) as BoxImages;
    if ((images.xenVersion ?? '4.17') === xen) return images;
  }
  throw new BoxSetupError(`no box images for Xen ${xen} in ${cacheDir}: run \`npm run testbed -- true\` once to build them`);
}
