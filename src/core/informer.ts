// The informer (`host.watchDomains()`): a live map of the host's domains by UUID and the events
// that change it, the way Kubernetes clients keep informers. Driven by xenstore watches, never
// by polling: @introduceDomain/@releaseDomain (a domain built, shut down or gone) and, per
// domain, its name, memory target and vCPUs. Each notification leads to one `xl list`
// (coalesced), compared with the map.
import { EventEmitter } from 'node:events';
import type { DomainInfo } from './domain-info';
import type { NativeContext } from './native';

/** What changed in a `changed` event. */
export type DomainChange = 'state' | 'memory' | 'vcpus';

/** An event of the informer. `domain` is the domain as it is now (as last seen for `removed`). */
export type DomainInformerEvent =
  | { type: 'added'; domain: DomainInfo }
  | { type: 'changed'; domain: DomainInfo; previous: DomainInfo; changes: DomainChange[] }
  | { type: 'renamed'; domain: DomainInfo; previousName: string }
  /** The same guest (same UUID) under a new domid: a reboot with on_reboot = "restart". */
  | { type: 'restarted'; domain: DomainInfo; previousDomid: number }
  | { type: 'removed'; domain: DomainInfo };

/** The informer's events, by name: each type, and `event` for all of them. */
export type DomainInformerEvents = {
  [K in DomainInformerEvent['type']]: [Extract<DomainInformerEvent, { type: K }>];
} & { event: [DomainInformerEvent]; error: [unknown] };

/** Options of `host.watchDomains()`. */
export interface DomainInformerOptions {
  /** Closes the informer. */
  signal?: AbortSignal;
  /** Does not keep Node's event loop alive. */
  weak?: boolean;
  /**
   * Also lists the domains this often (ms). xenstore announces builds, shutdowns, deaths,
   * renames and memory and vCPU changes, but not a pause or an unpause: without a resync
   * those show at the next announced change. Default 0 (none).
   */
  resyncMs?: number;
  /**
   * How long (ms) a guest that shut down to reboot may stay away before it counts as removed
   * rather than restarted: its toolstack destroys it, then builds it again under a new domid.
   * Default 30 000.
   */
  restartGraceMs?: number;
}

/** @internal What the informer needs of its Host. */
export interface InformerSource {
  native(op: string): NativeContext;
  listDomains(): Promise<DomainInfo[]>;
}

const DOMAIN_PATHS = ['name', 'memory/target', 'cpu'];
/** Requests the guest acts on later (see followUp), and when to look again. */
const FOLLOWED = /^\/local\/domain\/\d+\/(memory\/target|cpu\/)/;
const FOLLOW_UP_MS = [250, 1000, 3000, 10_000];
const STATE_KEYS = ['paused', 'shutdown', 'dying', 'shutdownReason'] as const;
const MEMORY_KEYS = ['memoryKiB', 'maxMemoryKiB', 'outstandingMemoryKiB'] as const;
const VCPU_KEYS = ['vcpusOnline', 'vcpuMaxId'] as const;

function changesOf(a: DomainInfo, b: DomainInfo): DomainChange[] {
  const out: DomainChange[] = [];
  if (STATE_KEYS.some((k) => a[k] !== b[k])) out.push('state');
  if (MEMORY_KEYS.some((k) => a[k] !== b[k])) out.push('memory');
  if (VCPU_KEYS.some((k) => a[k] !== b[k])) out.push('vcpus');
  return out;
}

/** A guest that shut down to reboot: its toolstack builds it again. */
const restarting = (d: DomainInfo) => d.shutdown && (d.shutdownReason === 'reboot' || d.shutdownReason === 'soft_reset');

/**
 * A live map of the host's domains (by UUID) that emits `added`, `changed`, `renamed`,
 * `restarted` and `removed` (each also as `event`, with its `type`). Made by
 * `host.watchDomains()`, which resolves once the map holds the domains there are; those are not
 * announced as `added`. A domain being built or torn down (no name yet, or any more) is not in
 * the map. Errors of a resync are emitted as `error`.
 */
let makeInformer: (source: InformerSource, opts: DomainInformerOptions, onClose: () => void) => DomainInformer;

/** Host.watchDomains()'s way to make one (the constructor is not part of the API). */
export const newDomainInformer = (source: InformerSource, opts: DomainInformerOptions, onClose: () => void): DomainInformer =>
  makeInformer(source, opts, onClose);

export class DomainInformer extends EventEmitter<DomainInformerEvents> {
  private readonly known = new Map<string, DomainInfo>();
  /** Watch ids per domid. */
  private readonly watches = new Map<number, number[]>();
  /** Guests that shut down to reboot and are gone for now: UUID → (last seen, removal timer). */
  private readonly away = new Map<string, { last: DomainInfo; timer: NodeJS.Timeout }>();
  private scheduled = false;
  private running?: Promise<void>;
  private again = false;
  private resync?: NodeJS.Timeout;
  private followUps: NodeJS.Timeout[] = [];
  private native?: NativeContext;
  private closed = false;
  private readonly restartGraceMs: number;

  static {
    makeInformer = (source, opts, onClose) => new DomainInformer(source, opts, onClose);
  }

