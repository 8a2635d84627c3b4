// The one error class of the package, thrown by the TypeScript layer and by the native addon
// alike (the addon is handed this class at load time).
import type { ErrorCodes } from '../generated/libxl-types';

/** libxl's error names (ERROR_DOMAIN_NOTFOUND…) and the package's own codes. */
export type XenErrorCode =
  | keyof typeof ErrorCodes
  | 'ERR_CLOSED'
  | 'ERR_INVALID_ARG'
  /** An xl.cfg file that xl cannot read (its syntax). */
  | 'ERR_XLCFG_SYNTAX'
  | 'ERR_NOT_XEN'
  | 'ERR_NOT_DOM0'
  | 'ERR_PERMISSION'
  | 'ERR_NO_LIBXENLIGHT'
  /** The addon was built against another Xen version's libraries than this host has. */
  | 'ERR_XEN_ABI'
  /**
   * A domain configuration uses a field (or enum value) that the running libxl's Xen version does
   * not have, and libxl would silently ignore it; the message names the field.
   */
  | 'ERR_XEN_VERSION'
  | 'ERR_ADDON_LOAD'
  | 'ERR_INTERNAL'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  /** A stream given to save, restore or migration ended, failed or carried unexpected data. */
  | 'ERR_STREAM'
  /** The other end of a migration reported a failure. */
  | 'ERR_MIGRATION_TARGET'
  /** A device was written to xenstore but no backend took it (e.g. no QEMU for a qdisk disk). */
  | 'ERR_NO_BACKEND'
  /** A guest address that its vCPU's page tables do not map (or a frame that cannot be mapped). */
  | 'ERR_UNMAPPED'
  /** xenstored went away under the Host; it reconnects by itself once xenstored answers again. */
  | 'ERR_XENSTORE_LOST'
  | 'ENOTSUP';

export interface XenErrorProps {
  code: XenErrorCode;
  /** What was attempted, e.g. "domain info of 7". */
  op: string;
  /** The errno libxl reported with its error, where it did. */
  errno?: number;
  /** libxl's log lines from the failed call. */
  details?: string[];
  cause?: unknown;
}

export class XenError extends Error {
  override name = 'XenError';
  readonly code: XenErrorCode;
  readonly op: string;
  readonly errno?: number;
  readonly details: string[];

  constructor(message: string, props: XenErrorProps) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.code = props.code;
    this.op = props.op;
    if (props.errno !== undefined) this.errno = props.errno;
    this.details = props.details ?? [];
  }
}

/** ERR_ABORTED: `op` was aborted (by its signal, unless `how` says otherwise). */
export function abortedError(op: string, cause?: unknown, how = 'aborted'): XenError {
  return new XenError(`${op}: ${how}`, { code: 'ERR_ABORTED', op, cause });
}

/**
 * Checks a `signal` option when the call is made: an AbortSignal or nothing (else
 * ERR_INVALID_ARG), and not aborted yet (else ERR_ABORTED, before anything starts).
 */
export function checkSignal(op: string, signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArg(op, 'signal must be an AbortSignal');
  if (signal?.aborted) throw abortedError(op);
  return signal;
}

export function invalidArg(op: string, message: string): XenError {
  return new XenError(`${op}: ${message}`, { code: 'ERR_INVALID_ARG', op });
}

/** A failed file operation of ours (open, write) as a XenError, with its errno (ENOSPC…). */
export function fsError(op: string, err: unknown): XenError {
  if (err instanceof XenError) return err;
  const e = err as NodeJS.ErrnoException;
  return new XenError(`${op}: ${e?.message ?? String(err)}`, {
    code: 'ERR_STREAM',
    op,
    errno: typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined,
    cause: err,
  });
}

/** An operation that close() ended: what it had made is undone. */
export function closedError(op: string, cause?: unknown): XenError {
  return new XenError(`${op}: the host was closed during the operation`, { code: 'ERR_CLOSED', op, cause });
}
