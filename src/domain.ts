// A handle on one domain, and the shape of domain information.
import type { Host } from './host';
import type { PackedDomains } from './native';
import { XenError } from './errors';
import type { CpuSpec } from './cpulist';
import {
  DomainSchedulerParams, getDomainSched, listVcpus, pinVcpu, SetSchedParams, setDomainSched, VcpuInfo,
} from './sched';
import type { DomainConfig, DomainType, ShutdownReason } from './types/libxl';
import { DomainTypeValues, ShutdownReasonValues } from './types/libxl';

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
const FIELDS = 21; // per domain, in the order native/domain.cc writes them

/** Builds DomainInfo objects from the addon's packed list (see native/domain.cc). */
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
  poweroff: '-', reboot: 'r', suspend: 's', crash: 'c', watchdog: 'w', soft_reset: 'S',
};

/** The State column of `xl list` ("r-----", "--ps--"…). */
export function stateString(d: DomainInfo): string {
  const reason = d.shutdown ? (REASON_LETTER[d.shutdown_reason] ?? '?') : '-';
  return (d.running ? 'r' : '-') + (d.blocked ? 'b' : '-') + (d.paused ? 'p' : '-') +
    (d.shutdown ? 's' : '-') + reason + (d.dying ? 'd' : '-');
}

/** The Mem column of `xl list`, in MiB. */
export function memoryMiB(d: DomainInfo): number {
  return Math.floor((d.current_memkb + d.outstanding_memkb) / 1024);
}

/**
 * One domain. The handle remembers the domain's UUID, so a handle whose domain has gone never
 * silently answers for a later domain that reuses the domid.
 */
export class Domain {
  /** @internal */
  constructor(private readonly host: Host, readonly id: number, readonly uuid: string) {}

  /** Current information (`xl list <domain>`). */
  async info(): Promise<DomainInfo> {
    const [info] = unpackDomainList(this.host._native(`domain info of ${this.id}`).domainInfo(this.id));
    if (info.uuid !== this.uuid) throw this.gone();
    return info;
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
    const native = this.host._native(op);
    const json = native.domainConfigJson(this.id);
    const config = JSON.parse(json) as DomainConfig;
    if (config.c_info?.uuid !== undefined && config.c_info.uuid !== this.uuid) throw this.gone();
    return config;
  }

  /**
   * Destroys the domain at once (`xl destroy`): libxl tears down its devices, running the
   * hotplug scripts as children of this process, and the promise settles when it is gone.
   */
  async destroy(): Promise<void> {
    await this.info();
    await this.host._track(`destroy domain ${this.id}`, (ctx) => ctx.destroy(this.id));
  }

  /** Pauses every vCPU (`xl pause`). */
  async pause(): Promise<void> {
    await this.info();
    await this.host._track(`pause domain ${this.id}`, (ctx) => ctx.pause(this.id));
  }

  /** Lets a paused domain run again (`xl unpause`). */
  async unpause(): Promise<void> {
    await this.info();
    await this.host._track(`unpause domain ${this.id}`, (ctx) => ctx.unpause(this.id));
  }

  /** Scheduler parameters under the scheduler of the domain's pool (`xl sched-*`). */
  async schedParams(): Promise<DomainSchedulerParams> {
    await this.info();
    return getDomainSched(this.host._native(`scheduler parameters of domain ${this.id}`), this.id);
  }

  /**
   * Sets weight/cap (credit, credit2) or period/budget/extratime of some or all vCPUs (RTDS).
   * Parameters of another scheduler are refused with ERR_INVALID_ARG.
   */
  async setSchedParams(params: SetSchedParams): Promise<void> {
    const info = await this.info();
    setDomainSched(this.host._native(`set scheduler parameters of domain ${this.id}`), this.id, info.vcpu_max_id + 1, params);
  }

  /** `xl vcpu-list`. */
  async vcpus(): Promise<VcpuInfo[]> {
    await this.info();
    return listVcpus(this.host._native(`vCPUs of domain ${this.id}`), this.id);
  }

  /**
   * `xl vcpu-pin`: hard and soft affinity of a vCPU or of all, as CPU lists in xl's syntax
   * ("0-1", "all", "node:0", "all,^1") or arrays; null leaves that affinity as it is.
   */
  async pinVcpu(vcpu: number | 'all', hard: CpuSpec | null, soft: CpuSpec | null = null): Promise<void> {
    const info = await this.info();
    pinVcpu(this.host._native(`pin vCPU of domain ${this.id}`), this.id, info.vcpu_max_id + 1, vcpu, hard, soft);
  }

  private gone(): XenError {
    return new XenError(`domain ${this.id} (${this.uuid}) no longer exists`,
      { code: 'ERROR_DOMAIN_NOTFOUND', op: `domain ${this.id}` });
  }
}
