// The Xen host: one libxl context, host queries, domain lookup, events, lifetime.
import * as os from 'node:os';
import { Domain } from './domain';
import { DomainInfo, DomainTarget, stateString, unpackDomainList } from './domain-info';
import type { HostContext } from './context';
import { abortedError, badNumber, checkSignal, closedError, fsError, invalidArg, outOfRange, XenError } from './errors';
import { EventHub, DomainEvent, EventsOptions } from './events';
import { DomainInformer, DomainInformerOptions, newDomainInformer } from './informer';
import { libxlXenVersion, loadNative, NativeContext } from './native';
import { traceNative } from './tracing';
import type { DomainConfig, Physinfo, VersionInfo } from '../generated/libxl-types';
import { checkConfigVersion, checkDomainConfig } from './domain-config';
import type { Duplex, Readable } from 'node:stream';
import {
  FIXED_HEADER_LENGTH,
  parseFixedHeader,
  parseImageConfig,
  parseOptionalData,
  readSaveHeader,
} from '../transfer/saveimage';
import { absorbErrors, isReadable, ProgressListener, readExact, withIncomingStream } from '../transfer/streams';
import type { ReceiveOptions } from '../transfer/migrate';
import { LifecycleListener, MonitorHost, MonitorOptions, monitorDomain } from './lifecycle';
import type { HostPci, HostUsb } from '../devices/devices';
// Loaded on first use (see domain.ts): xl.cfg parsing, devices and migration.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const devices = () => require('../devices/devices') as typeof import('../devices/devices');

export type { MonitorOptions } from './lifecycle';

/** Options of `host.close()`: `abort` aborts what is in flight instead of waiting for it. */
export interface CloseOptions {
  abort?: boolean;
}

/** Options of `host.monitor()`. */
export interface HostMonitorOptions {
  onLifecycle?: LifecycleListener;
  /** Stops monitoring (the guest is left as it is). */
  signal?: AbortSignal;
}

export interface CreateOptions extends MonitorOptions {
  /** Leave the new domain paused (xl create -p). */
  paused?: boolean;
  /** Abort the build: no domain is left behind. */
  signal?: AbortSignal;
  /** Phases 'build', 'built' (with domid), 'running'. */
  onProgress?: ProgressListener;
  /** For xl.cfg text: the file name its messages name. */
  path?: string;
  /** For xl.cfg text: receives each warning (default: process.emitWarning). */
  onWarning?: (warning: string) => void;
}

let nextAbortId = 1;

export interface RestoreOptions extends MonitorOptions {
  /** Leave the restored domain paused. */
  paused?: boolean;
  /** Use this configuration instead of the one stored in the image. */
  config?: DomainConfig;
  /** For a stream: phase 'transfer' with the bytes read so far. */
  onProgress?: ProgressListener;
  /**
   * Aborts the restore (libxl_ao_abort): rejects with ERR_ABORTED and the half-restored domain
   * is destroyed, as after a failed restore.
   */
  signal?: AbortSignal;
}
import * as fs from 'node:fs';
import { cpuLayout, newCpuPools, topology, Topology } from '../sched/sched';
import {
  Claims,
  claimsFrom,
  dmesg,
  DmesgOptions,
  DmesgReader,
  DmesgReaderOptions,
  newCmt,
  newDmesgReader,
  newTmem,
} from '../monitor/hostdiag';
import { newStats } from '../monitor/stats';

/** What `xl info` shows, with xl's key names and units (memory in MiB). */
/**
 * `xl info`, in the package's names (camelCase, the unit in the name); `XL_INFO_NAMES` maps
 * each of xl's keys to its field, in xl's order.
 */
export interface HostInfo extends DeprecatedHostInfoNames {
  hostname: string;
  release: string;
  version: string;
  machine: string;
  cpus: number;
  maxCpuId: number;
  nodes: number;
  coresPerSocket: number;
  threadsPerCore: number;
  /** As xl prints it: "2299.998". */
  cpuMHz: string;
  /** As xl prints it: eight 32-bit words in hex, colon-separated. */
  hwCaps: string;
  virtCaps: string[];
  totalMemoryMiB: number;
  /** Free memory less outstanding claims, as xl prints free_memory. */
  freeMemoryMiB: number;
  sharingFreedMemoryMiB: number;
  sharingUsedMemoryMiB: number;
  /** Memory claimed by domains but not yet allocated. */
  outstandingClaimsMiB: number;
  freeCpus: number;
  xenMajor: number;
  xenMinor: number;
  xenExtra: string;
  xenVersion: string;
  xenCaps: string;
  xenScheduler: string;
  xenPageSizeBytes: number;
  platformParams: string;
  xenChangeset: string;
  xenCommandline: string;
  ccCompiler: string;
  ccCompileBy: string;
  ccCompileDomain: string;
  ccCompileDate: string;
  buildId: string;
  xendConfigFormat: number;
  /** libxl's full records, for what xl does not print. */
  physinfo: Physinfo;
  versionInfo: VersionInfo;
}

