// Loads the addon on first use, so that `require('xenlight')` works on any machine and the
// first call that needs Xen says exactly what is missing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XenError, XenRangeError, XenTypeError } from './errors';
import { packageRoot } from './package-root';
import type { VersionInfo } from '../generated/libxl-types';

/** The addon's surface (native/*.cc). Thin: libxl's names, libxl's JSON. */
export interface NativeContext {
  close(): void;
  setEventHandler(fn: (kind: 'event' | 'disaster' | 'domains', payload: string) => void): void;
  enableDeathEvents(domid: number): number;
  disableDeathEvents(id: number): void;
  /** DISK_EJECT events of one drive; returns an id for disableDiskEject. */
  enableDiskEject(domid: number, vdev: string): number;
  disableDiskEject(id: number): void;
  /** libxl_ao_abort of a main-context operation started with abortId; false if it has settled. */
  abortAo(abortId: number): boolean;
  /** Removes /local/domain/<domid> and /libxl/<domid> if that domain no longer exists. */
  removeStaleDomainPaths(domid: number): boolean;
  /** The value at a xenstore path, null where there is none. */
  xenstoreRead(path: string): string | null;
  /** Watches a xenstore path and what is under it: ("xenstore", path) notifications; an id for unwatchXenstore. */
  watchXenstore(path: string): number;
  unwatchXenstore(id: number): void;
  /** The names under a xenstore path ([] where there is none). */
  xenstoreDirectory(path: string): string[];
  /** Detaches a loop device from its file (`losetup -d`). */
  loopDetach(device: string): void;
  ref(): void;
  unref(): void;
  recentLog(): string[];
  setLogLevel(level: number): void;
  /** [numbers (21 per domain), UUIDs (36 chars each), names joined by NUL, ssid labels]. */
  listDomains(): PackedDomains;
  domainInfo(domid: number): PackedDomains;
  domainConfigJson(domid: number): Promise<string>;
  physinfoJson(): { json: string; hw_cap: number[] };
  versionInfoJson(): string;
  scheduler(): string;
  freeCpus(): number[];
  inFlight(): number;
  /** Whether a failure found the xenstore connection gone (no system call). */
  xenstoreLost(): boolean;
  schedParamsGet(domid: number): string;
  schedParamsSet(domid: number, json: string): void;
  vcpuSchedParamsGet(domid: number): string;
  vcpuSchedParamsSet(domid: number, json: string, all: boolean): void;
  poolSchedParams(poolid: number, sched: string, json?: string): string;
  listVcpus(domid: number): { json: string; nrcpus: number };
  setVcpuAffinity(domid: number, vcpu: number, hard: number[] | null, soft: number[] | null, maxVcpus: number): void;
  listCpupools(): string;
  cpupoolCreate(name: string, sched: string, cpus: number[]): number;
  cpupoolDestroy(poolid: number): void;
  cpupoolRename(poolid: number, name: string): void;
  cpupoolCpu(poolid: number, verb: 'add' | 'remove', cpu: number): void;
  cpupoolMoveDomain(poolid: number, domid: number): void;
  cpuTopology(): string;
  numaInfo(): string;
  destroy(domid: number): Promise<void>;
  /** abortId: a number for abortWorkerOp(). */
  createDomain(json: string, paused: boolean, abortId?: number): Promise<number>;
  /** libxl_ao_abort on the worker operation started with abortId; false if none is in flight. */
  abortWorkerOp(abortId: number): boolean;
  coreDump(domid: number, fd: number, abortId?: number): Promise<void>;
  /** after: 0 destroy, 1 resume, 2 leave suspended; flags: LIBXL_SUSPEND_* (2 = live). */
  saveDomain(domid: number, fd: number, after: 0 | 1 | 2, flags?: number, abortId?: number): Promise<void>;
  /** libxl_domain_suspend_only (`xl suspend`): the guest suspends itself and stays in memory. */
  suspendOnly(domid: number): Promise<void>;
  resume(domid: number): Promise<void>;
  consoleTty(domid: number, index: number, type: 'pv' | 'serial'): string;
  /** JSON [{ config, info? }] of the domain's devices of a kind. */
  deviceList(kind: 'disk' | 'nic' | 'pci' | 'usbctrl' | 'usbdev', domid: number): string;
  deviceOp(
    kind: 'disk' | 'nic' | 'pci' | 'usbctrl' | 'usbdev',
    verb: 'add' | 'remove' | 'destroy',
    domid: number,
    json: string,
    abortId?: number,
  ): Promise<void>;
  cdromInsert(domid: number, diskJson: string, abortId?: number): Promise<void>;
  pciAssignableList(): string;
  pciAssignable(pciJson: string, verb: 'add' | 'remove', rebind: boolean): void;
  restoreDomain(configJson: string, fd: number, paused: boolean, abortId?: number): Promise<number>;
  shutdown(domid: number): Promise<void>;
  reboot(domid: number): Promise<void>;
  rename(domid: number, name: string): void;
  setMemoryTarget(domid: number, kb: number): void;
  setMaxMemory(domid: number, kb: number): void;
  setVcpusOnline(domid: number, count: number): Promise<void>;
  sendSysrq(domid: number, key: string): void;
  sendTrigger(domid: number, trigger: string, vcpu: number): Promise<void>;
  pause(domid: number): Promise<void>;
  unpause(domid: number): Promise<void>;
  // Host diagnostics (stats.cc).
  xenConsoleRead(clear: boolean): string;
  /** index null: from the oldest character the ring holds. */
  xenConsoleReadFrom(index: number | null): { text: string; start: number; index: number };
  psrCmtAttach(domid: number, attach: boolean): void;
  psrCmtEnabled(): boolean;
  psrCmtTypeSupported(type: string): boolean;
  psrCmtDomainAttached(domid: number): boolean;
  psrCmtL3CacheSize(socket: number): number;
  psrCmtSample(domid: number, type: string, socket: number): [number, number];
  tmemList(domid: number, useLong: boolean): string;
  tmemFreeze(domid: number, thaw: boolean): void;
  tmemSet(domid: number, name: string, value: number): void;
  tmemSharedAuth(domid: number, uuid: string, auth: boolean): void;
  tmemFreeable(): number;
  statsOpen(): object;
  statsClose(handle: object): void;
  /** Writes one sample in STATS_LAYOUT (monitor/stats.ts); false when a buffer was too small. */
  statsSampleInto(handle: object, f64: Float64Array, names: Uint8Array): boolean;
  // Guest introspection (debug.cc).
  vcpuRegisters(
    domid: number,
    vcpu: number,
    kind?: 'pv' | 'hvm',
  ): { kind: 'pv' | 'hvm'; names: string[]; values: BigUint64Array };
  setVcpuRegisters(domid: number, vcpu: number, names: string[], values: BigUint64Array): void;
  /** Reads `len` bytes (a number) or writes a Buffer at `addr`. */
  guestMemory(domid: number, addr: bigint, lenOrData: number | Buffer, vcpu: number, virtual: boolean): Buffer | undefined;
  sendDebugKeys(keys: string): void;
}

