// Statistics (what `xentop` shows): per-domain CPU, vCPU, memory, network and block counters and
// pCPU idle times, with rates between samples and a sampler that reuses its buffers and objects.
// native/monitor/stats.cc collects what libxenstat collects, at a tenth of its cost (libxenctrl, one read
// of /proc/net/dev, blkback's sysfs files, the context's name cache), and writes raw numbers into
// one Float64Array (the names' bytes into one Uint8Array); everything here reads that layout.
import { badNumber, invalidArg } from '../core/errors';
import type { NativeContext } from '../core/native';

type NativeOf = (op: string) => NativeContext;

export interface VcpuStats {
  online: boolean;
  /** CPU time used. */
  cpuTimeNs: number;
  /** @deprecated Use `cpuTimeNs`. */
  readonly cpuNs: number;
}

/** A vif's counters as dom0's end of it counts them (as xentop shows them): rx is what the guest sent. */
export interface NetworkStats {
  /** The vif's device id (vifDOMID.ID). */
  id: number;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDrops: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDrops: number;
}

export interface VbdStats {
  /** libxenstat's backend type: 1 blkback (the only one counted: QEMU's qdisk disks are not). */
  type: number;
  /** The device number (xenstore's virtual-device). */
  dev: number;
  outOfRequests: number;
  readRequests: number;
  writeRequests: number;
  readSectors: number;
  writeSectors: number;
  error: boolean;
}

/** Per-second rates of a domain between two samples. */
export interface DomainRates {
  /** CPU use as xentop's CPU(%): 100 is one physical CPU fully used. */
  cpuPercent: number;
  /** The same per vCPU (a vCPU that appeared since the last sample: 0). */
  vcpuPercent: number[];
  /** Sums over the domain's vifs. */
  rxBytesPerSec: number;
  txBytesPerSec: number;
  rxPacketsPerSec: number;
  txPacketsPerSec: number;
  /** Sums over the domain's block devices; bytes are sectors × 512. */
  readRequestsPerSec: number;
  writeRequestsPerSec: number;
  readBytesPerSec: number;
  writeBytesPerSec: number;
}

export interface DomainStats {
  domid: number;
  /** The domain's UUID (Xen's handle, as libxl prints it). */
  uuid: string;
  name: string | null;
  /**
   * @deprecated xentop's letters in xentop's order (d s b c p r); `stateString(stats)` gives xl's,
   * as for a DomainInfo.
   */
  readonly state: string;
  dying: boolean;
  shutdown: boolean;
  blocked: boolean;
  crashed: boolean;
  paused: boolean;
  running: boolean;
  /** CPU time of all vCPUs. */
  cpuTimeNs: number;
  /** @deprecated Use `cpuTimeNs`. */
  readonly cpuNs: number;
  vcpus: VcpuStats[];
  /** Current memory, bytes. */
  memoryBytes: number;
  /** Maximum memory, bytes; null for no limit (xentop: "no limit"). */
  maxMemoryBytes: number | null;
  ssid: number;
  networks: NetworkStats[];
  vbds: VbdStats[];
  /** Rates since the sample compared with; null without one (or for a domain new since then). */
  rates: DomainRates | null;
}

export interface HostRates {
  /** Seconds between the two samples. */
  intervalSec: number;
  /** Busy share of all physical CPUs together, 0–100. */
  cpuBusyPercent: number;
  /** Busy share per physical CPU, 0–100. */
  pcpuBusyPercent: number[];
}

export interface StatsSample {
  /** process.hrtime.bigint() at the sample. */
  time: bigint;
  /** Host memory, bytes. */
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  /** Memory tmem could free, MiB (always 0: Xen 4.17 has no tmem). */
  freeableMiB: number;
  cpus: number;
  cpuHz: number;
  xenVersion: string | null;
  /** Idle time of each physical CPU since boot, ns (XEN_SYSCTL_getcpuinfo). */
  pcpuIdleNs: number[];
  domains: DomainStats[];
  /** Host rates since the sample compared with; null without one. */
  rates: HostRates | null;
}

