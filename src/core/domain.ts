// A handle on one domain.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import type { DomainHandle, HostContext } from './context';
import { DomainInfo, unpackDomainList } from './domain-info';
import { badNumber, checkSignal, errnoCode, fsError, invalidArg } from './errors';
import type { Trigger } from '../generated/libxl-types';
import type { Duplex, Writable } from 'node:stream';
import type { MemoryOptions, VcpuContext, VcpuRegisters } from '../debug/debug';
import type { GdbServer, GdbServerOptions } from '../debug/gdbstub';
import { encodeSaveHeader } from '../transfer/saveimage';
import { absorbErrors, isWritable, ProgressListener, withOutgoingStream, writeAll } from '../transfer/streams';
import type { MigrateOptions } from '../transfer/migrate';
import type { Disks, Nics, PciDevices, UsbDevices } from '../devices/devices';
/** Options of `domain.save()`. */
/**
 * Options of `domain.destroy()`. Its `signal` is checked when the call is made and once more just
 * before libxl starts; a destroy that has started runs to its end (libxl_ao_abort would leave a
 * domain with half its devices removed), and an abort then has no effect.
 */
export interface DestroyOptions {
  signal?: AbortSignal;
}

/** Options of `domain.waitFor()`: a timeout (ERR_TIMEOUT) and a signal (ERR_ABORTED). */
export interface WaitForOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Options of `domain.shutdown()`: with `wait`, it resolves once the guest has shut down. */
export interface ShutdownOptions extends WaitForOptions {
  wait?: boolean;
}

/** Options of `domain.console()`: which console, and how long to wait for its tty. */
export interface ConsoleOptions {
  type?: 'pv' | 'serial';
  index?: number;
  timeoutMs?: number;
}

/** Options of `domain.coreDump()`. */
export interface CoreDumpOptions {
  /** Stops the dump (ERR_ABORTED) and removes the file. */
  signal?: AbortSignal;
}

export interface SaveOptions {
  /** Resume the domain afterwards (`xl save -c`) instead of destroying it. */
  keepRunning?: boolean;
  /** For a stream: phase 'transfer' with the bytes written so far and the estimate. */
  onProgress?: ProgressListener;
  /** Aborts the save (libxl_ao_abort): rejects with ERR_ABORTED; the domain runs on. */
  signal?: AbortSignal;
}

// Loaded on first use: a command that lists domains should not pay for the xl.cfg machinery
// (devices parse specs with it) or the migration protocol. Under emulation that is ~0.3 s.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const devices = () => require('../devices/devices') as typeof import('../devices/devices');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const migration = () => require('../transfer/migrate') as typeof import('../transfer/migrate');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debug = () => require('../debug/debug') as typeof import('../debug/debug');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const gdbstub = () => require('../debug/gdbstub') as typeof import('../debug/gdbstub');
import { TriggerValues } from '../generated/libxl-types';
import type { NativeContext } from './native';
import { XenError } from './errors';
import type { CpuSpec } from '../sched/cpulist';
import {
  DomainSchedulerParams,
  getDomainSched,
  listVcpus,
  pinVcpu,
  SetSchedParams,
  setDomainSched,
  VcpuInfo,
} from '../sched/sched';
import type { DomainConfig } from '../generated/libxl-types';

/**
 * One domain, known by its UUID. A handle whose domain has gone never silently answers for a
 * later domain that reuses the domid; a guest restarted under a new domid with the same UUID (a
 * reboot with `on_reboot = "restart"`, by xenlight's lifecycle monitor or xl's) is followed:
 * the next call finds it and `id` becomes its new domid. A call rejects with
 * ERROR_DOMAIN_NOTFOUND once no domain has the UUID (also in the instant between a restart's
 * destroy and its create).
 */
export class Domain implements DomainHandle {
  /** @internal The Host's context this handle works through. */
  readonly ctx: HostContext;
  private domid: number;

  /** @internal Made by a Host, with that Host's context. */
  constructor(
    ctx: HostContext,
    id: number,
    readonly uuid: string,
  ) {
    this.ctx = ctx;
    this.domid = id;
  }

