// Domain events from libxl (domain death/shutdown, CD-ROM ejects), fanned out to async iterators.
import type { NativeContext } from './native';
import type { DeviceDisk, Event as LibxlEvent, ShutdownReason } from '../generated/libxl-types';
import { ShutdownReasonValues } from '../generated/libxl-types';

/**
 * A domain's event, with its domid, UUID and name (null when the domain had none, being built or
 * torn down).
 */
export type DomainEvent =
  | { type: 'shutdown'; domid: number; uuid: string; name: string | null; reason: ShutdownReason }
  | { type: 'death'; domid: number; uuid: string; name: string | null }
  /** The guest ejected the medium of a drive (its device model wrote `eject`); `disk` is the empty drive. */
  | { type: 'disk-eject'; domid: number; uuid: string; name: string | null; vdev: string; disk: DeviceDisk };

/** A DomainEvent as libxl reports it: without the name, which the hub adds. */
export type LibxlDomainEvent = DomainEvent extends infer E ? (E extends DomainEvent ? Omit<E, 'name'> : never) : never;

export interface EventsOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
  /** Only events of this domid. */
  domid?: number;
  /**
   * Only events of the domain with this UUID — under every domid it has: a guest restarted
   * under a new domid (a reboot with on_reboot = "restart") stays in the same iteration.
   */
  uuid?: string;
  /** Only events of domains with this name (whatever their domid or UUID). */
  name?: string;
  /** Does not keep Node's event loop alive (for monitors that live as long as the process). */
  weak?: boolean;
  /** Also report `disk-eject` events of these drives (vdevs such as `hdc`) of `domid`. */
  diskEjects?: string[];
}

const REASONS = Object.fromEntries(Object.entries(ShutdownReasonValues).map(([k, v]) => [v, k])) as Record<
  number,
  ShutdownReason
>;

/**
 * Turns libxl's JSON of a libxl_event into a DomainEvent (undefined for other kinds).
 * `ejectVdev` names the drive of a disk-eject registration (by the event's for_user): libxl 4.17
 * leaves the event's vdev (and its disk's vdev) unset.
 */
export function parseLibxlEvent(
  json: string,
  ejectVdev: (forUser: number) => string | undefined = () => undefined,
): LibxlDomainEvent | undefined {
  const ev = JSON.parse(json) as LibxlEvent;
  const domid = ev.domid ?? -1;
  const uuid = ev.domuuid ?? '';
  if (ev['type.domain_shutdown']) {
    const code = ev['type.domain_shutdown'].shutdown_reason ?? 0;
    return { type: 'shutdown', domid, uuid, reason: REASONS[code] ?? 'unknown' };
  }
  if (ev['type.domain_death']) return { type: 'death', domid, uuid };
  const eject = ev['type.disk_eject'];
  if (eject) {
    const vdev = eject.vdev || ejectVdev(ev.for_user ?? 0) || '';
    return { type: 'disk-eject', domid, uuid, vdev, disk: { ...eject.disk, vdev: eject.disk?.vdev || vdev } };
  }
  return undefined;
}

interface Subscriber {
  domid?: number;
  uuid?: string;
  name?: string;
  /** Its disk-eject watches (native ids). */
  ejects: number[];
  /** Why it ended early (a watch that could not be made again). */
  failed?: Error;
  queue: DomainEvent[];
  wake?: () => void;
  done: boolean;
}

/**
 * Keeps a libxl death/shutdown watch on every domain while anybody listens, adding domains as
 * xenstore announces them (@introduceDomain).
 */
export class EventHub {
  private subs = new Set<Subscriber>();
  private watched = new Map<number, number>(); // domid → native watch id
  private ejectVdevs = new Map<number, string>(); // native eject watch id → vdev
  /**
   * Name and UUID by domid as last listed: libxl's events carry neither (their domuuid is all
   * zeros), and a dead domain's event still carries what it had.
   */
  private known = new Map<number, { name: string | null; uuid: string }>();
  private error?: Error;
  private strong = 0; // subscribers that keep the loop alive

  constructor(
    private native: NativeContext,
    private readonly listDomains: () => { domid: number; name: string | null; uuid: string }[],
  ) {}

  /**
   * The Host replaced its native context (xenstore was lost): the old one's watches went with
   * it. Makes the disk-eject watches again (a subscription whose drive is gone ends with the
   * error), the death watches of every live domain, and the loop reference.
   */
  rebind(native: NativeContext): void {
    this.native = native;
    this.watched.clear();
    // A disaster libxl reported on the old context (its xenstore watches failing) ended the
    // subscriptions of that time; later ones start clean.
    this.error = undefined;
    const vdevs = new Map(this.ejectVdevs);
    this.ejectVdevs.clear();
    for (const s of this.subs) {
      s.ejects = s.ejects
        .map((old) => {
          const vdev = vdevs.get(old)!;
          try {
            const id = native.enableDiskEject(s.domid!, vdev);
            this.ejectVdevs.set(id, vdev);
            return id;
          } catch (err) {
            s.failed ??= err as Error;
            s.wake?.();
            return -1;
          }
        })
        .filter((id) => id >= 0);
    }
    if (this.strong > 0) native.ref();
    if (this.subs.size > 0) this.sync();
  }