/** The `xl info` key names HostInfo had before 1.0, kept as read-only aliases for one minor version. */
export type DeprecatedHostInfoNames = {
  /** @deprecated Use the camelCase name in `XL_INFO_NAMES`. */
  readonly [
    K in keyof typeof XL_INFO_NAMES as K extends (typeof XL_INFO_NAMES)[K] ? never : K
  ]: HostInfo[(typeof XL_INFO_NAMES)[K]];
};

/** Each key `xl info` prints, in xl's order (output_nodeinfo, output_physinfo, output_xeninfo), and its HostInfo field. */
export const XL_INFO_NAMES = {
  host: 'hostname',
  release: 'release',
  version: 'version',
  machine: 'machine',
  nr_cpus: 'cpus',
  max_cpu_id: 'maxCpuId',
  nr_nodes: 'nodes',
  cores_per_socket: 'coresPerSocket',
  threads_per_core: 'threadsPerCore',
  cpu_mhz: 'cpuMHz',
  hw_caps: 'hwCaps',
  virt_caps: 'virtCaps',
  total_memory: 'totalMemoryMiB',
  free_memory: 'freeMemoryMiB',
  sharing_freed_memory: 'sharingFreedMemoryMiB',
  sharing_used_memory: 'sharingUsedMemoryMiB',
  outstanding_claims: 'outstandingClaimsMiB',
  free_cpus: 'freeCpus',
  xen_major: 'xenMajor',
  xen_minor: 'xenMinor',
  xen_extra: 'xenExtra',
  xen_version: 'xenVersion',
  xen_caps: 'xenCaps',
  xen_scheduler: 'xenScheduler',
  xen_pagesize: 'xenPageSizeBytes',
  platform_params: 'platformParams',
  xen_changeset: 'xenChangeset',
  xen_commandline: 'xenCommandline',
  cc_compiler: 'ccCompiler',
  cc_compile_by: 'ccCompileBy',
  cc_compile_domain: 'ccCompileDomain',
  cc_compile_date: 'ccCompileDate',
  build_id: 'buildId',
  xend_config_format: 'xendConfigFormat',
} as const;

// HostInfo's prototype: xl's key names as getters of the new fields.
const HOST_INFO_ALIASES: object = Object.create(
  Object.prototype,
  Object.fromEntries(
    Object.entries(XL_INFO_NAMES)
      .filter(([old, now]) => old !== now)
      .map(([old, now]) => [
        old,
        {
          get(this: Record<string, unknown>) {
            return this[now];
          },
          enumerable: false,
        },
      ]),
  ),
);

export type LogLevel = 'debug' | 'verbose' | 'detail' | 'progress' | 'info' | 'notice' | 'warn' | 'error' | 'critical';
const LOG_LEVELS: LogLevel[] = ['debug', 'verbose', 'detail', 'progress', 'info', 'notice', 'warn', 'error', 'critical'];

export interface HostOptions {
  /** Lowest libxl log level kept for error details (default 'detail'). */
  logLevel?: LogLevel;
}