  /** The domain's domid: the one it had when last seen (it changes when the guest is restarted). */
  get id(): number {
    return this.domid;
  }

  /** Disks: `xl block-list/-attach/-detach`, `cd-insert/-eject`. */
  get disks(): Disks {
    return new (devices().Disks)(this);
  }

  /** Network interfaces: `xl network-list/-attach/-detach`. */
  get nics(): Nics {
    return new (devices().Nics)(this);
  }

  /** PCI passthrough: `xl pci-list/-attach/-detach`. */
  get pci(): PciDevices {
    return new (devices().PciDevices)(this);
  }

  /** USB controllers and devices: `xl usb-list`, `usbctrl-*`, `usbdev-*`. */
  get usb(): UsbDevices {
    return new (devices().UsbDevices)(this);
  }

  /** Current information (`xl list <domain>`). */
  async info(): Promise<DomainInfo> {
    const here = this.atDomid();
    if (here) return here;
    // Not under its domid any more: restarted under a new one (same UUID), or gone.
    const moved = (await this.ctx.listDomains()).find((d) => d.uuid === this.uuid);
    if (!moved) throw this.gone();
    this.domid = moved.domid;
    return moved;
  }

  /** The domain at the handle's domid, if it is still this one. */
  private atDomid(): DomainInfo | undefined {
    try {
      const [info] = unpackDomainList(this.ctx.native(`domain info of ${this.id}`).domainInfo(this.id));
      return info.uuid === this.uuid ? info : undefined;
    } catch (err) {
      if (err instanceof XenError && err.code === 'ERROR_DOMAIN_NOTFOUND') return undefined;
      throw err;
    }
  }

