// What `xl create` leaves running in the background (xl_vmcontrol.c, handle_domain_death):
// when a guest shuts down, apply its configured action — on_poweroff, on_reboot, on_crash,
// on_watchdog, on_soft_reset — destroy it, restart it from its configuration, keep it, or
// dump its core first. Here the monitor lives in the Host that created the guest, as long as
// that Host is open; it never keeps Node's event loop alive by itself.
import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { HostContext } from './context';
import type { DomainInfo } from './domain-info';
import type { ActionOnShutdown, DomainConfig, ShutdownReason } from '../generated/libxl-types';

/** xl's defaults for actions a configuration leaves out. */
const DEFAULT_ACTION: Partial<Record<ShutdownReason, ActionOnShutdown>> = {
  poweroff: 'destroy',
  reboot: 'restart',
  crash: 'destroy',
  watchdog: 'destroy',
  soft_reset: 'soft_reset',
};

/** Where xl writes cores for the coredump-* actions (XEN_DUMP_DIR). */
export const DUMP_DIR = '/var/lib/xen/dump';

export interface LifecycleEvent {
  name: string;
  domid: number;
  reason: ShutdownReason;
  action: ActionOnShutdown;
  /** The restarted domain's domid (restart actions). */
  newDomid?: number;
  /** The core file written (coredump-* actions). */
  coreFile?: string;
  /** The name the old domain was kept under (restart_rename). */
  renamedTo?: string;
  /** Set when the action failed; the monitor stops for this guest. */
  error?: unknown;
}

export type LifecycleListener = (e: LifecycleEvent) => void;

export interface MonitorOptions {
  /**
   * Apply the guest's on_poweroff/on_reboot/on_crash/on_watchdog actions when it shuts down,
   * as xl's background monitor does (default true); the monitor lives while this Host is open.
   */
  monitor?: boolean;
  /** Told what the monitor did. */
  onLifecycle?: LifecycleListener;
}

/** What the monitor does to a domain (Domain has it). */
export interface MonitoredDomain {
  readonly id: number;
  info(): Promise<DomainInfo>;
  disks: { eject(vdev: string): Promise<void> };
  coreDump(file: string): Promise<void>;
  rename(name: string): Promise<void>;
  destroy(): Promise<void>;
}

/** What the monitor needs of its Host: the context, domain lookup, and create for restarts. */
export interface MonitorHost {
  ctx: HostContext;
  domain(domid: number): Promise<MonitoredDomain>;
  /** Creates a domain from a stored configuration (restart actions), unmonitored. */
  create(config: DomainConfig): Promise<{ id: number }>;
}

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}T${p(d.getHours())}${p(d.getMinutes())}`;
}

/** Watches one guest (and its restarts) until it is gone or `signal` aborts; resolves then. */
export async function monitorDomain(
  host: MonitorHost,
  domid: number,
  onEvent: LifecycleListener,
  signal: AbortSignal,
): Promise<void> {
  let current: number | undefined = domid;
  while (current !== undefined && !signal.aborted) current = await watchOnce(host, current, onEvent, signal);
}

/** Handles the guest's next shutdown; resolves to the domid to watch next, if any. */
async function watchOnce(
  host: MonitorHost,
  domid: number,
  onEvent: LifecycleListener,
  signal: AbortSignal,
): Promise<number | undefined> {
  let events;
  try {
    events = host.ctx.events({ domid, weak: true, signal, diskEjects: await cdromDrives(host, domid) });
  } catch {
    return undefined; // the host closed, or the domain is gone
  }
  try {
    for await (const ev of events) {
      if (ev.type === 'death') return undefined;
      if (ev.type === 'disk-eject') {
        // As xl's monitor does: the guest let go of the medium, so the drive is left empty.
        await host
          .domain(domid)
          .then((d) => d.disks.eject(ev.vdev))
          .catch(() => undefined);
        continue;
      }
      // A save or migration suspends the guest; whoever suspended it decides what follows. libxl
      // reports a domain's shutdown once per watch, so a guest that is resumed (a checkpoint, a
      // migration that failed) is watched afresh; one that is saved or migrated away is gone.
      if (ev.reason === 'suspend') return (await resumed(host, domid, signal)) ? domid : undefined;
      return await apply(host, domid, ev.reason, onEvent);
    }
  } catch {
    // The host closed under us.
  }
  return undefined;
}

/** Waits while a suspended guest stays suspended: true once it runs again, false once it is gone. */
async function resumed(host: MonitorHost, domid: number, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    try {
      if (!(await (await host.domain(domid)).info()).shutdown) return true;
    } catch {
      return false; // gone (saved, migrated away), or the host closed
    }
    // An unref'd timer: the monitor never keeps Node alive by itself.
    await new Promise((r) => setTimeout(r, 250).unref());
  }
  return false;
}

/** The CD-ROM drives of a domain (their ejects are watched, as xl's monitor does). */
async function cdromDrives(host: MonitorHost, domid: number): Promise<string[]> {
  const config = JSON.parse(await host.ctx.track(`config of domain ${domid}`, (c) => c.domainConfigJson(domid))) as DomainConfig;
  return (config.disks ?? []).filter((d) => d.is_cdrom && d.vdev).map((d) => d.vdev!);
}

async function apply(
  host: MonitorHost,
  domid: number,
  reason: ShutdownReason,
  onEvent: LifecycleListener,
): Promise<number | undefined> {
  const op = `apply the shutdown action of domain ${domid}`;
  let config: DomainConfig;
  try {
    config = JSON.parse(await host.ctx.track(op, (c) => c.domainConfigJson(domid))) as DomainConfig;
  } catch {
    return undefined; // already gone
  }
  const name = config.c_info?.name ?? String(domid);
  const key = `on_${reason}` as 'on_poweroff' | 'on_reboot' | 'on_crash' | 'on_watchdog' | 'on_soft_reset';
  const action: ActionOnShutdown = config[key] ?? DEFAULT_ACTION[reason] ?? 'destroy';
  const event: LifecycleEvent = { name, domid, reason, action };
  try {
    const dom = await host.domain(domid);
    switch (action) {
      case 'preserve':
        onEvent(event);
        return undefined;
      case 'soft_reset':
        // libxl_domain_soft_reset is for HVM guests that kexec; not offered here: keep the guest.
        throw new Error('the soft_reset action is not supported by xenlight; the domain is preserved');
      case 'coredump_destroy':
      case 'coredump_restart':
        fs.mkdirSync(DUMP_DIR, { recursive: true });
        event.coreFile = `${DUMP_DIR}/${name}`;
        await dom.coreDump(event.coreFile);
        break;
      case 'restart_rename':
        event.renamedTo = `${name}--${stamp()}`;
        await dom.rename(event.renamedTo);
        break;
      default:
        break;
    }
    if (action !== 'restart_rename') await dom.destroy();
    if (action === 'restart' || action === 'coredump_restart' || action === 'restart_rename') {
      // The kept copy holds the old UUID; the new domain needs its own.
      if (action === 'restart_rename' && config.c_info) config.c_info.uuid = randomUUID();
      const again = await host.create(config);
      event.newDomid = again.id;
      onEvent(event);
      return again.id;
    }
    onEvent(event);
    return undefined;
  } catch (err) {
    event.error = err;
    onEvent(event);
    return undefined;
  }
}
