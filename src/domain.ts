// A handle on one domain, and the shape of domain information.
import type { Host } from './host';
import { XenError } from './errors';
import type { DomainConfig, DomainType, ShutdownReason } from './types/libxl';

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
    const info = this.host._native(`domain info of ${this.id}`).domainInfo(this.id) as DomainInfo;
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

  private gone(): XenError {
    return new XenError(`domain ${this.id} (${this.uuid}) no longer exists`,
      { code: 'ERROR_DOMAIN_NOTFOUND', op: `domain ${this.id}` });
  }
}
