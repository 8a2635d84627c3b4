// What `xl list` knows of a domain (libxl_dominfo) and the addon's packed form of a list of
// them: plain data, shared by Host, Domain and the feature modules.
import type { PackedDomains } from './native';
import type { DomainType, ShutdownReason } from '../generated/libxl-types';
import { DomainTypeValues, ShutdownReasonValues } from '../generated/libxl-types';

/**
 * What `xl list` knows of a domain: libxl_dominfo, every field present, with libxl's own key
 * names and enum strings, plus the domain's name.
 */
export interface DomainInfo {
  domid: number;
  /** null only in the moment a domain is being built or torn down. */
  name: string | null;
  uuid: string;
  ssidref: number;
  ssid_label?: string;
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  dying: boolean;
  never_stop: boolean;
  /** Meaningful when `shutdown` is true. */
  shutdown_reason: ShutdownReason;
  outstanding_memkb: number;
  current_memkb: number;
  shared_memkb: number;
  paged_memkb: number;
  max_memkb: number;
  /** CPU time used, in nanoseconds. */
  cpu_time: number;
  vcpu_max_id: number;
  vcpu_online: number;
  cpupool: number;
  gpaddr_bits: number;
  domain_type: DomainType;
}

const invert = <K extends string>(values: Record<K, number>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [v, k])) as Record<number, K>;
const REASON_NAME = invert<ShutdownReason>(ShutdownReasonValues);
const TYPE_NAME = invert<DomainType>(DomainTypeValues);
const FIELDS = 21; // per domain, in the order native/domain/list.cc writes them

/** Builds DomainInfo objects from the addon's packed list (see native/domain/list.cc). */
export function unpackDomainList([f, uuids, names, labels]: PackedDomains): DomainInfo[] {
  const n = f.length / FIELDS;
  const nameList = n > 0 ? names.split('\0') : [];
  const out: DomainInfo[] = new Array(n);
  for (let i = 0, o = 0; i < n; i++, o += FIELDS) {
    const d: DomainInfo = {
      domid: f[o],
      name: f[o + 20] ? nameList[i] : null,
      uuid: uuids.substr(i * 36, 36),
      ssidref: f[o + 1],
      running: f[o + 2] === 1,
      blocked: f[o + 3] === 1,
      paused: f[o + 4] === 1,
      shutdown: f[o + 5] === 1,
      dying: f[o + 6] === 1,
      never_stop: f[o + 7] === 1,
      shutdown_reason: REASON_NAME[f[o + 8]] ?? 'unknown',
      outstanding_memkb: f[o + 9],
      current_memkb: f[o + 10],
      shared_memkb: f[o + 11],
      paged_memkb: f[o + 12],
      max_memkb: f[o + 13],
      cpu_time: f[o + 14],
      vcpu_max_id: f[o + 15],
      vcpu_online: f[o + 16],
      cpupool: f[o + 17],
      gpaddr_bits: f[o + 18],
      domain_type: TYPE_NAME[f[o + 19]] ?? 'invalid',
    };
    if (labels[i] !== undefined) d.ssid_label = labels[i];
    out[i] = d;
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

/** The State column of `xl list` ("r-----", "--ps--"…). */
export function stateString(d: DomainInfo): string {
  const reason = d.shutdown ? (REASON_LETTER[d.shutdown_reason] ?? '?') : '-';
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
export function memoryMiB(d: DomainInfo): number {
  return Math.floor((d.current_memkb + d.outstanding_memkb) / 1024);
}