/** Domains as native/domain/list.cc packs them; core/domain-info.ts unpacks. */
export type PackedDomains = [Float64Array, string, string, (string | undefined)[]];

export interface NativeAddon {
  Context: new () => NativeContext;
  init(opts: { XenError: typeof XenError; XenTypeError?: typeof XenTypeError; XenRangeError?: typeof XenRangeError }): void;
  /** A connected AF_UNIX socket pair: [libxl's end, Node's end]. */
  streamPair(): [number, number];
  libxlVersion: number;
}

let addon: NativeAddon | undefined;
/** loadNative() checked that this is a dom0 (loadAddon() alone does not). */
let dom0Checked = false;

/** Checks that this is a dom0 we can drive, then loads the addon. */
export function loadNative(op = 'open'): NativeAddon {
  if (addon && dom0Checked) return addon;
  if (!fs.existsSync('/proc/xen') && !fs.existsSync('/dev/xen')) {
    throw new XenError(
      `${op}: this machine is not running on Xen (no /proc/xen): xenlight manages the Xen ` +
        'host it runs in, from dom0. To try it without Xen hardware, use Xen in a box: `npm run testbed -- <command>`.',
      { code: 'ERR_NOT_XEN', op },
    );
  }
  let caps = '';
  try {
    caps = fs.readFileSync('/proc/xen/capabilities', 'utf8');
  } catch {
    throw new XenError(`${op}: /proc/xen/capabilities is unreadable: mount xenfs (mount -t xenfs xenfs /proc/xen)`, {
      code: 'ERR_NOT_DOM0',
      op,
    });
  }
  if (!caps.includes('control_d')) {
    throw new XenError(
      `${op}: this is a Xen guest, not dom0 (/proc/xen/capabilities has no control_d): ` + 'run xenlight in the control domain',
      { code: 'ERR_NOT_DOM0', op },
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new XenError(`${op}: libxl needs root in dom0 (/dev/xen/privcmd, xenstore); run as root`, {
      code: 'ERR_PERMISSION',
      op,
    });
  }
  const loaded = loadAddon(op);
  dom0Checked = true;
  return loaded;
}

/**
 * Loads the addon without the dom0 checks: for the calls that need no hypervisor (libxlutil's
 * parsers, libxl's JSON), which work wherever the Xen libraries are installed.
 */
export function loadAddon(op: string): NativeAddon {
  if (addon) return addon;
  const found = findAddon(op);
  if (found.error) throw found.error;
  found.addon!.init({ XenError, XenTypeError, XenRangeError });
  addon = found.addon!;
  return addon;
}

/** A prebuilt addon's file name: the Xen version whose libxenlight it links, and the C library. */
const PREBUILD_NAME = /^xenlight\.xen(\d+\.\d+)\.(glibc|musl)\.node$/;

/** The file name of the prebuild for a Xen version (what scripts/prebuild.mjs writes). */
export function prebuildName(xen: string, libc: 'glibc' | 'musl' = 'glibc'): string {
  return `xenlight.xen${xen}.${libc}.node`;
}

/** The Xen versions whose libxenlight is installed (libxenlight.so.4.20 → '4.20'), newest first. */
export function hostXenVersions(libraries: () => string[] = listLibraries): string[] {
  const versions = libraries()
    .map((name) => /^libxenlight\.so\.(\d+\.\d+)(?:\.\d+)*$/.exec(name)?.[1])
    .filter((v): v is string => !!v);
  return [...new Set(versions)].sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
}

/** glibc or musl: prebuilds are glibc binaries; Alpine's musl builds from source. */
function libc(): 'glibc' | 'musl' {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

export interface AddonFiles {
  /** The files to try, in order: a local build (build/Release), then the prebuild for each installed Xen. */
  candidates: string[];
  /** The Xen versions the package has prebuilds for (on this platform and C library). */
  prebuilt: string[];
  /** The Xen versions whose libxenlight this host has. */
  host: string[];
}

/**
 * Which addon files could serve this host. A local node-gyp build comes first (it was built
 * against the Xen installed where it was built, as node-gyp-build ordered them); then the prebuild
 * whose libxenlight soname this host has. One package ships a prebuild per Xen version, because
 * libxenlight's soname (and ABI) changes with every Xen release.
 */
export function addonFiles(root: string, libraries: () => string[] = listLibraries, cLib = libc()): AddonFiles {
  const candidates: string[] = [];
  // XENLIGHT_PREBUILD: a directory whose build/Release/xenlight.node goes first (the ASan build of
  // scripts/asan.sh; node-gyp-build's <NAME>_PREBUILD, as before).
  const override = process.env.XENLIGHT_PREBUILD;
  if (override) candidates.push(path.join(override, 'build', 'Release', 'xenlight.node'));
  const local = path.join(root, 'build', 'Release', 'xenlight.node');
  if (fs.existsSync(local)) candidates.push(local);
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // No prebuilds (a git checkout).
  }
  const byVersion = new Map<string, string>();
  for (const name of names) {
    const m = PREBUILD_NAME.exec(name);
    if (m && m[2] === cLib) byVersion.set(m[1], path.join(dir, name));
  }
  const host = hostXenVersions(libraries);
  for (const v of host) if (byVersion.has(v)) candidates.push(byVersion.get(v)!);
  const prebuilt = [...byVersion.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return { candidates, prebuilt, host };
}

/**
 * Loads the first addon file that loads (addonFiles' order), or says why none does: the error of
 * the first candidate, classified by loadError, naming the Xen versions this package has
 * prebuilds for.
 */
export function findAddon(
  op: string,
  root: string = packageRoot(),
  libraries: () => string[] = listLibraries,
): { addon?: NativeAddon; file?: string; error?: XenError } {
  const files = addonFiles(root, libraries);
  let first: unknown;
  for (const file of files.candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return { addon: require(file) as NativeAddon, file };
    } catch (err) {
      first ??= err;
    }
  }
  if (first === undefined) {
    const have = files.prebuilt.length ? `prebuilds for Xen ${files.prebuilt.join(', ')}` : 'no prebuild';
    const hostXen = files.host.length ? `Xen ${files.host.join(' and ')}'s libxenlight` : 'no libxenlight';
    const error =
      files.host.length === 0
        ? loadError(op, new Error('libxenlight.so: cannot open shared object file: No such file or directory'), libraries)
        : new XenError(
            `${op}: this xenlight has ${have} (${process.platform}-${process.arch}) and no local build; this host has ` +
              `${hostXen}: build it from source: ${REBUILD}`,
            { code: 'ERR_XEN_ABI', op },
          );
    return { error };
  }
  return { error: loadError(op, first, libraries, files.prebuilt) };
}

/** The Xen version ("4.17") of the libxenlight.so.<major>.<minor> in a /proc/<pid>/maps text. */
export function libxlVersionFromMaps(maps: string): string | undefined {
  return /\/libxenlight\.so\.(\d+\.\d+)\b/.exec(maps)?.[1];
}

let libxlVersion: string | undefined;

/**
 * The Xen version ("4.17") of the libxl this process runs, which parses the configurations:
 * the version in the file name of the libxenlight.so the loaded addon links against (libxl's
 * soname carries it), read once from /proc/self/maps; else the hypervisor's (xl info).
 */
export function libxlXenVersion(ctx: NativeContext): string {
  if (libxlVersion) return libxlVersion;
  let maps = '';
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    // No /proc: the hypervisor's version below.
  }
  let version = libxlVersionFromMaps(maps);
  if (!version) {
    const v = JSON.parse(ctx.versionInfoJson()) as VersionInfo;
    version = `${v.xen_version_major}.${v.xen_version_minor}`;
  }
  return (libxlVersion = version);
}