// ---- the native layout (native/monitor/stats.cc writes the same)

export const STATS_LAYOUT = { header: 10, domain: 12, vcpu: 2, network: 9, vbd: 8 } as const;
const FLAG = { dying: 1, shutdown: 2, blocked: 4, crashed: 8, paused: 16, running: 32, noMaxMem: 64 } as const;
// The deprecated names, as getters on the prototypes of the (reused) sample objects.
const VCPU_PROTO: object = Object.defineProperty({}, 'cpuNs', {
  get(this: VcpuStats) {
    return this.cpuTimeNs;
  },
});
const DOMAIN_PROTO: object = Object.defineProperties(
  {},
  {
    cpuNs: {
      get(this: DomainStats) {
        return this.cpuTimeNs;
      },
    },
    state: {
      get(this: DomainStats) {
        return xentopState(this);
      },
    },
  },
);

/** xentop's STATE column: its letters d s b c p r, "-" for each flag not set. */
export function xentopState(d: Pick<DomainStats, 'dying' | 'shutdown' | 'blocked' | 'crashed' | 'paused' | 'running'>): string {
  return (
    (d.dying ? 'd' : '-') +
    (d.shutdown ? 's' : '-') +
    (d.blocked ? 'b' : '-') +
    (d.crashed ? 'c' : '-') +
    (d.paused ? 'p' : '-') +
    (d.running ? 'r' : '-')
  );
}

/** Buffers the native sample writes into, grown when a sample does not fit. */
export interface SampleBuffers {
  f64: Float64Array;
  names: Uint8Array;
}

export function newBuffers(): SampleBuffers {
  return { f64: new Float64Array(2048), names: new Uint8Array(1024) };
}

export interface DecodeOptions {
  /** Update this sample's objects in place (domains matched by domid); rates are against its old values. */
  into?: StatsSample;
  /** Compute rates against this earlier sample (ignored with `into`). */
  since?: StatsSample | null;
}

const nameBytes = new WeakMap<DomainStats, Uint8Array>();
const uuidBytes = new WeakMap<DomainStats, Uint8Array>();
const indexes = new WeakMap<StatsSample, Map<number, DomainStats>>();
const seenSets = new WeakMap<StatsSample, Set<number>>();

function emptySample(): StatsSample {
  return {
    time: 0n,
    totalMemoryBytes: 0,
    freeMemoryBytes: 0,
    freeableMiB: 0,
    cpus: 0,
    cpuHz: 0,
    xenVersion: null,
    pcpuIdleNs: [],
    domains: [],
    rates: null,
  };
}

function emptyDomain(domid: number): DomainStats {
  const d: Omit<DomainStats, 'state' | 'cpuNs'> = {
    domid,
    uuid: '',
    name: null,
    dying: false,
    shutdown: false,
    blocked: false,
    crashed: false,
    paused: false,
    running: false,
    cpuTimeNs: 0,
    vcpus: [],
    memoryBytes: 0,
    maxMemoryBytes: null,
    ssid: 0,
    networks: [],
    vbds: [],
    rates: null,
  };
  return Object.setPrototypeOf(d, DOMAIN_PROTO) as DomainStats;
}

function emptyRates(): DomainRates {
  return {
    cpuPercent: 0,
    vcpuPercent: [],
    rxBytesPerSec: 0,
    txBytesPerSec: 0,
    rxPacketsPerSec: 0,
    txPacketsPerSec: 0,
    readRequestsPerSec: 0,
    writeRequestsPerSec: 0,
    readBytesPerSec: 0,
    writeBytesPerSec: 0,
  };
}

