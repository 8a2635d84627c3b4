// The internal interface between a Host and the modules that implement its features (devices,
// debugging, migration, the lifecycle monitor…). They depend on these interfaces, never on the
// Host or Domain classes, so the dependencies point one way: feature modules below, Host and
// Domain on top. Not part of the public API.
import type { DomainInfo } from './domain-info';
import type { DomainEvent, EventsOptions } from './events';
import type { NativeContext } from './native';

/** What a feature module may ask of the Host it runs under. */
export interface HostContext {
  /** The native context, or ERR_CLOSED (ERR_XENSTORE_LOST while xenstored is away). */
  native(op: string): NativeContext;
  /** Starts a native asynchronous operation that close() waits for. */
  track<T>(op: string, start: (ctx: NativeContext) => Promise<T>): Promise<T>;
  /**
   * A libxl asynchronous operation that `signal` can abort (libxl_ao_abort: libxl finishes it
   * early and undoes what it had done). Rejects with ERR_ABORTED when aborted.
   */
  trackAbortable<T>(
    op: string,
    signal: AbortSignal | undefined,
    start: (ctx: NativeContext, abortId: number) => Promise<T>,
  ): Promise<T>;
  /** Registers something close() must end first (a gdb server); returns its unregistration. */
  own(close: () => Promise<void>): () => void;
  /** The context is freed. */
  readonly closed: boolean;
  /** close() has begun. */
  readonly closing: boolean;
  /** Domain events, as Host.events(). */
  events(opts: EventsOptions): AsyncIterableIterator<DomainEvent>;
  /** `xl list`, as Host.listDomains(). */
  listDomains(): Promise<DomainInfo[]>;
}

/** What a feature module may ask of a domain handle (Domain implements it). */
export interface DomainHandle {
  readonly id: number;
  readonly uuid: string;
  /** The Host's context this handle works through. */
  readonly ctx: HostContext;
  info(): Promise<DomainInfo>;
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** After a failed device add on a domain that went away: remove what the add left. */
  removeLeftoversIfGone(): Promise<void>;
}
