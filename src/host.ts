// The Xen host: one libxl context, host queries, domain lookup, events, lifetime.
import * as os from 'node:os';
import { Domain, DomainInfo, unpackDomainList } from './domain';
import { invalidArg, XenError } from './errors';
import { EventHub, DomainEvent, EventsOptions } from './events';
import { loadNative, NativeContext } from './native';
import type { DomainConfig, Physinfo, VersionInfo } from './types/libxl';
import { checkDomainConfig } from './config';
import { readSaveHeader } from './saveimage';
import * as fs from 'node:fs';
import { CpuPools, cpuLayout, topology, Topology } from './sched';
import { parseXlConfig } from './xlcfg';

export interface CreateDomainOptions {
  /** Leave the new domain paused. */
  paused?: boolean;
  /** For xl.cfg text: the file name its messages name. */
  path?: string;
  /** For xl.cfg text: receives each warning (default: process.emitWarning). */
  onWarning?: (warning: string) => void;
}

/** What `xl info` shows, with xl's key names and units (memory in MiB). */
export interface HostInfo {
  host: string;
  release: string;
  version: string;
  machine: string;
  nr_cpus: number;
  max_cpu_id: number;
  nr_nodes: number;
  cores_per_socket: number;
  threads_per_core: number;
  /** As xl prints it: "2299.998". */
  cpu_mhz: string;
  /** As xl prints it: eight 32-bit words in hex, colon-separated. */
  hw_caps: string;
  virt_caps: string[];
  total_memory: number;
  free_memory: number;
  sharing_freed_memory: number;
  sharing_used_memory: number;
  outstanding_claims: number;
  free_cpus: number;
  xen_major: number;
  xen_minor: number;
  xen_extra: string;
  xen_version: string;
  xen_caps: string;
  xen_scheduler: string;
  xen_pagesize: number;
  platform_params: string;
  xen_changeset: string;
  xen_commandline: string;
  cc_compiler: string;
  cc_compile_by: string;
  cc_compile_domain: string;
  cc_compile_date: string;
  build_id: string;
  xend_config_format: number;
  /** libxl's full records, for what xl does not print. */
  physinfo: Physinfo;
  versionInfo: VersionInfo;
}

export type LogLevel = 'debug' | 'verbose' | 'detail' | 'progress' | 'info' | 'notice' | 'warn' | 'error' | 'critical';
const LOG_LEVELS: LogLevel[] = ['debug', 'verbose', 'detail', 'progress', 'info', 'notice', 'warn', 'error', 'critical'];

export interface HostOptions {
  /** Lowest libxl log level kept for error details (default 'detail'). */
  logLevel?: LogLevel;
}

const MAX_DOMID = 0x7fef; // DOMID_FIRST_RESERVED - 1

export class Host implements AsyncDisposable {
  private ctx?: NativeContext;
  private hub: EventHub;
  /** CPU pools: list, create, destroy, rename, add/remove CPUs, move domains, pool parameters. */
  readonly cpupools = new CpuPools((op) => this._native(op));
  private inflight = new Set<Promise<unknown>>();
  private closing?: Promise<void>;

  private constructor(ctx: NativeContext) {
    this.ctx = ctx;
    this.hub = new EventHub(ctx, () => unpackDomainList(ctx.listDomains()).map((d) => d.domid));
    ctx.setEventHandler((kind, payload) => this.hub.onNative(kind, payload));
  }

  /** Opens a libxl context on this dom0. Rejects with a XenError that says what is missing. */
  static async open(opts: HostOptions = {}): Promise<Host> {
    if (opts.logLevel !== undefined && !LOG_LEVELS.includes(opts.logLevel)) {
      throw invalidArg('open', `logLevel must be one of ${LOG_LEVELS.join(', ')}`);
    }
    const addon = loadNative('open');
    const ctx = new addon.Context();
    if (opts.logLevel) ctx.setLogLevel(LOG_LEVELS.indexOf(opts.logLevel) + 1);
    return new Host(ctx);
  }

  /** @internal The native context, or ERR_CLOSED. */
  _native(op: string): NativeContext {
    if (!this.ctx || this.closing) throw new XenError(`${op}: the host is closed`, { code: 'ERR_CLOSED', op });
    return this.ctx;
  }

  get closed(): boolean {
    return !this.ctx;
  }

  /** @internal Starts a native asynchronous operation that close() waits for. */
  _track<T>(op: string, start: (ctx: NativeContext) => Promise<T>): Promise<T> {
    const p = start(this._native(op));
    const settled = p.then(() => undefined, () => undefined);
    this.inflight.add(settled);
    void settled.then(() => this.inflight.delete(settled));
    return p;
  }