/** The domain's name, decoded only when its bytes differ from the last decode for this object. */
function readName(d: DomainStats, names: Uint8Array, off: number, len: number): string | null {
  if (off < 0) {
    nameBytes.delete(d);
    return null;
  }
  const old = nameBytes.get(d);
  if (old && old.length === len && d.name !== null) {
    let same = true;
    for (let i = 0; i < len; i++)
      if (old[i] !== names[off + i]) {
        same = false;
        break;
      }
    if (same) return d.name;
  }
  const bytes = names.slice(off, off + len);
  nameBytes.set(d, bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, len).toString('utf8');
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The domain's UUID from its 16 bytes, formatted only when they differ from the last ones. */
function readUuid(d: DomainStats, names: Uint8Array, off: number): string {
  const old = uuidBytes.get(d);
  if (old && d.uuid) {
    let same = true;
    for (let i = 0; i < 16; i++)
      if (old[i] !== names[off + i]) {
        same = false;
        break;
      }
    if (same) return d.uuid;
  }
  const b = names.slice(off, off + 16);
  uuidBytes.set(d, b);
  const h = (from: number, to: number) => {
    let out = '';
    for (let i = from; i < to; i++) out += HEX[b[i]];
    return out;
  };
  return `${h(0, 4)}-${h(4, 6)}-${h(6, 8)}-${h(8, 10)}-${h(10, 16)}`;
}

// A watch decodes ten times a second: the helpers below are module functions, not closures made
// per call, so a tick allocates next to nothing (page faults cost dearly under emulation).
function resize<T>(arr: T[], n: number, make: () => T): void {
  while (arr.length < n) arr.push(make());
  if (arr.length !== n) arr.length = n;
}
const zero = (): number => 0;
const newVcpu = (): VcpuStats => Object.setPrototypeOf({ online: false, cpuTimeNs: 0 }, VCPU_PROTO) as VcpuStats;
const newNetwork = (): NetworkStats => ({
  id: 0,
  rxBytes: 0,
  rxPackets: 0,
  rxErrors: 0,
  rxDrops: 0,
  txBytes: 0,
  txPackets: 0,
  txErrors: 0,
  txDrops: 0,
});
const newVbd = (): VbdStats => ({
  type: 0,
  dev: 0,
  outOfRequests: 0,
  readRequests: 0,
  writeRequests: 0,
  readSectors: 0,
  writeSectors: 0,
  error: false,
});
const perSec = (x: number, dt: number): number => Math.max(0, x) / dt;
function findBy<T, K extends keyof T>(xs: T[], key: K, value: T[K]): T | undefined {
  for (const x of xs) if (x[key] === value) return x;
  return undefined;
}

const sum = <T>(xs: T[], f: (x: T) => number): number => {
  let s = 0;
  for (const x of xs) s += f(x);
  return s;
};

/**
 * Reads one native sample out of the buffers (pure: unit tested). With `into`, its objects are
 * updated in place and no object is allocated for a domain, vCPU or device seen before.
 */
export function decodeSample(buf: SampleBuffers, time: bigint, xenVersion: string | null, opts: DecodeOptions = {}): StatsSample {
  const { f64, names } = buf;
  const L = STATS_LAYOUT;
  const out = opts.into ?? emptySample();
  const prev = opts.into ?? opts.since ?? null;
  let prevById = prev ? indexes.get(prev) : undefined;
  if (prev && !prevById) {
    prevById = new Map(prev.domains.map((d) => [d.domid, d]));
  }
  const dt = prev && prev.time > 0n && time > prev.time ? Number(time - prev.time) / 1e9 : 0;
  const ndom = f64[0];
  const npcpu = f64[8];

  // Host: rates from the old idle times before they are overwritten.
  let p = L.header;
  if (dt > 0 && prev && prev.pcpuIdleNs.length === npcpu) {
    const rates = out.rates ?? { intervalSec: 0, cpuBusyPercent: 0, pcpuBusyPercent: [] };
    rates.intervalSec = dt;
    resize(rates.pcpuBusyPercent, npcpu, zero);
    let busy = 0;
    for (let i = 0; i < npcpu; i++) {
      const idle = (f64[p + i] - prev.pcpuIdleNs[i]) / 1e9;
      const b = Math.min(100, Math.max(0, 100 * (1 - idle / dt)));
      rates.pcpuBusyPercent[i] = b;
      busy += b;
    }
    rates.cpuBusyPercent = npcpu ? busy / npcpu : 0;
    out.rates = rates;
  } else {
    out.rates = null;
  }
  resize(out.pcpuIdleNs, npcpu, zero);
  for (let i = 0; i < npcpu; i++) out.pcpuIdleNs[i] = f64[p + i];
  p += npcpu;

  out.time = time;
  out.totalMemoryBytes = f64[1];
  out.freeMemoryBytes = f64[2];
  out.cpus = f64[3];
  out.cpuHz = f64[4];
  out.freeableMiB = f64[5];
  out.xenVersion = xenVersion;

  const index = opts.into ? (prevById ?? new Map<number, DomainStats>()) : new Map<number, DomainStats>();
  let seen: Set<number> | null = null;
  if (opts.into) {
    seen = seenSets.get(out) ?? new Set<number>();
    seen.clear();
    seenSets.set(out, seen);
  }
  out.domains.length = ndom;
  for (let i = 0; i < ndom; i++) {
    const domid = f64[p];
    const flags = f64[p + 1];
    const old = prevById?.get(domid);
    const d = (opts.into ? old : undefined) ?? emptyDomain(domid);
    const nv = f64[p + 6];
    const nn = f64[p + 7];
    const nb = f64[p + 8];
    const cpuNs = f64[p + 2];
    // A domain whose CPU time went back is a new domain with a reused domid: no rates.
    const ratesFrom = dt > 0 && old && cpuNs >= old.cpuTimeNs ? old : undefined;
    let r: DomainRates | null = null;
    if (ratesFrom) {
      r = d.rates ?? emptyRates();
      r.cpuPercent = (cpuNs - ratesFrom.cpuTimeNs) / 1e7 / dt;
      resize(r.vcpuPercent, nv, zero);
      let q = p + L.domain;
      for (let j = 0; j < nv; j++, q += L.vcpu) {
        const was = ratesFrom.vcpus[j];
        r.vcpuPercent[j] = was && f64[q + 1] >= was.cpuTimeNs ? (f64[q + 1] - was.cpuTimeNs) / 1e7 / dt : 0;
      }
      let rxB = 0;
      let txB = 0;
      let rxP = 0;
      let txP = 0;
      for (let j = 0; j < nn; j++, q += L.network) {
        const was = findBy(ratesFrom.networks, 'id', f64[q]);
        if (!was) continue;
        rxB += f64[q + 1] - was.rxBytes;
        rxP += f64[q + 2] - was.rxPackets;
        txB += f64[q + 5] - was.txBytes;
        txP += f64[q + 6] - was.txPackets;
      }
      let rdR = 0;
      let wrR = 0;
      let rdS = 0;
      let wrS = 0;
      for (let j = 0; j < nb; j++, q += L.vbd) {
        const was = findBy(ratesFrom.vbds, 'dev', f64[q + 1]);
        if (!was) continue;
        rdR += f64[q + 3] - was.readRequests;
        wrR += f64[q + 4] - was.writeRequests;
        rdS += f64[q + 5] - was.readSectors;
        wrS += f64[q + 6] - was.writeSectors;
      }
      r.rxBytesPerSec = perSec(rxB, dt);
      r.txBytesPerSec = perSec(txB, dt);
      r.rxPacketsPerSec = perSec(rxP, dt);
      r.txPacketsPerSec = perSec(txP, dt);
      r.readRequestsPerSec = perSec(rdR, dt);
      r.writeRequestsPerSec = perSec(wrR, dt);
      r.readBytesPerSec = perSec(rdS * 512, dt);
      r.writeBytesPerSec = perSec(wrS * 512, dt);
    }
    d.rates = r;
    d.domid = domid;
    d.dying = (flags & FLAG.dying) !== 0;
    d.shutdown = (flags & FLAG.shutdown) !== 0;
    d.blocked = (flags & FLAG.blocked) !== 0;
    d.crashed = (flags & FLAG.crashed) !== 0;
    d.paused = (flags & FLAG.paused) !== 0;
    d.running = (flags & FLAG.running) !== 0;
    d.cpuTimeNs = cpuNs;
    d.memoryBytes = f64[p + 3];
    d.maxMemoryBytes = flags & FLAG.noMaxMem ? null : f64[p + 4];
    d.ssid = f64[p + 5];
    d.name = readName(d, names, f64[p + 9], f64[p + 10]);
    d.uuid = readUuid(d, names, f64[p + 11]);
    p += L.domain;
    resize(d.vcpus, nv, newVcpu);
    for (const v of d.vcpus) {
      v.online = f64[p] === 1;
      v.cpuTimeNs = f64[p + 1];
      p += L.vcpu;
    }
    resize(d.networks, nn, newNetwork);
    for (const n of d.networks) {
      n.id = f64[p];
      n.rxBytes = f64[p + 1];
      n.rxPackets = f64[p + 2];
      n.rxErrors = f64[p + 3];
      n.rxDrops = f64[p + 4];
      n.txBytes = f64[p + 5];
      n.txPackets = f64[p + 6];
      n.txErrors = f64[p + 7];
      n.txDrops = f64[p + 8];
      p += L.network;
    }
    resize(d.vbds, nb, newVbd);
    for (const b of d.vbds) {
      b.type = f64[p];
      b.dev = f64[p + 1];
      b.outOfRequests = f64[p + 2];
      b.readRequests = f64[p + 3];
      b.writeRequests = f64[p + 4];
      b.readSectors = f64[p + 5];
      b.writeSectors = f64[p + 6];
      b.error = f64[p + 7] === 1;
      p += L.vbd;
    }
    out.domains[i] = d;
    if (seen) {
      seen.add(domid);
      if (!old) index.set(domid, d);
    } else {
      index.set(domid, d);
    }
  }
  if (seen) for (const id of index.keys()) if (!seen.has(id)) index.delete(id);
  indexes.set(out, index);
  return out;
}

/** Network and block totals of a domain, as xentop's NETTX/NETRX/VBD_* columns add them up. */
export function domainTotals(d: DomainStats): {
  txBytes: number;
  rxBytes: number;
  outOfRequests: number;
  readRequests: number;
  writeRequests: number;
  readSectors: number;
  writeSectors: number;
} {
  return {
    txBytes: sum(d.networks, (n) => n.txBytes),
    rxBytes: sum(d.networks, (n) => n.rxBytes),
    outOfRequests: sum(d.vbds, (b) => b.outOfRequests),
    readRequests: sum(d.vbds, (b) => b.readRequests),
    writeRequests: sum(d.vbds, (b) => b.writeRequests),
    readSectors: sum(d.vbds, (b) => b.readSectors),
    writeSectors: sum(d.vbds, (b) => b.writeSectors),
  };
}

export interface SampleOptions {
  /** An earlier sample to compute rates against (`rates` of the result and of each domain). */
  since?: StatsSample;
}

export interface WatchOptions {
  /** Time between samples, ms (default 1000; 0 samples as fast as the host answers). */
  intervalMs?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

let makeStats: (native: NativeOf, version?: () => string | null) => Stats;

/** The Host's way to make its `stats` (the constructor is not part of the API). */
export const newStats = (native: NativeOf, version?: () => string | null): Stats => makeStats(native, version);

/** Per-domain counters, one native call per sample (its libxenctrl handle is kept open). */
export class Stats {
  private handle?: object;
  private xenVersion: string | null | undefined;
  private readonly buffers = newBuffers();
  private closed = new AbortController();
  private last?: StatsSample;

  static {
    makeStats = (native, version) => new Stats(native, version);
  }

  /** `version` gives the hypervisor's version (xentop's "Xen 4.17.x"), read once. */
  private constructor(
    private readonly native: NativeOf,
    private readonly version: () => string | null = () => null,
  ) {}

  /** Fills this.buffers with one native sample, growing them until it fits. */
  private read(op: string): void {
    const n = this.native(op);
    this.handle ??= n.statsOpen();
    this.xenVersion ??= this.version();
    for (;;) {
      const { f64, names } = this.buffers;
      if (n.statsSampleInto(this.handle, f64, names)) return;
      if (f64[6] > f64.length) this.buffers.f64 = new Float64Array(Math.max(f64[6] * 2, f64.length * 2));
      if (f64[7] > names.length) this.buffers.names = new Uint8Array(Math.max(f64[7] * 2, names.length * 2));
    }
  }

  /**
   * One sample of every domain: CPU, vCPUs, memory, network and block counters, pCPU idle times.
   * With `since`, rates between that sample and this one.
   */
  async sample(opts: SampleOptions = {}): Promise<StatsSample> {
    const since = opts.since;
    if (since !== undefined && (typeof since !== 'object' || since === null || typeof since.time !== 'bigint')) {
      throw invalidArg('statistics sample', 'since must be an earlier StatsSample');
    }
    this.read('statistics sample');
    this.last = decodeSample(this.buffers, process.hrtime.bigint(), this.xenVersion ?? null, { since });
    return this.last;
  }

  /**
   * The newest sample this Stats took — by `sample()` or by a `watch()` that runs (its object,
   * updated in place) — if it is at most `maxAgeMs` old, else undefined. The exporter serves it
   * instead of sampling again, so an application that watches and exports samples once.
   */
  latest(maxAgeMs: number): StatsSample | undefined {
    if (typeof maxAgeMs !== 'number' || !(maxAgeMs >= 0))
      throw badNumber('latest statistics sample', maxAgeMs, 'maxAgeMs must be a number >= 0');
    const s = this.last;
    if (!s) return undefined;
    return Number(process.hrtime.bigint() - s.time) / 1e6 <= maxAgeMs ? s : undefined;
  }

  /**
   * Samples every `intervalMs` (fixed rate: a slow sample shortens the next wait, missed ticks
   * are skipped), with rates since the previous tick. The first sample comes at once, without
   * rates. Yields the same StatsSample object each time, updated in place (its domains matched by
   * domid): copy what you keep past the next iteration. Ends when `signal` aborts or the Host closes.
   */
  async *watch(opts: WatchOptions = {}): AsyncGenerator<StatsSample, void, undefined> {
    const op = 'statistics watch';
    const intervalMs = opts.intervalMs ?? 1000;
    if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 0 || intervalMs > 2 ** 31 - 1) {
      throw badNumber(op, intervalMs, `intervalMs must be a number of milliseconds >= 0, got ${String(intervalMs)}`);
    }
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw invalidArg(op, 'signal must be an AbortSignal');
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closed.signal]) : this.closed.signal;
    // One abort listener for the whole watch and a plain timer per tick, not a timers/promises
    // sleep with a signal (a listener added and removed per tick): at 10 ticks a second under
    // emulation that showed.
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      wake?.();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const current = emptySample();
    let next = performance.now();
    try {
      while (!signal.aborted) {
        this.read(op);
        decodeSample(this.buffers, process.hrtime.bigint(), this.xenVersion ?? null, { into: current });
        this.last = current;
        yield current;
        if (signal.aborted) return;
        next += intervalMs;
        const now = performance.now();
        if (next < now) next = now; // behind: skip the missed ticks rather than burst
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (intervalMs === 0) setImmediate(resolve);
          else timer = setTimeout(resolve, next - now);
        });
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Frees the libxenctrl handle now (otherwise when the Host is collected); sample() reopens it. */
  close(): void {
    if (this.handle) this._release(this.native('statistics close'));
  }

  /** @internal Frees the handle with this context (the Host calls it as it closes: watchers end). */
  _release(native: NativeContext, hostClosing = false): void {
    if (hostClosing) this.closed.abort();
    if (!this.handle) return;
    native.statsClose(this.handle);
    this.handle = undefined;
  }
}