/**
 * Directories the dynamic linker searches for the Xen libraries: `LD_LIBRARY_PATH`, Debian's
 * multiarch directory, Fedora's lib64, the plain and local ones.
 */
export function libraryDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string];
  const dirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (multiarch) dirs.push(`/usr/lib/${multiarch}`, `/lib/${multiarch}`);
  dirs.push('/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib');
  return [...new Set(dirs)];
}

/** The file names in the library directories (what loadError looks for other versions in). */
export function listLibraries(dirs: string[] = libraryDirs()): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    try {
      for (const name of fs.readdirSync(dir)) if (name.startsWith('libx')) names.add(name);
    } catch {
      // A directory that is not there.
    }
  }
  return [...names];
}

const REBUILD = 'npm rebuild xenlight --build-from-source (needs libxen-dev, g++, make, python3)';

/**
 * The XenError for an addon that would not load: a missing Xen library (ERR_NO_LIBXENLIGHT),
 * Xen libraries of another version than the addon was built for (ERR_XEN_ABI), or a broken or
 * missing build (ERR_ADDON_LOAD). `libraries` lists the installed library file names (injectable
 * for tests; default: the linker's directories).
 */
export function loadError(
  op: string,
  err: unknown,
  libraries: () => string[] = listLibraries,
  prebuilt: string[] = [],
): XenError {
  const msg = String((err as Error)?.message ?? err);
  const m = /\b(libxen\w*|libxlutil)\.so((?:\.\d+)*)/.exec(msg);
  if (m) {
    const [lib, base, dotted] = [m[0], m[1], m[2]];
    const wanted = dotted.slice(1);
    const missing = /cannot open shared object file|No such file or directory/.test(msg);
    if (missing && wanted) {
      // Other versions of the same library: libxenlight.so.4.19(.0) where 4.17 is wanted.
      const parts = wanted.split('.').length;
      const prefix = `${base}.so.`;
      const others = [
        ...new Set(
          libraries()
            .filter((name) => name.startsWith(prefix) && /^\d+(\.\d+)*$/.test(name.slice(prefix.length)))
            .map((name) => name.slice(prefix.length).split('.').slice(0, parts).join('.'))
            .filter((v) => v.split('.').length === parts && v !== wanted),
        ),
      ].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      if (others.length) {
        // libxl's own libraries carry the Xen version in their soname; the stable ones a number.
        const xenVersioned = /^\d+\.\d+$/.test(wanted);
        const what = xenVersioned
          ? `this xenlight was built for Xen ${wanted}; this host has ${others.map((v) => `Xen ${v}'s`).join(' and ')} ${base}`
          : `this xenlight was built against ${lib}; this host has ${others.map((v) => `${prefix}${v}`).join(' and ')}`;
        const shipped = prebuilt.length ? ` (this package's prebuilds are for Xen ${prebuilt.join(' and ')})` : '';
        return new XenError(`${op}: ${what}: rebuild from source: ${REBUILD}${shipped}`, { code: 'ERR_XEN_ABI', op, cause: err });
      }
    }
    const why = missing ? 'is not installed' : `could not be loaded (${msg.replace(/^.*?:\s*/, '')})`;
    return new XenError(
      `${op}: ${lib} ${why}. On Debian 12: apt-get install libxenmisc4.17 libxenstore4; on Debian 13: ` +
        'apt-get install libxenmisc4.20 libxenstore4 (or libxen-dev to build from source); on Fedora/RHEL: dnf install xen-libs.',
      { code: 'ERR_NO_LIBXENLIGHT', op, cause: err },
    );
  }
  // A library of the right name but another ABI: a symbol the addon links against is not there.
  const symbol = /undefined symbol: ((?:libxl|libxlu|xc|xs|xtl|xenstore)_\w+)/.exec(msg)?.[1];
  if (symbol) {
    return new XenError(
      `${op}: this host's Xen libraries lack ${symbol}, which this xenlight was built against ` +
        `(another Xen version): rebuild from source: ${REBUILD}`,
      { code: 'ERR_XEN_ABI', op, cause: err },
    );
  }
  return new XenError(`${op}: the xenlight addon could not be loaded: ${msg}. Rebuild it with \`${REBUILD}\`.`, {
    code: 'ERR_ADDON_LOAD',
    op,
    cause: err,
  });
}
