// What `xl list` knows of a domain (libxl_dominfo) and the addon's packed form of a list of
// them: plain data, shared by Host, Domain and the feature modules.
import type { PackedDomains } from './native';
import type { DomainType, ShutdownReason } from '../generated/libxl-types';
import { DomainTypeValues, ShutdownReasonValues } from '../generated/libxl-types';

/**
 * What `xl list` knows of a domain: libxl_dominfo, every field present, in the package's names
 * (camelCase, the unit in the name) and libxl's enum strings, plus the domain's name.
 */
export interface DomainInfo extends DeprecatedDomainInfoNames {
  domid: number;
  /** null only in the moment a domain is being built or torn down. */
  name: string | null;
  uuid: string;
  ssidref: number;
  /** The XSM label, where the domain has one. */
  ssidLabel?: string;
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  dying: boolean;
  neverStop: boolean;
  /** Meaningful when `shutdown` is true. */
  shutdownReason: ShutdownReason;
  /** Current memory (libxl's current_memkb). */
  memoryKiB: number;
  /** Memory claimed but not yet allocated. */
  outstandingMemoryKiB: number;
  sharedMemoryKiB: number;
  pagedMemoryKiB: number;
  maxMemoryKiB: number;
  /** CPU time of all vCPUs. */
  cpuTimeNs: number;
  /** The highest vCPU id (so the domain has `vcpuMaxId + 1` vCPUs). */
  vcpuMaxId: number;
  vcpusOnline: number;
  cpupoolId: number;
  gpaddrBits: number;
  domainType: DomainType;
}

/**
 * The libxl names DomainInfo had before 1.0, kept as read-only aliases for one minor version
 * (they are getters: `JSON.stringify` and object spread show only the new names).
 */
export interface DeprecatedDomainInfoNames {
  /** @deprecated Use `ssidLabel`. */
  readonly ssid_label?: string;
  /** @deprecated Use `neverStop`. */
  readonly never_stop: boolean;
  /** @deprecated Use `shutdownReason`. */
  readonly shutdown_reason: ShutdownReason;
  /** @deprecated Use `outstandingMemoryKiB`. */
  readonly outstanding_memkb: number;
  /** @deprecated Use `memoryKiB`. */
  readonly current_memkb: number;
  /** @deprecated Use `sharedMemoryKiB`. */
  readonly shared_memkb: number;
  /** @deprecated Use `pagedMemoryKiB`. */
  readonly paged_memkb: number;
  /** @deprecated Use `maxMemoryKiB`. */
  readonly max_memkb: number;
  /** @deprecated Use `cpuTimeNs`. */
  readonly cpu_time: number;
  /** @deprecated Use `vcpuMaxId`. */
  readonly vcpu_max_id: number;
  /** @deprecated Use `vcpusOnline`. */
  readonly vcpu_online: number;
  /** @deprecated Use `cpupoolId`. */
  readonly cpupool: number;
  /** @deprecated Use `gpaddrBits`. */
  readonly gpaddr_bits: number;
  /** @deprecated Use `domainType`. */
  readonly domain_type: DomainType;
}

/**
 * A domain, as calls that take one accept it: its domid, its name, `{ uuid }`, or a Domain handle
 * (which has a `uuid`, and is used as it is).
 */
export type DomainTarget = number | string | { uuid: string };

/** DomainInfo without the deprecated aliases: what a caller builds or passes in. */
export type DomainInfoFields = Omit<DomainInfo, keyof DeprecatedDomainInfoNames>;

/** Old name → new name, for the aliases' getters and the migration guide. */
export const DEPRECATED_DOMAIN_INFO_NAMES = {
  ssid_label: 'ssidLabel',
  never_stop: 'neverStop',
  shutdown_reason: 'shutdownReason',
  outstanding_memkb: 'outstandingMemoryKiB',
  current_memkb: 'memoryKiB',
  shared_memkb: 'sharedMemoryKiB',
  paged_memkb: 'pagedMemoryKiB',
  max_memkb: 'maxMemoryKiB',
  cpu_time: 'cpuTimeNs',
  vcpu_max_id: 'vcpuMaxId',
  vcpu_online: 'vcpusOnline',
  cpupool: 'cpupoolId',
  gpaddr_bits: 'gpaddrBits',
  domain_type: 'domainType',
} as const satisfies Record<keyof DeprecatedDomainInfoNames, keyof DomainInfoFields>;

const invert = <K extends string>(values: Record<K, number>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [v, k])) as Record<number, K>;
const REASON_NAME = invert<ShutdownReason>(ShutdownReasonValues);
const TYPE_NAME = invert<DomainType>(DomainTypeValues);
const FIELDS = 21; // per domain, in the order native/domain/list.cc writes them