  /**
   * After a failed device add: if the domain went away meanwhile (it crashed, was destroyed),
   * waits until it is gone and removes the xenstore nodes the add wrote after the destroy had
   * walked its devices (libxl's destroy cannot know them; `xl` leaves them), after releasing
   * their disks' loop devices as the block script's remove would have. A domain still
   * running is left alone. @internal
   */
  async removeLeftoversIfGone(): Promise<void> {
    for (const deadline = Date.now() + 10_000; ;) {
      const ctx = this.ctx.native(`clean up after domain ${this.id}`);
      const now = unpackDomainList(ctx.listDomains()).find((d) => d.domid === this.id && d.uuid === this.uuid);
      if (!now) {
        releaseBlockBackends(ctx, this.id);
        ctx.removeStaleDomainPaths(this.id);
        return;
      }
      if ((!now.dying && !now.shutdown) || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The domain's name now (it changes with a rename). */
  async name(): Promise<string> {
    return (await this.info()).name ?? '';
  }

  /**
   * The domain's configuration as libxl stored and updated it: what `xl list -l` shows under
   * `config`, in libxl's own JSON shape.
   */
  async config(): Promise<DomainConfig> {
    const op = `configuration of domain ${this.id}`;
    const json = await this.ctx.track(op, (c) => c.domainConfigJson(this.id));
    const config = JSON.parse(json) as DomainConfig;
    if (config.c_info?.uuid !== undefined && config.c_info.uuid !== this.uuid) throw this.gone();
    return config;
  }

  /**
   * Destroys the domain at once (`xl destroy`): libxl tears down its devices, running the
   * hotplug scripts as children of this process, and the promise settles when it is gone.
   */
  async destroy(opts: DestroyOptions = {}): Promise<void> {
    const op = `destroy domain ${this.id}`;
    const signal = checkSignal(op, opts?.signal);
    await this.info();
    checkSignal(op, signal);
    await this.ctx.track(op, (ctx) => ctx.destroy(this.id));
  }

  /** Pauses every vCPU (`xl pause`). */
  async pause(): Promise<void> {
    await this.info();
    await this.ctx.track(`pause domain ${this.id}`, (ctx) => ctx.pause(this.id));
  }

  /** Lets a paused domain run again (`xl unpause`). */
  async unpause(): Promise<void> {
    await this.info();
    await this.ctx.track(`unpause domain ${this.id}`, (ctx) => ctx.unpause(this.id));
  }

  /**
   * Asks the guest to suspend itself to RAM and leaves it there (`xl suspend`, new in xl 4.20;
   * libxl has it on 4.17 too): it stays in memory, shut down with reason "suspend", until
   * resume(). Resolves once it has suspended; a guest that does not cooperate (no PV suspend
   * support) is a XenError from libxl after its timeout.
   */
  async suspend(): Promise<void> {
    await this.info();
    await this.ctx.track(`suspend domain ${this.id}`, (ctx) => ctx.suspendOnly(this.id));
  }

  /**
   * Brings a suspended domain back (`xl resume`: libxl_domain_resume, the guest told that its
   * suspend was cancelled, so it carries on with the same devices).
   */
  async resume(): Promise<void> {
    await this.info();
    await this.ctx.track(`resume domain ${this.id}`, (ctx) => ctx.resume(this.id));
  }

  /**
   * Asks the guest to shut down (`xl shutdown`): PV guests through xenstore, HVM guests with PV
   * drivers likewise. With `wait`, resolves once it has shut down (or is gone).
   */
  async shutdown(opts: ShutdownOptions = {}): Promise<void> {
    await this.info();
    const waiting = opts.wait ? this.waitFor('shutdown', opts) : undefined;
    try {
      await this.ctx.track(`shut down domain ${this.id}`, (ctx) => ctx.shutdown(this.id));
    } catch (err) {
      waiting?.catch(() => undefined);
      throw err;
    }
    await waiting;
  }

  /** Asks the guest to reboot (`xl reboot`). */
  async reboot(): Promise<void> {
    await this.info();
    await this.ctx.track(`reboot domain ${this.id}`, (ctx) => ctx.reboot(this.id));
  }

  /** `xl rename`. */
  async rename(name: string): Promise<void> {
    const op = `rename domain ${this.id}`;
    if (typeof name !== 'string' || name.length === 0 || name.length > 64 || name.includes('\0')) {
      throw invalidArg(op, 'a domain name is a non-empty string of at most 64 characters');
    }
    if (/^\d+$/.test(name)) throw invalidArg(op, 'a domain name cannot be all digits (it would read as a domid)');
    await this.info();
    if ((await this.ctx.listDomains()).some((d) => d.name === name && d.domid !== this.id)) {
      throw invalidArg(op, `a domain named ${JSON.stringify(name)} exists`);
    }
    this.ctx.native(op).rename(this.id, name);
  }

  /**
   * `xl mem-set`: the memory target the guest balloons to, in MiB. libxl refuses a target
   * above the domain's static maximum (its maxmem).
   */
  async setMemory(mib: number): Promise<void> {
    const op = `set memory of domain ${this.id}`;
    if (!Number.isInteger(mib) || mib < 1 || mib > 2 ** 40)
      throw badNumber(op, mib, 'memory is a whole number of MiB, at least 1');
    await this.info();
    this.ctx.native(op).setMemoryTarget(this.id, mib * 1024);
  }

  /** `xl mem-max`: the most memory the domain may have, in MiB. */
  async setMaxMemory(mib: number): Promise<void> {
    const op = `set maximum memory of domain ${this.id}`;
    await this.info();
    if (!Number.isInteger(mib) || mib < 1 || mib > 2 ** 40)
      throw badNumber(op, mib, 'memory is a whole number of MiB, at least 1');
    this.ctx.native(op).setMaxMemory(this.id, mib * 1024);
  }

  /** `xl vcpu-set`: vCPUs 0..count-1 online, the others offline (up to the domain's maximum). */
  async setVcpus(count: number): Promise<void> {
    const op = `set vCPUs of domain ${this.id}`;
    const info = await this.info();
    const max = info.vcpuMaxId + 1;
    if (!Number.isInteger(count) || count < 1 || count > max)
      throw badNumber(op, count, `count must be an integer from 1 to ${max}`);
    await this.ctx.track(op, (ctx) => ctx.setVcpusOnline(this.id, count));
  }

  /** `xl sysrq`: a magic SysRq key for the guest kernel. */
  async sendSysrq(key: string): Promise<void> {
    const op = `send sysrq to domain ${this.id}`;
    if (typeof key !== 'string' || !/^[\x21-\x7e]$/.test(key)) throw invalidArg(op, 'a sysrq key is one printable character');
    await this.info();
    this.ctx.native(op).sendSysrq(this.id, key);
  }

  /** `xl trigger`: power, sleep, nmi, init, reset, s3resume (to a vCPU; default 0). */
  async sendTrigger(trigger: Exclude<Trigger, 'unknown'>, vcpu = 0): Promise<void> {
    const op = `send trigger to domain ${this.id}`;
    if (!(trigger in TriggerValues) || trigger === ('unknown' as string)) {
      throw invalidArg(
        op,
        `trigger must be one of ${Object.keys(TriggerValues)
          .filter((t) => t !== 'unknown')
          .join(', ')}`,
      );
    }
    const info = await this.info();
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu > info.vcpuMaxId) throw badNumber(op, vcpu, 'no such vCPU');
    await this.ctx.track(op, (ctx) => ctx.sendTrigger(this.id, trigger, vcpu));
  }

  /**
   * `xl dump-core`: the guest's memory as an ELF core file. The file is created with mode 0600
   * (it holds everything the guest had in memory), and removed again if the dump fails or is
   * aborted (`signal`: ERR_ABORTED; the dump stops at its next chunk). The guest runs on.
   */
  async coreDump(file: string, opts: CoreDumpOptions = {}): Promise<void> {
    const op = `core dump of domain ${this.id}`;
    if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) throw invalidArg(op, 'file must be a path');
    const signal = checkSignal(op, opts?.signal);
    await this.info();
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
      fs.fchmodSync(fd, 0o600);
    } catch (err) {
      throw fsError(op, err);
    }
    let done = false;
    try {
      await this.ctx.trackAbortable(op, signal, (ctx, abortId) => ctx.coreDump(this.id, fd, abortId));
      done = true;
    } finally {
      fs.closeSync(fd);
      if (!done) fs.rmSync(file, { force: true }); // a partial core is no core
    }
  }