  /** `xl info`. */
  async info(): Promise<HostInfo> {
    const ctx = this._native('host info');
    const { json, hw_cap } = ctx.physinfoJson();
    const p = JSON.parse(json) as Physinfo;
    const v = JSON.parse(ctx.versionInfoJson()) as VersionInfo;
    const scheduler = ctx.scheduler();
    const freeCpus = ctx.freeCpus();
    const pagesPerMiB = (1 << 20) / (v.pagesize ?? 4096);
    const mib = (pages = 0) => Math.floor(pages / pagesPerMiB);
    const khz = p.cpu_khz ?? 0;
    const caps: [boolean | undefined, string][] = [
      [p.cap_pv, 'pv'], [p.cap_hvm, 'hvm'], [p.cap_hvm && p.cap_hvm_directio, 'hvm_directio'],
      [p.cap_pv && p.cap_hvm_directio, 'pv_directio'], [p.cap_hap, 'hap'], [p.cap_shadow, 'shadow'],
      [p.cap_iommu_hap_pt_share, 'iommu_hap_pt_share'], [p.cap_vmtrace, 'vmtrace'], [p.cap_vpmu, 'vpmu'],
      [p.cap_gnttab_v1, 'gnttab-v1'], [p.cap_gnttab_v2, 'gnttab-v2'],
    ];
    const extra = v.xen_version_extra ?? '';
    return {
      host: os.hostname(),
      release: os.release(),
      version: os.version(),
      machine: os.machine(),
      nr_cpus: p.nr_cpus ?? 0,
      max_cpu_id: p.max_cpu_id ?? 0,
      nr_nodes: p.nr_nodes ?? 0,
      cores_per_socket: p.cores_per_socket ?? 0,
      threads_per_core: p.threads_per_core ?? 0,
      cpu_mhz: `${Math.floor(khz / 1000)}.${String(khz % 1000).padStart(3, '0')}`,
      hw_caps: hw_cap.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join(':'),
      virt_caps: caps.filter(([on]) => on).map(([, name]) => name),
      total_memory: mib(p.total_pages),
      free_memory: mib((p.free_pages ?? 0) - (p.outstanding_pages ?? 0)),
      sharing_freed_memory: mib(p.sharing_freed_pages),
      sharing_used_memory: mib(p.sharing_used_frames),
      outstanding_claims: mib(p.outstanding_pages),
      free_cpus: freeCpus.length,
      xen_major: v.xen_version_major ?? 0,
      xen_minor: v.xen_version_minor ?? 0,
      xen_extra: extra,
      xen_version: `${v.xen_version_major}.${v.xen_version_minor}${extra}`,
      xen_caps: v.capabilities ?? '',
      xen_scheduler: scheduler,
      xen_pagesize: v.pagesize ?? 0,
      platform_params: `virt_start=0x${BigInt(v.virt_start ?? 0).toString(16)}`,
      xen_changeset: v.changeset ?? '',
      xen_commandline: v.commandline ?? '',
      cc_compiler: v.compiler ?? '',
      cc_compile_by: v.compile_by ?? '',
      cc_compile_domain: v.compile_domain ?? '',
      cc_compile_date: v.compile_date ?? '',
      build_id: v.build_id ?? '',
      xend_config_format: 4,
      physinfo: p,
      versionInfo: v,
    };
  }

  /** `xl info -n`: CPUs with core, socket and node; NUMA nodes with memory and distances. */
  async topology(): Promise<Topology> {
    return topology(this._native('topology'));
  }

  /** Every domain, dom0 included (`xl list`). Names come from a cache kept exact by xenstore watches. */
  async listDomains(): Promise<DomainInfo[]> {
    return unpackDomainList(this._native('list domains').listDomains());
  }

  /** A handle on a domain, by domid or by name. Rejects with ERROR_DOMAIN_NOTFOUND if there is none. */
  async domain(idOrName: number | string): Promise<Domain> {
    const op = `find domain ${JSON.stringify(idOrName)}`;
    const ctx = this._native(op);
    if (typeof idOrName === 'number') {
      if (!Number.isInteger(idOrName) || idOrName < 0 || idOrName > MAX_DOMID) {
        throw invalidArg(op, `a domid is an integer from 0 to ${MAX_DOMID}`);
      }
      const [info] = unpackDomainList(ctx.domainInfo(idOrName));
      return new Domain(this, info.domid, info.uuid);
    }
    if (typeof idOrName !== 'string' || idOrName.length === 0 || idOrName.includes('\0')) {
      throw invalidArg(op, 'a domain is named by a non-empty string or a domid number');
    }
    const found = unpackDomainList(ctx.listDomains()).find((d) => d.name === idOrName);
    if (!found) {
      throw new XenError(`${op}: no domain is named ${JSON.stringify(idOrName)}`, { code: 'ERROR_DOMAIN_NOTFOUND', op });
    }
    return new Domain(this, found.domid, found.uuid);
  }