const MAX_DOMID = 0x7fef; // DOMID_FIRST_RESERVED - 1
/** A UUID as libxl prints it (lowercase) or in capitals. */
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class Host implements AsyncDisposable {
  private ctx?: NativeContext;
  private hub: EventHub;
  private readonly informers = new Set<DomainInformer>();
  private readonly monitors = new AbortController();
  /** CPU pools: list, create, destroy, rename, add/remove CPUs, move domains, pool parameters. */
  readonly cpupools = newCpuPools(
    (op) => this.native(op),
    async (d) => (typeof d === 'number' ? d : (await this.domain(d)).id),
  );
  private hostPci?: HostPci;
  private hostUsb?: HostUsb;

  /** PCI passthrough on this host: `xl pci-assignable-*`. */
  get pci(): HostPci {
    return (this.hostPci ??= devices().newHostPci((op) => this.native(op)));
  }
  /** USB devices of this host, to pass through to guests. */
  get usb(): HostUsb {
    return (this.hostUsb ??= new (devices().HostUsb)());
  }
  private inflight = new Set<Promise<unknown>>();
  /** Aborts of builds in flight, which close() calls. */
  private cancelOnClose = new Set<() => void>();
  /** Aborts of the abortable operations in flight, which close({ abort: true }) calls. */
  private abortOnClose = new Set<() => void>();
  private abortedByClose = false;
  private closing?: Promise<void>;
  /** Things made from this Host that close() ends first (gdb servers), while calls still run. */
  private owned = new Set<() => Promise<void>>();
  private endingOwned = false;

  private constructor(ctx: NativeContext) {
    this.ctx = ctx;
    this.hub = new EventHub(ctx, () => unpackDomainList(this.native('events').listDomains()));
    ctx.setEventHandler((kind, payload) => this.onNative(kind, payload));
  }

  /** Every notification of the native context: libxl's events, xenstore's announcements. */
  private onNative(kind: string, payload: string): void {
    this.hub.onNative(kind, payload);
    for (const informer of this.informers) informer.onNative(kind, payload);
  }

  /** Opens a libxl context on this dom0. Rejects with a XenError that says what is missing. */
  static async open(opts: HostOptions = {}): Promise<Host> {
    if (opts.logLevel !== undefined && !LOG_LEVELS.includes(opts.logLevel)) {
      throw invalidArg('open', `logLevel must be one of ${LOG_LEVELS.join(', ')}`);
    }
    const addon = loadNative('open');
    const ctx = new addon.Context();
    const logLevel = opts.logLevel ? LOG_LEVELS.indexOf(opts.logLevel) + 1 : 0;
    if (logLevel) ctx.setLogLevel(logLevel);
    const host = new Host(ctx);
    host.logLevel = logLevel;
    return host;
  }

  /** The native context, or ERR_CLOSED. */
  private native(op: string): NativeContext {
    if (!this.ctx || (this.closing && !this.endingOwned))
      throw new XenError(`${op}: the host is closed`, { code: 'ERR_CLOSED', op });
    if (this.ctx.xenstoreLost()) this.reconnect(op);
    return traceNative(this.ctx, op);
  }

  private logLevel = 0;

  /**
   * xenstored went away (killed or restarted) under this Host: libxenstore never reconnects, and
   * libxl's context holds such a connection, so a new native context replaces the old one — once
   * no operation runs on the old one, and xenstored answers again. Until then every call rejects
   * with ERR_XENSTORE_LOST. Death watches and disk-eject watches are made again on the new one.
   */
  private reconnect(op: string): void {
    const old = this.ctx!;
    const lost = (why: string, cause?: unknown) =>
      new XenError(`${op}: the xenstore connection is lost (xenstored stopped or restarted); ${why}`, {
        code: 'ERR_XENSTORE_LOST',
        op,
        cause,
      });
    const busy = Math.max(this.inflight.size, old.inFlight());
    if (busy > 0) throw lost(`a new connection is made once the ${busy} operation(s) in flight settle`);
    let ctx: NativeContext;
    try {
      ctx = new (loadNative(op).Context)();
    } catch (err) {
      throw lost(`no new context yet (${(err as Error).message})`, err);
    }
    if (this.logLevel) ctx.setLogLevel(this.logLevel);
    this.stats._release(old);
    old.close();
    this.ctx = ctx;
    ctx.setEventHandler((kind, payload) => this.onNative(kind, payload));
    this.hub.rebind(ctx);
    for (const informer of this.informers) informer.rebind(ctx);
  }

  get closed(): boolean {
    return !this.ctx;
  }

  /** What feature modules and Domain handles use of this Host (core/context.ts). */
  private readonly context: HostContext = ((host: Host): HostContext => ({
    native: (op) => host.native(op),
    track: (op, start) => host.track(op, start),
    trackAbortable: (op, signal, start) => host.trackAbortable(op, signal, start),
    own: (close) => host.own(close),
    get closed() {
      return host.closed;
    },
    get closing() {
      return host.closing !== undefined;
    },
    events: (opts) => host.events(opts),
    listDomains: () => host.listDomains(),
  }))(this);

  /** What the lifecycle monitor uses of this Host. */
  private readonly monitorHost: MonitorHost = {
    ctx: this.context,
    domain: (domid) => this.domain(domid),
    create: (config) => this.createDomain(config, { monitor: false }),
  };

  /** A handle on a domain this Host has found or made. */
  private handle(info: { domid: number; uuid: string }): Domain {
    return new Domain(this.context, info.domid, info.uuid);
  }

  /** Starts a native asynchronous operation that close() waits for. */
  private track<T>(op: string, start: (ctx: NativeContext) => Promise<T>): Promise<T> {
    const p = start(this.native(op));
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.add(settled);
    void settled.then(() => this.inflight.delete(settled));
    return p;
  }

  /**
   * A libxl asynchronous operation on this context that `signal` can abort (libxl_ao_abort:
   * libxl finishes it early and undoes what it had done). Rejects with ERR_ABORTED when aborted.
   */
  private async trackAbortable<T>(
    op: string,
    signal: AbortSignal | undefined,
    start: (ctx: NativeContext, abortId: number) => Promise<T>,
  ): Promise<T> {
    checkSignal(op, signal);
    const abortId = nextAbortId++;
    const onAbort = () => this.ctx?.abortAo(abortId);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.abortOnClose.add(onAbort);
    try {
      return await this.track(op, (c) => start(c, abortId));
    } catch (err) {
      if (signal?.aborted) throw abortedError(op, err);
      if (this.abortedByClose) throw abortedError(op, err, 'aborted by close({ abort: true })');
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.abortOnClose.delete(onAbort);
    }
  }

  /** `xl info`. */
  async info(): Promise<HostInfo> {
    const ctx = this.native('host info');
    const { json, hw_cap } = ctx.physinfoJson();
    const p = JSON.parse(json) as Physinfo;
    const v = JSON.parse(ctx.versionInfoJson()) as VersionInfo;
    const scheduler = ctx.scheduler();
    const freeCpus = ctx.freeCpus();
    const pagesPerMiB = (1 << 20) / (v.pagesize ?? 4096);
    const mib = (pages = 0) => Math.floor(pages / pagesPerMiB);
    const khz = p.cpu_khz ?? 0;
    const caps: [boolean | undefined, string][] = [
      [p.cap_pv, 'pv'],
      [p.cap_hvm, 'hvm'],
      [p.cap_hvm && p.cap_hvm_directio, 'hvm_directio'],
      [p.cap_pv && p.cap_hvm_directio, 'pv_directio'],
      [p.cap_hap, 'hap'],
      [p.cap_shadow, 'shadow'],
      [p.cap_iommu_hap_pt_share, 'iommu_hap_pt_share'],
      [p.cap_vmtrace, 'vmtrace'],
      [p.cap_vpmu, 'vpmu'],
      [p.cap_gnttab_v1, 'gnttab-v1'],
      [p.cap_gnttab_v2, 'gnttab-v2'],
    ];
    const extra = v.xen_version_extra ?? '';
    const info: Omit<HostInfo, keyof DeprecatedHostInfoNames> = {
      hostname: os.hostname(),
      release: os.release(),
      version: os.version(),
      machine: os.machine(),
      cpus: p.nr_cpus ?? 0,
      maxCpuId: p.max_cpu_id ?? 0,
      nodes: p.nr_nodes ?? 0,
      coresPerSocket: p.cores_per_socket ?? 0,
      threadsPerCore: p.threads_per_core ?? 0,
      cpuMHz: `${Math.floor(khz / 1000)}.${String(khz % 1000).padStart(3, '0')}`,
      hwCaps: hw_cap.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join(':'),
      virtCaps: caps.filter(([on]) => on).map(([, name]) => name),
      totalMemoryMiB: mib(p.total_pages),
      freeMemoryMiB: mib((p.free_pages ?? 0) - (p.outstanding_pages ?? 0)),
      sharingFreedMemoryMiB: mib(p.sharing_freed_pages),
      sharingUsedMemoryMiB: mib(p.sharing_used_frames),
      outstandingClaimsMiB: mib(p.outstanding_pages),
      freeCpus: freeCpus.length,
      xenMajor: v.xen_version_major ?? 0,
      xenMinor: v.xen_version_minor ?? 0,
      xenExtra: extra,
      xenVersion: `${v.xen_version_major}.${v.xen_version_minor}${extra}`,
      xenCaps: v.capabilities ?? '',
      xenScheduler: scheduler,
      xenPageSizeBytes: v.pagesize ?? 0,
      platformParams: `virt_start=0x${BigInt(v.virt_start ?? 0).toString(16)}`,
      xenChangeset: v.changeset ?? '',
      xenCommandline: v.commandline ?? '',
      ccCompiler: v.compiler ?? '',
      ccCompileBy: v.compile_by ?? '',
      ccCompileDomain: v.compile_domain ?? '',
      ccCompileDate: v.compile_date ?? '',
      buildId: v.build_id ?? '',
      xendConfigFormat: 4,
      physinfo: p,
      versionInfo: v,
    };
    return Object.setPrototypeOf(info, HOST_INFO_ALIASES) as HostInfo;
  }

  /** `xl info -n`: CPUs with core, socket and node; NUMA nodes with memory and distances. */
  async topology(): Promise<Topology> {
    return topology(this.native('topology'));
  }

  /** Every domain, dom0 included (`xl list`). Names come from a cache kept exact by xenstore watches. */
  async listDomains(): Promise<DomainInfo[]> {
    return unpackDomainList(this.native('list domains').listDomains());
  }

  /**
   * A handle on a domain, by domid, by name or by UUID (`{ uuid }`, which stays the same across a
   * restart, a save and restore, and a migration). Rejects with ERROR_DOMAIN_NOTFOUND if there is none.
   * Given a Domain, returns it.
   */
  async domain(idOrName: DomainTarget): Promise<Domain> {
    if (idOrName instanceof Domain) return idOrName;
    const op = `find domain ${JSON.stringify(idOrName)}`;
    const ctx = this.native(op);
    if (typeof idOrName === 'object' && idOrName !== null && 'uuid' in idOrName) {
      const uuid = idOrName.uuid;
      if (typeof uuid !== 'string' || !UUID.test(uuid)) {
        throw invalidArg(op, 'a UUID is 32 hex digits as 8-4-4-4-12, e.g. 5e0a1c2d-0000-4000-8000-000000000003');
      }
      const found = unpackDomainList(ctx.listDomains()).find((d) => d.uuid === uuid.toLowerCase());
      if (!found) throw new XenError(`${op}: no domain has UUID ${uuid}`, { code: 'ERROR_DOMAIN_NOTFOUND', op });
      return this.handle(found);
    }
    if (typeof idOrName === 'number') {
      if (!Number.isInteger(idOrName) || idOrName < 0 || idOrName > MAX_DOMID) {
        throw outOfRange(op, `a domid is an integer from 0 to ${MAX_DOMID}`);
      }
      const [info] = unpackDomainList(ctx.domainInfo(idOrName));
      return this.handle(info);
    }
    if (typeof idOrName !== 'string' || idOrName.length === 0 || idOrName.includes('\0')) {
      throw invalidArg(op, 'a domain is named by a non-empty string or a domid number');
    }
    const found = unpackDomainList(ctx.listDomains()).find((d) => d.name === idOrName);
    if (!found) {
      throw new XenError(`${op}: no domain is named ${JSON.stringify(idOrName)}`, { code: 'ERROR_DOMAIN_NOTFOUND', op });
    }
    return this.handle(found);
  }

  /**
   * Creates and starts a domain from a configuration in libxl's JSON shape (what `xl -N create`
   * prints), or from xl.cfg text (parsed with parseXlConfig for this host: its CPUs, and the xl of its
   * Xen version, 4.17's or 4.20's; its warnings go to
   * opts.onWarning, else process.emitWarning). The build runs on a worker thread with its own
   * libxl context, so Node's event loop stays free; a failed create leaves no domain behind.
   * With `signal`, an abort cuts the build short (libxl_ao_abort) and the promise rejects with
   * ERR_ABORTED, leaving no domain, even if libxl had finished by then. Progress phases:
   * 'build', 'built' (with the domid), 'running' (unless paused).
   */
  async createDomain(config: DomainConfig | string, opts: CreateOptions = {}): Promise<Domain> {
    if (typeof config === 'string') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { parseXlConfig, xlVersionOf } = require('../xlcfg/parse-config') as typeof import('../xlcfg/parse-config');
      const hostCtx = this.native('create domain');
      const v = JSON.parse(hostCtx.versionInfoJson()) as VersionInfo;
      const parsed = parseXlConfig(config, {
        path: opts.path,
        cpuLayout: cpuLayout(hostCtx),
        xen: xlVersionOf(v.xen_version_major ?? 0, v.xen_version_minor ?? 0),
      });
      for (const w of parsed.warnings) (opts.onWarning ?? ((m: string) => process.emitWarning(m, 'XlConfigWarning')))(w);
      config = parsed.config;
    }
    const name = (config as DomainConfig | undefined)?.c_info?.name;
    const op = `create domain ${JSON.stringify(name ?? '')}`;
    checkDomainConfig(config, op);
    if (opts.paused !== undefined && typeof opts.paused !== 'boolean') throw invalidArg(op, 'paused must be a boolean');
    checkSignal(op, opts.signal);
    const ctx = this.native(op);
    checkConfigVersion(config, libxlXenVersion(ctx), op);
    if (unpackDomainList(ctx.listDomains()).some((d) => d.name === name)) {
      throw invalidArg(op, `a domain named ${JSON.stringify(name)} exists`);
    }
    // The whole create, clean-up included, is one operation that close() waits for; close()
    // aborts the build (a closing Host could not monitor the guest), so it ends in ERR_CLOSED
    // with no domain left, or had already finished.
    return this.track(op, (c) => this.buildDomain(c, op, config as DomainConfig, name, opts));
  }

  private async buildDomain(
    ctx: NativeContext,
    op: string,
    config: DomainConfig,
    name: string | undefined,
    opts: CreateOptions,
  ): Promise<Domain> {
    const progress = opts.onProgress ?? (() => undefined);
    const abortId = nextAbortId++;
    const onAbort = () => ctx.abortWorkerOp(abortId);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.cancelOnClose.add(onAbort);
    progress({ phase: 'build' });
    let domid: number;
    try {
      // Built paused; unpaused below, after a last look at the signal.
      domid = await ctx.createDomain(JSON.stringify(config), true, abortId);
    } catch (err) {
      // libxl destroys what it built when a create fails, but an aborted create may be left
      // half-done: the name was free before, so a domain holding it now is ours to remove.
      const left = unpackDomainList(ctx.listDomains()).find((d) => d.name === name);
      if (left) await ctx.destroy(left.domid).catch(() => undefined);
      // Destroyed from outside during the build, libxl goes on writing the domain's xenstore
      // nodes after the destroy removed them: those are ours to remove too.
      const built = (err as { domid?: unknown }).domid;
      if (typeof built === 'number' && built > 0) ctx.removeStaleDomainPaths(built);
      if (this.closing) throw closedError(op, err);
      if (opts.signal?.aborted) throw abortedError(op, err);
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.cancelOnClose.delete(onAbort);
    }
    progress({ phase: 'built', domid });
    if (opts.signal?.aborted || this.closing) {
      await ctx.destroy(domid);
      throw this.closing ? closedError(op) : abortedError(op);
    }
    const [info] = unpackDomainList(ctx.domainInfo(domid));
    const dom = this.handle(info);
    this.startMonitor(dom, opts);
    if (!opts.paused) {
      try {
        await ctx.unpause(domid);
      } catch (err) {
        await ctx.destroy(domid).catch(() => undefined);
        throw err;
      }
      progress({ phase: 'running', domid });
    }
    return dom;
  }

  /**
   * `xl restore`: a domain from an image written by `domain.save()` or `xl save`, read from a
   * file or from any Readable, with the configuration stored in the image (or `config`
   * instead). Unpaused unless `paused`.
   */
  async restoreDomain(source: string | Readable, opts: RestoreOptions = {}): Promise<Domain> {
    const fromFile = typeof source === 'string';
    const op = fromFile ? `restore domain from ${JSON.stringify(source)}` : 'restore domain from a stream';
    if (fromFile ? source.length === 0 || source.includes('\0') : !isReadable(source)) {
      throw invalidArg(op, 'source must be a path or a Readable stream');
    }
    // One operation for close() to wait for, the steps after libxl's restore included.
    return this.track(op, (ctx) => this.restoreWith(ctx, op, source, opts));
  }

  private async restoreWith(ctx: NativeContext, op: string, source: string | Readable, opts: RestoreOptions): Promise<Domain> {
    const fromFile = typeof source === 'string';
    const paused = opts.paused ?? false;
    const signal = opts.signal;
    checkSignal(op, signal);
    /** libxl's restore, which the signal aborts. */
    const restore = (json: string, fd: number) =>
      this.trackAbortable(op, signal, (c, abortId) => c.restoreDomain(json, fd, paused, abortId));
    const configFor = async (stored: string) => {
      const config = opts.config ? checkDomainConfig(opts.config, op) : checkDomainConfig(parseImageConfig(stored, op), op);
      checkConfigVersion(config, libxlXenVersion(ctx), op);
      const name = config.c_info?.name;
      if (unpackDomainList(ctx.listDomains()).some((d) => d.name === name)) {
        throw invalidArg(op, `a domain named ${JSON.stringify(name)} exists`);
      }
      return JSON.stringify(config);
    };
    let domid: number;
    if (!fromFile) {
      absorbErrors(source);
      const optLen = parseFixedHeader(await readExact(source, FIXED_HEADER_LENGTH, op, 'the image header'), op);
      const json = await configFor(parseOptionalData(await readExact(source, optLen, op, 'the domain configuration'), op));
      const onBytes = opts.onProgress && ((bytes: number) => opts.onProgress!({ phase: 'transfer', bytes }));
      domid = await withIncomingStream(source, op, { onBytes }, (fd) => restore(json, fd));
    } else {
      let fd: number;
      try {
        fd = fs.openSync(source, 'r');
      } catch (err) {
        throw fsError(op, err);
      }
      try {
        const json = await configFor(readSaveHeader(fd, op));
        domid = await restore(json, fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    if (this.closing || signal?.aborted) {
      // The image is still there to restore from; a guest no open Host watches is not. An
      // abort that came as libxl finished: undone, as libxl undoes an earlier one.
      await ctx.destroy(domid);
      throw this.closing ? closedError(op) : abortedError(op);
    }
    const [info] = unpackDomainList(ctx.domainInfo(domid));
    const dom = this.handle(info);
    this.startMonitor(dom, opts);
    return dom;
  }

  /** Starts the lifecycle monitor for a guest this host started. */
  private startMonitor(dom: Domain, opts: MonitorOptions): void {
    if (opts.monitor === false) return;
    void monitorDomain(this.monitorHost, dom.id, opts.onLifecycle ?? (() => undefined), this.monitors.signal);
  }

  /**
   * Applies a running guest's on_poweroff/on_reboot/on_crash/on_watchdog actions from now on,
   * as xl's background monitor does, for a domain this Host did not start (one made by
   * `xl create -e`, or by a process that has exited: `xenlight create` hands its guests to a
   * monitor process this way). Follows restarts; resolves once the guest is gone for good, the
   * signal aborts or the Host closes. Like the monitor of createDomain, it does not keep Node's
   * event loop alive by itself.
   */
  async monitor(domain: DomainTarget, opts: HostMonitorOptions = {}): Promise<void> {
    const dom = await this.domain(domain);
    await dom.info();
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.monitors.signal]) : this.monitors.signal;
    await monitorDomain(this.monitorHost, dom.id, opts.onLifecycle ?? (() => undefined), signal);
  }

  /**
   * `xl migrate-receive`: receives a domain over a duplex stream from `domain.migrate()` or
   * `xl migrate` and starts it (paused if asked). The stream is ended when the handshake is
   * over.
   */
  async receiveMigration(stream: Duplex, opts: ReceiveOptions = {}): Promise<Domain> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../transfer/migrate') as typeof import('../transfer/migrate')).receiveMigration(
      this.context,
      (info) => {
        const dom = this.handle(info);
        this.startMonitor(dom, opts);
        return dom;
      },
      stream,
      opts,
    );
  }

  /**
   * Domain events (shutdown with its reason, death), each with the domain's domid, UUID and
   * name, as an async iterator; filtered by `domid`, `uuid` (which follows a guest restarted
   * under a new domid) or `name`. Watches are set up before this returns; end it with `break`,
   * `return()` or the signal.
   */
  events(opts: EventsOptions = {}): AsyncIterableIterator<DomainEvent> {
    this.native('events');
    if (opts.domid !== undefined && (!Number.isInteger(opts.domid) || opts.domid < 0 || opts.domid > MAX_DOMID)) {
      throw badNumber('events', opts.domid, `domid must be an integer from 0 to ${MAX_DOMID}`);
    }
    if (opts.uuid !== undefined && (typeof opts.uuid !== 'string' || !UUID.test(opts.uuid))) {
      throw invalidArg('events', 'uuid must be a UUID (8-4-4-4-12 hex digits)');
    }
    if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name.length === 0)) {
      throw invalidArg('events', 'name must be a non-empty string');
    }
    if (opts.diskEjects !== undefined) {
      if (opts.domid === undefined) throw invalidArg('events', 'diskEjects needs a domid');
      if (!Array.isArray(opts.diskEjects) || !opts.diskEjects.every((v) => typeof v === 'string' && /^[a-z0-9]+$/.test(v))) {
        throw invalidArg('events', 'diskEjects is a list of vdevs such as "hdc"');
      }
    }
    return this.hub.subscribe(opts);
  }

  /**
   * An informer: a live map of this host's domains by UUID, with `added`, `changed` (state,
   * memory, vCPUs), `renamed`, `restarted` and `removed` events, driven by xenstore watches.
   * Resolves once the map holds the domains there are. Close it with `close()` or the signal;
   * closing the Host closes it.
   */
  async watchDomains(opts: DomainInformerOptions = {}): Promise<DomainInformer> {
    const op = 'watch domains';
    this.native(op);
    for (const key of ['resyncMs', 'restartGraceMs'] as const) {
      const v = opts[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1))
        throw badNumber(op, v, `${key} is a whole number of milliseconds from 0 to 2^31-1`);
    }
    const informer: DomainInformer = newDomainInformer(
      { native: (o) => this.native(o), listDomains: () => this.listDomains() },
      opts,
      () => this.informers.delete(informer),
    );
    this.informers.add(informer);
    try {
      return await informer.start();
    } catch (err) {
      informer.close();
      throw err;
    }
  }

  /** The last libxl log lines of this context (for diagnostics). */
  recentLog(): string[] {
    return this.ctx?.recentLog() ?? [];
  }

  /** Registers something close() must end first; returns its unregistration. */
  private own(close: () => Promise<void>): () => void {
    this.owned.add(close);
    return () => this.owned.delete(close);
  }

  /**
   * Frees the libxl context once the operations in flight have settled. New calls reject with
   * ERR_CLOSED at once; event iterators end. Gdb servers of this Host's domains are closed
   * first: their sessions put the guests back as gdb found them (breakpoints out, running),
   * which needs the context, so calls made while they do that still run. With `abort`, the
   * libxl operations in flight that take a `signal` (create, save, restore, a migration's
   * transfer, device attach and detach) are aborted first, as by their signals: they reject
   * with ERR_ABORTED and leave nothing half-made, so closing does not wait for a long one.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    if (opts.abort !== undefined && typeof opts.abort !== 'boolean') {
      return Promise.reject(invalidArg('close', 'abort must be a boolean'));
    }
    if (opts.abort && this.ctx) {
      this.abortedByClose = true;
      for (const abort of this.abortOnClose) abort();
    }
    this.closing ??= (async () => {
      const ctx = this.ctx;
      if (!ctx) return;
      if (this.owned.size > 0) {
        this.endingOwned = true;
        await Promise.allSettled([...this.owned].map((end) => end()));
        this.endingOwned = false;
      }
      this.monitors.abort();
      this.hub.closeAll();
      for (const informer of this.informers) informer.close();
      for (const cancel of this.cancelOnClose) cancel();
      while (this.inflight.size > 0) await Promise.all([...this.inflight]);
      this.ctx = undefined;
      this.stats._release(ctx, true);
      ctx.close();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- host diagnostics (monitor/hostdiag.ts) and statistics (monitor/stats.ts)

  /** `xl psr-cmt-attach`, `-detach`, `-show`: Intel Cache Monitoring Technology. */
  readonly cmt = newCmt(
    (op) => this.native(op),
    async (d) => (typeof d === 'number' ? d : (await this.domain(d)).id),
    () => this.listDomains(),
    async () => [...new Set((await this.topology()).cpus.map((c) => c.socket))],
  );

  /** `xl tmem-*`: transcendent memory (gone from Xen since 4.13: every call rejects with ERR_UNSUPPORTED). */
  readonly tmem = newTmem((op) => this.native(op));

  /** `xl dmesg [-c]`: the lines of the hypervisor's console ring. */
  async dmesg(opts: DmesgOptions = {}): Promise<string[]> {
    return dmesg((op) => this.native(op), opts);
  }

  /**
   * `xl debug-keys`: runs Xen's debug key handlers ('q' dumps domains, 'h' lists the keys);
   * their output goes to the console ring, where dmesg() and dmesgReader() read it.
   */
  async sendDebugKeys(keys: string): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, as the other features
    (require('../debug/debug') as typeof import('../debug/debug')).sendDebugKeys(
      this.native(`debug keys ${JSON.stringify(keys)}`),
      keys,
    );
  }

  /** A reader whose read() returns the hypervisor console lines logged since its last read. */
  dmesgReader(opts: DmesgReaderOptions = {}): DmesgReader {
    return newDmesgReader((op) => this.native(op), opts);
  }

  /** Per-domain statistics (what `xentop` shows): `host.stats.sample()`, `.watch()`. */
  readonly stats = newStats(
    (op) => this.native(op),
    () => {
      const v = JSON.parse(this.native('statistics').versionInfoJson()) as VersionInfo;
      return `${v.xen_version_major}.${v.xen_version_minor}${v.xen_version_extra ?? ''}`;
    },
  );

  /** `xl claims`: outstanding memory claims per domain, and the host's total. */
  async claims(): Promise<Claims> {
    const ctx = this.native('claims');
    const domains = unpackDomainList(ctx.listDomains());
    const p = JSON.parse(ctx.physinfoJson().json) as Physinfo;
    const v = JSON.parse(ctx.versionInfoJson()) as VersionInfo;
    return claimsFrom(domains, p.outstanding_pages ?? 0, v.pagesize ?? 4096, stateString);
  }
}

/**
 * The context a Host gives its feature modules: for tests and tools inside this package that
 * call the addon directly. Not exported from the package's entry point. @internal
 */
export function contextOf(host: Host): HostContext {
  return host['context'];
}