  /**
   * `xl save`: writes the domain's state in xl's image format, which `xl restore` and
   * `host.restoreDomain()` read, to a file (created with mode 0600) or to any Writable (which
   * is ended afterwards). The domain is then destroyed, as by xl, or with `keepRunning`
   * resumed (`xl save -c`). If saving fails or is aborted (`signal`: ERR_ABORTED), the domain
   * is resumed and a file target removed.
   */
  async save(target: string | Writable, opts: SaveOptions = {}): Promise<void> {
    const op = `save domain ${this.id}`;
    const toFile = typeof target === 'string';
    if (toFile ? target.length === 0 || target.includes('\0') : !isWritable(target)) {
      throw invalidArg(op, 'target must be a path or a Writable stream');
    }
    const signal = checkSignal(op, opts.signal);
    const estimateBytes = (await this.info()).memoryKiB * 1024;
    const configJson = await this.ctx.track(op, (c) => c.domainConfigJson(this.id));
    const after = opts.keepRunning ? 1 : 0;
    const onBytes = opts.onProgress && ((bytes: number) => opts.onProgress!({ phase: 'transfer', bytes, estimateBytes }));
    if (!toFile) {
      absorbErrors(target);
      await writeAll(target, encodeSaveHeader(configJson), op);
      await this.ctx.trackAbortable(op, signal, (c, abortId) =>
        withOutgoingStream(target, op, { end: true, onBytes }, (fd) => c.saveDomain(this.id, fd, after, 0, abortId)),
      );
      return;
    }
    let fd: number;
    try {
      fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    } catch (err) {
      throw fsError(op, err);
    }
    let saved = false;
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, encodeSaveHeader(configJson));
      await this.ctx.trackAbortable(op, signal, (ctx, abortId) => ctx.saveDomain(this.id, fd, after, 0, abortId));
      saved = true;
    } catch (err) {
      throw fsError(op, err);
    } finally {
      fs.closeSync(fd);
      // A half-written image (disk full, the guest gone) restores to nothing: not left behind
      // to look like a save. (O_TRUNC had already emptied what was there.)
      if (!saved) fs.rmSync(target, { force: true });
    }
  }

  /**
   * `xl console`: the guest's console as a Duplex stream in raw mode (bytes as the guest
   * writes them; what you write, the guest reads). `type` 'pv' is the PV console (hvc0 for
   * index 0), 'serial' an HVM guest's emulated serial port. Waits up to `timeoutMs` (default
   * 5000) for the console to appear, as a freshly created guest's may not have one yet.
   * Destroy the stream to detach.
   */
  async console(opts: ConsoleOptions = {}): Promise<Duplex> {
    const type = opts.type ?? 'pv';
    const index = opts.index ?? 0;
    const op = `${type} console ${index} of domain ${this.id}`;
    if (type !== 'pv' && type !== 'serial') throw invalidArg(op, "type is 'pv' or 'serial'");
    if (!Number.isInteger(index) || index < 0 || index > 255) throw badNumber(op, index, 'index is an integer from 0 to 255');
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    let ttyPath: string;
    for (;;) {
      await this.info();
      try {
        ttyPath = this.ctx.native(op).consoleTty(this.id, index, type);
        break;
      } catch (err) {
        // libxl says ERROR_FAIL until the console backend has published its pty.
        if (!(err instanceof XenError) || err.code !== 'ERROR_FAIL' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(ttyPath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new XenError(`${op}: opening ${ttyPath}: ${e.message}`, {
        code: errnoCode(e.code),
        op,
        errno: typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
        cause: err,
      });
    }
    const stream = new tty.ReadStream(fd);
    stream.setRawMode(true);
    return stream;
  }

  /**
   * Live migration (`xl migrate`) over any duplex stream whose other end runs
   * `host.receiveMigration()` or `xl migrate-receive`: xl's handshake, the domain's
   * configuration, then libxl's live stream. On success the domain here is destroyed; if
   * anything fails before the receiver takes over, it is resumed here.
   */
  async migrate(stream: Duplex, opts: MigrateOptions = {}): Promise<void> {
    await migration().migrateDomain(this, stream, opts);
  }

  /**
   * Resolves when the domain has shut down (for any reason) or is gone ('shutdown'), or only
   * once it is gone ('death'). Rejects on timeout or abort.
   */
  async waitFor(what: 'shutdown' | 'death', opts: WaitForOptions = {}): Promise<void> {
    const op = `wait for ${what} of domain ${this.id}`;
    if (what !== 'shutdown' && what !== 'death') throw invalidArg(op, "what is 'shutdown' or 'death'");
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => ac.abort(), opts.timeoutMs);
    const events = this.ctx.events({ domid: this.id, signal: ac.signal });
    try {
      // Already there? (Watches are set up by now, so nothing is missed in between.)
      const now = await this.ctx.listDomains().then((l) => l.find((d) => d.domid === this.id && d.uuid === this.uuid));
      if (!now || (what === 'shutdown' && now.shutdown)) return;
      for await (const ev of events) {
        if (ev.type === 'death' || what === 'shutdown') return;
      }
      throw new XenError(opts.signal?.aborted ? `${op}: aborted` : `${op}: timed out after ${opts.timeoutMs} ms`, {
        code: opts.signal?.aborted ? 'ERR_ABORTED' : 'ERR_TIMEOUT',
        op,
      });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      await events.return?.();
    }
  }

  /** Scheduler parameters under the scheduler of the domain's pool (`xl sched-*`). */
  async schedParams(): Promise<DomainSchedulerParams> {
    await this.info();
    return getDomainSched(this.ctx.native(`scheduler parameters of domain ${this.id}`), this.id);
  }

  /**
   * Sets weight/cap (credit, credit2) or period/budget/extratime of some or all vCPUs (RTDS).
   * Parameters of another scheduler are refused with ERR_INVALID_ARG.
   */
  async setSchedParams(params: SetSchedParams): Promise<void> {
    const info = await this.info();
    setDomainSched(this.ctx.native(`set scheduler parameters of domain ${this.id}`), this.id, info.vcpuMaxId + 1, params);
  }

  /** `xl vcpu-list`. */
  async vcpus(): Promise<VcpuInfo[]> {
    await this.info();
    return listVcpus(this.ctx.native(`vCPUs of domain ${this.id}`), this.id);
  }

  /**
   * `xl vcpu-pin`: hard and soft affinity of a vCPU or of all, as CPU lists in xl's syntax
   * ("0-1", "all", "node:0", "all,^1") or arrays; null leaves that affinity as it is.
   */
  async pinVcpu(vcpu: number | 'all', hard: CpuSpec | null, soft: CpuSpec | null = null): Promise<void> {
    const info = await this.info();
    pinVcpu(this.ctx.native(`pin vCPU of domain ${this.id}`), this.id, info.vcpuMaxId + 1, vcpu, hard, soft);
  }

  // ---- debugging (debug/debug.ts, debug/gdbstub.ts)

  /**
   * Registers of a vCPU (what `xenctx` prints), PV (64-bit) or HVM. Read while the guest
   * runs, they are a snapshot; pause it for values that hold.
   */
  async vcpuContext(vcpu = 0): Promise<VcpuContext> {
    return debug().vcpuContext(this, vcpu);
  }

  /** Sets some registers of a (paused) vCPU; the others keep their values. */
  async setVcpuRegisters(vcpu: number, registers: Partial<VcpuRegisters>): Promise<void> {
    return debug().setVcpuRegisters(this, vcpu, registers);
  }

  /**
   * Guest memory: by virtual address, translated through `vcpu`'s page tables (default), or by
   * guest-physical address (`virtual: false`, HVM guests). An address no page table maps
   * rejects with ERR_UNMAPPED. At most 1 MiB per call.
   */
  async readMemory(addr: bigint | number, length: number, opts: MemoryOptions = {}): Promise<Buffer> {
    return debug().readMemory(this, addr, length, opts);
  }

  /** Writes guest memory (as readMemory addresses it). */
  async writeMemory(addr: bigint | number, data: Uint8Array, opts: MemoryOptions = {}): Promise<void> {
    return debug().writeMemory(this, addr, data, opts);
  }

  /**
   * A gdb remote-protocol server for this guest (`target remote host:port` in gdb, with `set
   * architecture i386:x86-64`): vCPUs as threads, registers, memory, breakpoints, continue,
   * Ctrl-C. Single-step is refused (ERR_UNSUPPORTED: Xen without gdbsx has no way to report it).
   * Listens on 127.0.0.1 unless told otherwise.
   */
  async gdbServer(opts: GdbServerOptions = {}): Promise<GdbServer> {
    return gdbstub().GdbServer.listen(this, opts);
  }

  private gone(): XenError {
    return new XenError(`domain ${this.id} (${this.uuid}) no longer exists`, {
      code: 'ERROR_DOMAIN_NOTFOUND',
      op: `domain ${this.id}`,
    });
  }
}

/**
 * Does what the block hotplug script's remove does (`losetup -d` of the disk's loop device) for
 * each disk backend of a gone domain that a destroy never saw: a file-backed disk holds its
 * loop device until then. Only where the loop device still has the disk's file behind it: a
 * device another disk took since is not touched.
 */
function releaseBlockBackends(ctx: NativeContext, domid: number): void {
  const base = `/local/domain/0/backend/vbd/${domid}`;
  for (const devid of ctx.xenstoreDirectory(base)) {
    const path = `${base}/${devid}`;
    const node = ctx.xenstoreRead(`${path}/node`);
    const params = ctx.xenstoreRead(`${path}/params`);
    if (!node || !params || !/^\/dev\/loop\d+$/.test(node)) continue;
    let same = false;
    try {
      same = fs.readFileSync(`/sys/block/${node.slice(5)}/loop/backing_file`, 'utf8').trim() === fs.realpathSync.native(params);
    } catch {
      /* no longer a loop device, or the file is gone */
    }
    if (same) {
      try {
        ctx.loopDetach(node);
      } catch {
        /* released meanwhile */
      }
    }
  }
}