  /** Made by Host.watchDomains() (newDomainInformer; not part of the API). */
  private constructor(
    private readonly source: InformerSource,
    private readonly opts: DomainInformerOptions,
    private readonly onClose: () => void,
  ) {
    super();
    this.restartGraceMs = opts.restartGraceMs ?? 30_000;
  }

  /** The domains there are, by UUID. */
  get domains(): ReadonlyMap<string, DomainInfo> {
    return this.known;
  }

  /** @internal The first list; the watches. */
  async start(): Promise<this> {
    this.bind(this.source.native('watch domains'));
    for (const d of await this.source.listDomains()) {
      if (d.name === null) continue;
      this.known.set(d.uuid, d);
      this.watch(d.domid);
    }
    if (this.opts.resyncMs) this.resync = setInterval(() => this.schedule(), this.opts.resyncMs);
    if (this.opts.weak || !this.opts.resyncMs) this.resync?.unref();
    const signal = this.opts.signal;
    if (signal) {
      if (signal.aborted) this.close();
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
    return this;
  }

  private bind(native: NativeContext): void {
    this.native = native;
    if (!this.opts.weak) native.ref();
  }

  /** @internal The Host's new native context after xenstore came back: the watches again. */
  rebind(native: NativeContext): void {
    if (this.closed) return;
    this.watches.clear();
    this.bind(native);
    for (const d of this.known.values()) this.watch(d.domid);
    this.schedule();
  }

  /** @internal Every native notification of the Host. */
  onNative(kind: string, payload: string): void {
    if (this.closed) return;
    if (kind === 'domains' || (kind === 'xenstore' && payload.startsWith('/local/domain/'))) this.schedule();
    if (kind === 'xenstore' && FOLLOWED.test(payload)) this.followUp();
  }

  /**
   * A new memory target or vCPU request is a request: the guest balloons or takes vCPUs
   * offline after it, and writes nothing when done. So a few lists follow it.
   */
  private followUp(): void {
    for (const t of this.followUps) clearTimeout(t);
    this.followUps = FOLLOW_UP_MS.map((ms) => {
      const t = setTimeout(() => this.schedule(), ms);
      if (this.opts.weak) t.unref();
      return t;
    });
  }

  /** Stops the watches; no more events. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.resync);
    for (const t of this.followUps) clearTimeout(t);
    for (const { timer } of this.away.values()) clearTimeout(timer);
    this.away.clear();
    for (const id of this.watches.keys()) this.unwatch(id);
    if (!this.opts.weak) this.native?.unref();
    this.onClose();
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  private watch(domid: number): void {
    if (this.watches.has(domid) || !this.native) return;
    const native = this.native;
    this.watches.set(
      domid,
      DOMAIN_PATHS.map((p) => native.watchXenstore(`/local/domain/${domid}/${p}`)),
    );
  }

  private unwatch(domid: number): void {
    for (const id of this.watches.get(domid) ?? []) this.native?.unwatchXenstore(id);
    this.watches.delete(domid);
  }

  /** One list for a burst of notifications; one more if some came while it ran. */
  private schedule(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.sync()
        .catch((err: unknown) => {
          if (!this.closed && this.listenerCount('error') > 0) this.emit('error', err);
        })
        .finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.schedule();
          }
        });
    });
  }

  private send(ev: DomainInformerEvent): void {
    if (this.closed) return;
    const emitter = this as unknown as EventEmitter; // the event's type is its name
    emitter.emit(ev.type, ev);
    emitter.emit('event', ev);
  }

  private async sync(): Promise<void> {
    if (this.closed) return;
    const all = await this.source.listDomains();
    if (this.closed) return;
    const now = all.filter((d) => d.name !== null);
    // Being torn down: no name any more, but Xen still holds why it shut down (a reboot?).
    const tornDown = new Map(all.filter((d) => d.name === null).map((d) => [d.domid, d]));
    const seen = new Set<string>();
    for (const d of now) {
      seen.add(d.uuid);
      const prev = this.known.get(d.uuid);
      this.known.set(d.uuid, d);
      if (!prev) {
        const gone = this.away.get(d.uuid);
        this.watch(d.domid);
        if (gone) {
          clearTimeout(gone.timer);
          this.away.delete(d.uuid);
          this.send({ type: 'restarted', domain: d, previousDomid: gone.last.domid });
        } else this.send({ type: 'added', domain: d });
        continue;
      }
      if (prev.domid !== d.domid) {
        this.unwatch(prev.domid);
        this.watch(d.domid);
        this.send({ type: 'restarted', domain: d, previousDomid: prev.domid });
        continue;
      }
      if (prev.name !== d.name) this.send({ type: 'renamed', domain: d, previousName: prev.name! });
      const changes = changesOf(prev, d);
      if (changes.length > 0) this.send({ type: 'changed', domain: d, previous: prev, changes });
    }
    for (const [uuid, known] of this.known) {
      if (seen.has(uuid)) continue;
      this.known.delete(uuid);
      this.unwatch(known.domid);
      const end = tornDown.get(known.domid);
      const last = end?.uuid === uuid ? { ...end, name: known.name } : known;
      if (!restarting(last)) {
        this.send({ type: 'removed', domain: last });
        continue;
      }
      const timer = setTimeout(() => {
        this.away.delete(uuid);
        this.send({ type: 'removed', domain: last });
      }, this.restartGraceMs);
      if (this.opts.weak) timer.unref();
      this.away.set(uuid, { last, timer });
    }
  }
}