  /** Called by the host for every native notification. */
  onNative(kind: string, payload: string): void {
    if (kind === 'domains') {
      if (this.subs.size > 0) this.sync();
      return;
    }
    if (kind === 'disaster') {
      this.error = new Error(payload);
      for (const s of this.subs) s.wake?.();
      return;
    }
    if (kind !== 'event') return; // xenstore watches of others (the informer's)
    const raw = parseLibxlEvent(payload, (id) => this.ejectVdevs.get(id));
    if (!raw) return;
    const ev = { ...raw, ...this.identity(raw.domid) } as DomainEvent;
    if (ev.type === 'death') {
      this.unwatch(ev.domid);
      this.known.delete(ev.domid);
    }
    for (const s of this.subs) {
      if (s.domid !== undefined && s.domid !== ev.domid) continue;
      if (s.uuid !== undefined && s.uuid !== ev.uuid) continue;
      if (s.name !== undefined && s.name !== ev.name) continue;
      s.queue.push(ev);
      s.wake?.();
    }
  }

  subscribe(opts: EventsOptions): AsyncIterableIterator<DomainEvent> {
    const sub: Subscriber = {
      domid: opts.domid,
      uuid: opts.uuid?.toLowerCase(),
      name: opts.name,
      ejects: [],
      queue: [],
      done: false,
    };
    // Eject watches belong to this subscription (libxl watches one drive per registration);
    // made first, so a bad vdev or domain throws before anything else is set up.
    const ejects = sub.ejects;
    try {
      for (const vdev of opts.diskEjects ?? []) {
        const id = this.native.enableDiskEject(opts.domid!, vdev);
        ejects.push(id);
        this.ejectVdevs.set(id, vdev);
      }
    } catch (err) {
      this.disableEjects(ejects);
      throw err;
    }
    if (!opts.weak && this.strong++ === 0) this.native.ref();
    this.subs.add(sub);
    // Watches are in place when events() returns, so nothing that happens next is missed.
    this.sync();
    const end = () => {
      if (sub.done) return;
      sub.done = true;
      this.disableEjects(sub.ejects);
      this.subs.delete(sub);
      sub.wake?.();
      if (!opts.weak && --this.strong === 0) this.native.unref();
      if (this.subs.size === 0) this.stop();
    };
    const onAbort = () => end();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) end();
    const failure = () => this.error ?? sub.failed;
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next(): Promise<IteratorResult<DomainEvent>> {
        for (;;) {
          if (sub.queue.length > 0) return { value: sub.queue.shift()!, done: false };
          const error = failure();
          if (error) {
            end();
            throw error;
          }
          if (sub.done) {
            opts.signal?.removeEventListener('abort', onAbort);
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => (sub.wake = resolve));
          sub.wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<DomainEvent>> {
        end();
        opts.signal?.removeEventListener('abort', onAbort);
        return { value: undefined, done: true };
      },
    };
  }

  /** Ends every iteration (the host is closing). */
  closeAll(): void {
    for (const s of [...this.subs]) {
      s.done = true;
      s.wake?.();
    }
    this.subs.clear();
    this.stop();
    if (this.strong > 0) this.native.unref();
    this.strong = 0;
  }

  private disableEjects(ids: number[]): void {
    for (const id of ids) {
      this.native.disableDiskEject(id);
      this.ejectVdevs.delete(id);
    }
  }

  /** A domain's name and UUID now, or as last listed if it is gone (or has no name any more). */
  private identity(domid: number): { name: string | null; uuid: string } {
    let now: { name: string | null; uuid: string } | undefined;
    try {
      now = this.listDomains().find((d) => d.domid === domid);
    } catch {
      // No list (xenstore lost): what was known.
    }
    const before = this.known.get(domid);
    if (now && before && before.uuid !== now.uuid) this.known.delete(domid); // a reused domid
    if (now?.name) this.known.set(domid, { name: now.name, uuid: now.uuid });
    const known = this.known.get(domid);
    return { name: now?.name ?? known?.name ?? null, uuid: now?.uuid ?? known?.uuid ?? '' };
  }

  private sync(): void {
    const domains = this.listDomains();
    for (const d of domains) if (d.name) this.known.set(d.domid, { name: d.name, uuid: d.uuid });
    const live = new Set(domains.map((d) => d.domid));
    for (const domid of live) {
      if (domid === 0 || this.watched.has(domid)) continue;
      try {
        this.watched.set(domid, this.native.enableDeathEvents(domid));
      } catch {
        // The domain went away between the list and the watch: nothing to report for it.
      }
    }
    // A watched domain missing from the list is not unwatched here: libxl reports its death
    // (and the death event unwatches it). @releaseDomain reaches us and libxl together; an
    // unwatch here, when ours came first, lost the death event.
  }

  private unwatch(domid: number): void {
    const id = this.watched.get(domid);
    if (id === undefined) return;
    this.watched.delete(domid);
    this.native.disableDeathEvents(id);
  }

  private stop(): void {
    for (const domid of [...this.watched.keys()]) this.unwatch(domid);
  }
}