  /**
   * Creates and starts a domain from a configuration in libxl's JSON shape (what `xl -N create`
   * prints under "config"), or from xl.cfg text (parsed with parseXlConfig for this host; its
   * warnings go to opts.onWarning, else process.emitWarning). The build runs on a worker thread
   * with its own libxl context, so Node's event loop stays free; a failed create leaves no
   * domain behind (libxl destroys it).
   */
  async createDomain(config: DomainConfig | string, opts: CreateDomainOptions = {}): Promise<Domain> {
    if (typeof config === 'string') {
      const parsed = parseXlConfig(config, { path: opts.path, cpuLayout: cpuLayout(this._native('create domain')) });
      for (const w of parsed.warnings) (opts.onWarning ?? ((m: string) => process.emitWarning(m, 'XlConfigWarning')))(w);
      config = parsed.config;
    }
    const name = (config as DomainConfig | undefined)?.c_info?.name;
    const op = `create domain ${JSON.stringify(name ?? '')}`;
    checkDomainConfig(config, op);
    if (opts.paused !== undefined && typeof opts.paused !== 'boolean') throw invalidArg(op, 'paused must be a boolean');
    const ctx = this._native(op);
    if (unpackDomainList(ctx.listDomains()).some((d) => d.name === name)) {
      throw invalidArg(op, `a domain named ${JSON.stringify(name)} exists`);
    }
    const domid = await this._track(op, (c) => c.createDomain(JSON.stringify(config), opts.paused ?? false));
    const [info] = unpackDomainList(this._native(op).domainInfo(domid));
    return new Domain(this, info.domid, info.uuid);
  }

  /**
   * `xl restore`: a domain from an image written by `domain.save()` or `xl save`, with the
   * configuration stored in the image (or `config` instead). Unpaused unless `paused`.
   */
  async restoreDomain(file: string, opts: { paused?: boolean; config?: DomainConfig } = {}): Promise<Domain> {
    const op = `restore domain from ${JSON.stringify(file)}`;
    if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) throw invalidArg(op, 'file must be a path');
    const ctx = this._native(op);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new XenError(`${op}: ${(err as Error).message}`, { code: 'ERR_INVALID_ARG', op, cause: err });
    }
    try {
      const stored = readSaveHeader(fd, op);
      const config = opts.config ? checkDomainConfig(opts.config, op) : checkDomainConfig(JSON.parse(stored), op);
      const name = config.c_info?.name;
      if (unpackDomainList(ctx.listDomains()).some((d) => d.name === name)) {
        throw invalidArg(op, `a domain named ${JSON.stringify(name)} exists`);
      }
      const domid = await this._track(op, (c) => c.restoreDomain(JSON.stringify(config), fd, opts.paused ?? false));
      const [info] = unpackDomainList(this._native(op).domainInfo(domid));
      return new Domain(this, info.domid, info.uuid);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Domain events (shutdown with its reason, death) as an async iterator. Watches are set up
   * before this returns; end it with `break`, `return()` or the signal.
   */
  events(opts: EventsOptions = {}): AsyncIterableIterator<DomainEvent> {
    this._native('events');
    if (opts.domid !== undefined && (!Number.isInteger(opts.domid) || opts.domid < 0 || opts.domid > MAX_DOMID)) {
      throw invalidArg('events', `domid must be an integer from 0 to ${MAX_DOMID}`);
    }
    return this.hub.subscribe(opts);
  }

  /** The last libxl log lines of this context (for diagnostics). */
  recentLog(): string[] {
    return this.ctx?.recentLog() ?? [];
  }

  /**
   * Frees the libxl context once the operations in flight have settled. New calls reject with
   * ERR_CLOSED at once; event iterators end.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const ctx = this.ctx;
      if (!ctx) return;
      this.hub.closeAll();
      while (this.inflight.size > 0) await Promise.all([...this.inflight]);
      this.ctx = undefined;
      ctx.close();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
