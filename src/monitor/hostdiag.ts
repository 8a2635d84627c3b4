// Host diagnostics: the hypervisor's console ring (`xl dmesg`), outstanding memory claims
// (`xl claims`), Intel CMT (`xl psr-cmt-*`) and transcendent memory (`xl tmem-*`).
// native/monitor/hostdiag.cc only calls libxl; meaning, validation and the ERR_UNSUPPORTED mapping live here.
import type { DomainInfo } from '../core/domain-info';
import type { DomainTarget } from '../core/domain-info';
import { badNumber, invalidArg, XenError } from '../core/errors';
import type { NativeContext } from '../core/native';

type NativeOf = (op: string) => NativeContext;

const MAX_DOMID = 0x7fef;
const ENODEV = 19;
const ESRCH = 3;

// ---- console ring

/**
 * The lines of console text as `xl dmesg` prints it: split at newlines; a final line without
 * its newline is kept (that is how the ring ends when Xen is mid-line), an empty tail is not.
 */
export function splitConsoleText(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** State of an incremental reader: Xen's ring index, and a line not yet ended. */
export interface RingCursor {
  index: number | null;
  partial: string;
  /** Characters Xen overwrote (or that a clear removed) before this reader saw them. */
  dropped: number;
}

/**
 * Folds one read of the ring (text from Xen's index `start` up to `index`) into a cursor:
 * returns the complete lines; an unfinished last line waits for its newline.
 */
export function advanceCursor(cur: RingCursor, chunk: { text: string; start: number; index: number }): string[] {
  if (cur.index !== null && chunk.start !== cur.index) {
    // Xen's indexes are free-running 32-bit counters.
    cur.dropped += (chunk.start - cur.index) >>> 0;
    cur.partial = '';
  }
  cur.index = chunk.index;
  const text = cur.partial + chunk.text;
  const cut = text.lastIndexOf('\n');
  if (cut < 0) {
    cur.partial = text;
    return [];
  }
  cur.partial = text.slice(cut + 1);
  return text.slice(0, cut).split('\n');
}

export interface DmesgOptions {
  /** Clear the ring after reading it (`xl dmesg -c`). */
  clear?: boolean;
}

export function dmesg(native: NativeOf, opts: DmesgOptions = {}): string[] {
  const clear = opts.clear ?? false;
  if (typeof clear !== 'boolean') throw invalidArg('dmesg', 'clear must be a boolean');
  return splitConsoleText(native(clear ? 'dmesg -c' : 'dmesg').xenConsoleRead(clear));
}

export interface DmesgReaderOptions {
  /** The first read() returns the whole ring as well (default: only what follows the reader's creation). */
  fromStart?: boolean;
}

let makeDmesgReader: (native: NativeOf, opts?: DmesgReaderOptions) => DmesgReader;

/** `host.dmesgReader()`'s way to make one (the constructor is not part of the API). */
export const newDmesgReader = (native: NativeOf, opts?: DmesgReaderOptions): DmesgReader => makeDmesgReader(native, opts);

/**
 * Reads the hypervisor's console ring incrementally by Xen's own ring index: each read()
 * returns exactly the complete lines logged since the previous one (none twice, none missed
 * unless the ring wrapped past them, which `dropped` counts).
 */
export class DmesgReader {
  private readonly cur: RingCursor = { index: null, partial: '', dropped: 0 };

  static {
    makeDmesgReader = (native, opts) => new DmesgReader(native, opts);
  }

  /** Made by `host.dmesgReader()` (newDmesgReader; not part of the API). */
  private constructor(
    private readonly native: NativeOf,
    opts: DmesgReaderOptions = {},
  ) {
    if (opts.fromStart !== undefined && typeof opts.fromStart !== 'boolean') {
      throw invalidArg('dmesg reader', 'fromStart must be a boolean');
    }
    if (!opts.fromStart) {
      // Start at the current end: everything now in the ring counts as seen.
      advanceCursor(this.cur, native('dmesg reader').xenConsoleReadFrom(null));
      this.cur.partial = '';
    }
  }

  /** Lines completed since the last read (or since creation). */
  read(): string[] {
    return advanceCursor(this.cur, this.native('dmesg reader').xenConsoleReadFrom(this.cur.index));
  }

  /** Characters lost to the ring wrapping (or to a clear) between reads. */
  get dropped(): number {
    return this.cur.dropped;
  }
}

// ---- claims

/** One row of `xl claims`. */
export interface DomainClaim {
  /** null for a domain without a name (xl prints `(null)`). */
  name: string | null;
  domid: number;
  /** The Mem column: current + outstanding, MiB. */
  memoryMiB: number;
  vcpus: number;
  /** xl's six state letters. */
  state: string;
  /** CPU time (xl prints it in seconds). */
  cpuTimeNs: number;
  /** @deprecated CPU time in seconds; use `cpuTimeNs`. */
  cpuTime: number;
  /** The Claimed column: memory claimed but not yet allocated, MiB. */
  claimedMiB: number;
  /** The same in KiB, as libxl reports it. */
  outstandingKiB: number;
}

export interface Claims {
  domains: DomainClaim[];
  /** The host's outstanding claims (`xl info`'s outstanding_claims), MiB. */
  totalMiB: number;
  /** The same in pages (libxl_physinfo.outstanding_pages). */
  outstandingPages: number;
}

export function claimsFrom(
  domains: DomainInfo[],
  outstandingPages: number,
  pageSize: number,
  state: (d: DomainInfo) => string,
): Claims {
  const pagesPerMiB = (1 << 20) / pageSize;
  return {
    domains: domains.map((d) => ({
      name: d.name,
      domid: d.domid,
      memoryMiB: Math.floor((d.memoryKiB + d.outstandingMemoryKiB) / 1024),
      vcpus: d.vcpusOnline,
      state: state(d),
      cpuTimeNs: d.cpuTimeNs,
      cpuTime: d.cpuTimeNs / 1e9,
      claimedMiB: Math.floor(d.outstandingMemoryKiB / 1024),
      outstandingKiB: d.outstandingMemoryKiB,
    })),
    totalMiB: Math.floor(outstandingPages / pagesPerMiB),
    outstandingPages,
  };
}

// ---- Intel CMT

export type CmtType = 'cache-occupancy' | 'total-mem-bandwidth' | 'local-mem-bandwidth';
/** libxl's names of the monitoring types (libxl_psr_cmt_type). */
const CMT_TYPES: Record<CmtType, string> = {
  'cache-occupancy': 'cache_occupancy',
  'total-mem-bandwidth': 'total_mem_count',
  'local-mem-bandwidth': 'local_mem_count',
};

export interface CmtSocketValue {
  socket: number;
  /** cache-occupancy: KiB of L3 in use by the domain; bandwidths: bytes per TSC tick over ~10 ms. */
  value: number;
}

export interface CmtReport {
  type: CmtType;
  /** L3 cache size per socket, KiB. */
  sockets: { socket: number; l3CacheKiB: number }[];
  /** The domains attached to CMT, with one value per socket. */
  domains: { domid: number; name: string | null; values: CmtSocketValue[] }[];
}

function checkDomid(op: string, domid: unknown): number {
  if (typeof domid !== 'number' || !Number.isInteger(domid) || domid < 0 || domid > MAX_DOMID) {
    throw badNumber(op, domid, `domid must be an integer 0–${MAX_DOMID}, got ${String(domid)}`);
  }
  return domid;
}

/** libxl's last error line of a failure (its own words), or its message. */
function libxlSays(err: XenError): string {
  const line = [...err.details].reverse().find((l) => / error: /.test(l));
  return line ?? err.message;
}

/**
 * A libxl CMT failure with its meaning: ENODEV from Xen is "no CMT on this host" (ERR_UNSUPPORTED),
 * ESRCH a domain that does not exist; libxl's code, errno and lines stay on the error.
 */
export function cmtError(op: string, err: unknown): unknown {
  if (!(err instanceof XenError)) return err;
  const props = { op, errno: err.errno, details: err.details, cause: err };
  if (err.errno === ENODEV) {
    return new XenError(
      `${op}: Intel CMT (cache monitoring) is not supported on this host ` + `(libxl ${err.code}: ${libxlSays(err)})`,
      { ...props, code: 'ERR_UNSUPPORTED' },
    );
  }
  if (err.errno === ESRCH) {
    return new XenError(`${op}: no such domain (libxl ${err.code}: ${libxlSays(err)})`, {
      ...props,
      code: 'ERROR_DOMAIN_NOTFOUND',
    });
  }
  return err;
}

let makeCmt: (
  native: NativeOf,
  domidOf: (domain: DomainTarget) => Promise<number>,
  domains: () => Promise<DomainInfo[]>,
  sockets: () => Promise<number[]>,
) => Cmt;

/** The Host's way to make its `cmt` (the constructor is not part of the API). */
export const newCmt = (
  native: NativeOf,
  domidOf: (domain: DomainTarget) => Promise<number>,
  domains: () => Promise<DomainInfo[]>,
  sockets: () => Promise<number[]>,
): Cmt => makeCmt(native, domidOf, domains, sockets);

/** `xl psr-cmt-attach`, `psr-cmt-detach`, `psr-cmt-show`. */
export class Cmt {
  static {
    makeCmt = (native, domidOf, domains, sockets) => new Cmt(native, domidOf, domains, sockets);
  }

  private constructor(
    private readonly native: NativeOf,
    private readonly domidOf: (domain: DomainTarget) => Promise<number>,
    private readonly domains: () => Promise<DomainInfo[]>,
    private readonly sockets: () => Promise<number[]>,
  ) {}

  /** Starts cache monitoring of a domain (allocates it an RMID). */
  async attach(domain: DomainTarget): Promise<void> {
    // A domid goes to libxl as given (its error for a missing one is xl's); others are looked up.
    const domid = typeof domain === 'number' ? checkDomid(`CMT attach of domain ${domain}`, domain) : await this.domidOf(domain);
    const op = `CMT attach of domain ${domid}`;
    try {
      this.native(op).psrCmtAttach(domid, true);
    } catch (e) {
      throw cmtError(op, e);
    }
  }

  async detach(domain: DomainTarget): Promise<void> {
    // A domid goes to libxl as given (its error for a missing one is xl's); others are looked up.
    const domid = typeof domain === 'number' ? checkDomid(`CMT detach of domain ${domain}`, domain) : await this.domidOf(domain);
    const op = `CMT detach of domain ${domid}`;
    try {
      this.native(op).psrCmtAttach(domid, false);
    } catch (e) {
      throw cmtError(op, e);
    }
  }

  /** Whether the hypervisor has CMT enabled (libxl_psr_cmt_enabled). */
  async enabled(): Promise<boolean> {
    return this.native('CMT enabled').psrCmtEnabled();
  }

  /** `xl psr-cmt-show TYPE`: per attached domain, the value on each socket. */
  async show(type: CmtType = 'cache-occupancy'): Promise<CmtReport> {
    const op = `CMT show ${String(type)}`;
    const libxlType = Object.prototype.hasOwnProperty.call(CMT_TYPES, type) ? CMT_TYPES[type] : undefined;
    if (!libxlType) throw invalidArg(op, `type must be one of ${Object.keys(CMT_TYPES).join(', ')}`);
    const native = this.native(op);
    let supported: boolean;
    try {
      // Asks Xen for its event mask: on a host without CMT libxl logs Xen's ENODEV.
      supported = native.psrCmtTypeSupported(libxlType);
    } catch (e) {
      throw cmtError(op, e);
    }
    if (!native.psrCmtEnabled()) {
      throw new XenError(`${op}: Intel CMT (cache monitoring) is not supported on this host (CMT is disabled)`, {
        code: 'ERR_UNSUPPORTED',
        op,
      });
    }
    if (!supported) {
      throw new XenError(`${op}: this host's CMT has no ${type} monitoring`, { code: 'ERR_UNSUPPORTED', op });
    }
    try {
      const sockets = await this.sockets();
      const report: CmtReport = {
        type,
        sockets: sockets.map((socket) => ({ socket, l3CacheKiB: native.psrCmtL3CacheSize(socket) })),
        domains: [],
      };
      for (const d of await this.domains()) {
        if (!native.psrCmtDomainAttached(d.domid)) continue;
        const values = sockets.map((socket) => {
          if (type === 'cache-occupancy') {
            const [sample] = native.psrCmtSample(d.domid, libxlType, socket);
            return { socket, value: Math.floor(sample / 1024) };
          }
          // Bandwidths are counters: two samples, rate over the TSC between them (xl does the same).
          const [s1, t1] = native.psrCmtSample(d.domid, libxlType, socket);
          const until = Date.now() + 10;
          while (Date.now() < until) {
            /* 10 ms, as xl sleeps */
          }
          const [s2, t2] = native.psrCmtSample(d.domid, libxlType, socket);
          return { socket, value: t2 > t1 ? (s2 - s1) / (t2 - t1) : 0 };
        });
        report.domains.push({ domid: d.domid, name: d.name, values });
      }
      return report;
    } catch (e) {
      throw cmtError(op, e);
    }
  }
}

// ---- tmem

/**
 * Transcendent memory left Xen in 4.13; Xen 4.17's libxl keeps the tmem calls, which log
 * "Can not …" and fail. Every failure is ERR_UNSUPPORTED, with libxl's code, errno and lines kept.
 */
export function tmemError(op: string, err: unknown): unknown {
  if (!(err instanceof XenError)) return err;
  return new XenError(
    `${op}: the hypervisor has no transcendent memory (tmem; removed from Xen in 4.13) ` +
      `(libxl ${err.code}: ${libxlSays(err)})`,
    { code: 'ERR_UNSUPPORTED', op, errno: err.errno, details: err.details, cause: err },
  );
}

export type TmemSetting = 'weight' | 'compress';
const ALL_DOMAINS = 0xffffffff;

function tmemDomid(op: string, domid: number | 'all' | undefined): number {
  return domid === undefined || domid === 'all' ? ALL_DOMAINS : checkDomid(op, domid);
}

/** Options of `host.tmem.list()`. */
export interface TmemListOptions {
  domid?: number | 'all';
  long?: boolean;
}

let makeTmem: (native: NativeOf) => Tmem;

/** The Host's way to make its `tmem` (the constructor is not part of the API). */
export const newTmem = (native: NativeOf): Tmem => makeTmem(native);

/** `xl tmem-list`, `tmem-freeze`, `tmem-thaw`, `tmem-set`, `tmem-shared-auth`, `tmem-freeable`. */
export class Tmem {
  static {
    makeTmem = (native) => new Tmem(native);
  }

  private constructor(private readonly native: NativeOf) {}

  private run<T>(op: string, fn: (n: NativeContext) => T): T {
    const n = this.native(op);
    try {
      return fn(n);
    } catch (e) {
      throw tmemError(op, e);
    }
  }

  /** libxl's tmem list text (`xl tmem-list [-l] [-a | domid]`). */
  async list(opts: TmemListOptions = {}): Promise<string> {
    const op = 'tmem list';
    const domid = tmemDomid(op, opts.domid);
    return this.run(op, (n) => n.tmemList(domid, opts.long ?? false));
  }

  async freeze(domid: number | 'all' = 'all'): Promise<void> {
    const op = 'tmem freeze';
    const id = tmemDomid(op, domid);
    this.run(op, (n) => n.tmemFreeze(id, false));
  }

  async thaw(domid: number | 'all' = 'all'): Promise<void> {
    const op = 'tmem thaw';
    const id = tmemDomid(op, domid);
    this.run(op, (n) => n.tmemFreeze(id, true));
  }

  /** `xl tmem-set`: weight or compress of a domain's tmem. */
  async set(domid: number | 'all', setting: TmemSetting, value: number): Promise<void> {
    const op = `tmem set ${String(setting)}`;
    const id = tmemDomid(op, domid);
    if (setting !== 'weight' && setting !== 'compress') throw invalidArg(op, 'setting must be weight or compress');
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw badNumber(op, value, 'value must be a 32-bit unsigned integer');
    this.run(op, (n) => n.tmemSet(id, setting, value));
  }

  /** `xl tmem-shared-auth -u UUID -A 0|1`. */
  async sharedAuth(domid: number | 'all', uuid: string, auth: boolean): Promise<void> {
    const op = 'tmem shared auth';
    const id = tmemDomid(op, domid);
    if (typeof uuid !== 'string' || !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(uuid)) {
      throw invalidArg(op, 'uuid must be a UUID');
    }
    this.run(op, (n) => n.tmemSharedAuth(id, uuid, Boolean(auth)));
  }

  /** `xl tmem-freeable`: MiB that tmem could give back. */
  async freeable(): Promise<number> {
    return this.run('tmem freeable', (n) => n.tmemFreeable());
  }
}