// Every DomainInfo is one of these: plain data of one shape (a class, so V8 keeps one hidden
// class for a list of hundreds), with the deprecated names as getters on the prototype.
class DomainInfoRecord {
  domid: number;
  name: string | null;
  uuid: string;
  ssidref: number;
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  dying: boolean;
  neverStop: boolean;
  shutdownReason: ShutdownReason;
  outstandingMemoryKiB: number;
  memoryKiB: number;
  sharedMemoryKiB: number;
  pagedMemoryKiB: number;
  maxMemoryKiB: number;
  cpuTimeNs: number;
  vcpuMaxId: number;
  vcpusOnline: number;
  cpupoolId: number;
  gpaddrBits: number;
  domainType: DomainType;
  declare ssidLabel?: string;

  /** From the packed list: `f` the numbers from offset `o`, then the strings. */
  constructor(f: Float64Array | number[], o: number, uuid: string, name: string | null) {
    this.domid = f[o];
    this.name = name;
    this.uuid = uuid;
    this.ssidref = f[o + 1];
    this.running = f[o + 2] === 1;
    this.blocked = f[o + 3] === 1;
    this.paused = f[o + 4] === 1;
    this.shutdown = f[o + 5] === 1;
    this.dying = f[o + 6] === 1;
    this.neverStop = f[o + 7] === 1;
    this.shutdownReason = REASON_NAME[f[o + 8]] ?? 'unknown';
    this.outstandingMemoryKiB = f[o + 9];
    this.memoryKiB = f[o + 10];
    this.sharedMemoryKiB = f[o + 11];
    this.pagedMemoryKiB = f[o + 12];
    this.maxMemoryKiB = f[o + 13];
    this.cpuTimeNs = f[o + 14];
    this.vcpuMaxId = f[o + 15];
    this.vcpusOnline = f[o + 16];
    this.cpupoolId = f[o + 17];
    this.gpaddrBits = f[o + 18];
    this.domainType = TYPE_NAME[f[o + 19]] ?? 'invalid';
  }
}
for (const [old, now] of Object.entries(DEPRECATED_DOMAIN_INFO_NAMES)) {
  Object.defineProperty(DomainInfoRecord.prototype, old, {
    get(this: Record<string, unknown>) {
      return this[now];
    },
    enumerable: false,
  });
}

/** A DomainInfo (with the deprecated aliases) from its fields. */
export function domainInfo(fields: DomainInfoFields): DomainInfo {
  return Object.setPrototypeOf({ ...fields }, DomainInfoRecord.prototype) as DomainInfo;
}

/** Builds DomainInfo objects from the addon's packed list (see native/domain/list.cc). */
export function unpackDomainList([f, uuids, names, labels]: PackedDomains): DomainInfo[] {
  const n = f.length / FIELDS;
  const nameList = n > 0 ? names.split('\0') : [];
  const out: DomainInfo[] = new Array(n);
  for (let i = 0, o = 0; i < n; i++, o += FIELDS) {
    const d = new DomainInfoRecord(f, o, uuids.substr(i * 36, 36), f[o + 20] ? nameList[i] : null);
    if (labels[i] !== undefined) d.ssidLabel = labels[i];
    out[i] = d as unknown as DomainInfo;
  }
  return out;
}

const REASON_LETTER: Partial<Record<ShutdownReason, string>> = {
  poweroff: '-',
  reboot: 'r',
  suspend: 's',
  crash: 'c',
  watchdog: 'w',
  soft_reset: 'S',
};

/** The six state flags, as DomainInfo and DomainStats both carry them. */
export interface StateFlags {
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  dying: boolean;
  /** DomainInfo's; DomainStats has `crashed` instead. */
  shutdownReason?: ShutdownReason;
  crashed?: boolean;
}

/**
 * The State column of `xl list` ("r-----", "--ps--"…): xl's letters in xl's order, for a
 * DomainInfo or a DomainStats (whose fifth letter is "c" for a crash, else "-" or "?", since a
 * statistics sample carries no other shutdown reason).
 */
export function stateString(d: StateFlags): string {
  let reason = '-';
  if (d.shutdown) {
    if (d.shutdownReason !== undefined) reason = REASON_LETTER[d.shutdownReason] ?? '?';
    else reason = d.crashed ? 'c' : '?';
  }
  return (
    (d.running ? 'r' : '-') +
    (d.blocked ? 'b' : '-') +
    (d.paused ? 'p' : '-') +
    (d.shutdown ? 's' : '-') +
    reason +
    (d.dying ? 'd' : '-')
  );
}

/** The Mem column of `xl list`, in MiB. */
export function memoryMiB(d: Pick<DomainInfoFields, 'memoryKiB' | 'outstandingMemoryKiB'>): number {
  return Math.floor((d.memoryKiB + d.outstandingMemoryKiB) / 1024);
}
