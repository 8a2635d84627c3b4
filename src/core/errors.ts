// The one error class of the package, thrown by the TypeScript layer and by the native addon
// alike (the addon is handed these classes at load time). Bad arguments are its two argument
// errors, a TypeError and a RangeError that are also `instanceof XenError`.
import type { ErrorCodes } from '../generated/libxl-types';

/** libxl's error names (ERROR_DOMAIN_NOTFOUND…) and the package's own codes. */
export type XenErrorCode =
  | keyof typeof ErrorCodes
  | 'ERR_CLOSED'
  /** A bad argument (XenTypeError, XenRangeError), or input the call cannot take (a corrupt image). */
  | 'ERR_INVALID_ARG'
  /**
   * Something the package itself looked up is not there: a CPU pool, a device in a domain's list,
   * an input file (errno ENOENT). libxl's own lookups keep libxl's names (ERROR_DOMAIN_NOTFOUND…).
   */
  | 'ERR_NOT_FOUND'
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
  /** What this host, this guest or this Xen cannot do (no CMT, no tmem, a 32-bit PV guest…). */
  | 'ERR_UNSUPPORTED';

/** What an error means, for callers that check one thing per meaning (see {@link XEN_ERROR_KINDS}). */
export type XenErrorKind =
  | 'not-found'
  | 'invalid-argument'
  | 'unsupported'
  | 'io'
  | 'aborted'
  | 'closed'
  | 'permission'
  | 'timeout'
  | 'busy'
  | 'environment'
  | 'failed';

/**
 * The kind of every code: libxl's names and the package's own. A code outside it (libxl's
 * `ERROR_<n>` for a number this table does not know) is `'failed'`.
 */
export const XEN_ERROR_KINDS = {
  ERROR_NONSPECIFIC: 'failed',
  ERROR_VERSION: 'environment',
  ERROR_FAIL: 'failed',
  ERROR_NI: 'unsupported',
  ERROR_NOMEM: 'failed',
  ERROR_INVAL: 'invalid-argument',
  ERROR_BADFAIL: 'failed',
  ERROR_GUEST_TIMEDOUT: 'timeout',
  ERROR_TIMEDOUT: 'timeout',
  ERROR_NOPARAVIRT: 'unsupported',
  ERROR_NOT_READY: 'busy',
  ERROR_OSEVENT_REG_FAIL: 'failed',
  ERROR_BUFFERFULL: 'failed',
  ERROR_UNKNOWN_CHILD: 'failed',
  ERROR_LOCK_FAIL: 'busy',
  ERROR_JSON_CONFIG_EMPTY: 'invalid-argument',
  ERROR_DEVICE_EXISTS: 'busy',
  ERROR_CHECKPOINT_DEVOPS_DOES_NOT_MATCH: 'failed',
  ERROR_CHECKPOINT_DEVICE_NOT_SUPPORTED: 'unsupported',
  ERROR_VNUMA_CONFIG_INVALID: 'invalid-argument',
  ERROR_DOMAIN_NOTFOUND: 'not-found',
  ERROR_ABORTED: 'aborted',
  ERROR_NOTFOUND: 'not-found',
  ERROR_DOMAIN_DESTROYED: 'not-found',
  ERROR_FEATURE_REMOVED: 'unsupported',
  ERROR_PROTOCOL_ERROR_QMP: 'failed',
  ERROR_UNKNOWN_QMP_ERROR: 'failed',
  ERROR_QMP_GENERIC_ERROR: 'failed',
  ERROR_QMP_COMMAND_NOT_FOUND: 'unsupported',
  ERROR_QMP_DEVICE_NOT_ACTIVE: 'failed',
  ERROR_QMP_DEVICE_NOT_FOUND: 'not-found',
  ERROR_QEMU_API: 'failed',
  ERR_CLOSED: 'closed',
  ERR_INVALID_ARG: 'invalid-argument',
  ERR_NOT_FOUND: 'not-found',
  ERR_XLCFG_SYNTAX: 'invalid-argument',
  ERR_NOT_XEN: 'environment',
  ERR_NOT_DOM0: 'environment',
  ERR_PERMISSION: 'permission',
  ERR_NO_LIBXENLIGHT: 'environment',
  ERR_XEN_ABI: 'environment',
  ERR_XEN_VERSION: 'invalid-argument',
  ERR_ADDON_LOAD: 'environment',
  ERR_INTERNAL: 'failed',
  ERR_TIMEOUT: 'timeout',
  ERR_ABORTED: 'aborted',
  ERR_STREAM: 'io',
  ERR_MIGRATION_TARGET: 'failed',
  ERR_NO_BACKEND: 'failed',
  ERR_UNMAPPED: 'failed',
  ERR_XENSTORE_LOST: 'io',
  ERR_UNSUPPORTED: 'unsupported',
} as const satisfies Record<XenErrorCode, XenErrorKind>;

/** The kind of a code ({@link XEN_ERROR_KINDS}; `'failed'` for one it does not list). */
export function errorKind(code: string): XenErrorKind {
  return Object.hasOwn(XEN_ERROR_KINDS, code) ? XEN_ERROR_KINDS[code as XenErrorCode] : 'failed';
}

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

/**
 * Every error the package throws or rejects with. `code` names the condition (libxl's name when
 * libxl reported it), `kind` what it means. Bad arguments are {@link XenTypeError} (wrong type or
 * shape) and {@link XenRangeError} (a number out of range): a TypeError and a RangeError, as
 * Node's own checks throw, that are also `instanceof XenError`.
 */
export class XenError extends Error {
  /** True for a XenError and for the two argument errors (XenTypeError, XenRangeError). */
  static override [Symbol.hasInstance](value: unknown): value is XenError {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === XenError && (value instanceof XenTypeError || value instanceof XenRangeError);
  }

  override name = 'XenError';
  readonly code: XenErrorCode;
  /** What the code means ({@link XEN_ERROR_KINDS}). */
  readonly kind: XenErrorKind;
  readonly op: string;
  readonly errno?: number;
  readonly details: string[];

  constructor(message: string, props: XenErrorProps) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.code = props.code;
    this.kind = errorKind(props.code);
    this.op = props.op;
    if (props.errno !== undefined) this.errno = props.errno;
    this.details = props.details ?? [];
  }
}

/** What the two argument errors are made from: the call (`op`), and a cause or libxl lines. */
export type XenArgErrorProps = Pick<XenErrorProps, 'op' | 'details' | 'cause'>;

/**
 * A bad argument: of the wrong type or shape. Code ERR_INVALID_ARG, kind 'invalid-argument';
 * `instanceof XenError` is true too.
 */
export class XenTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG' as const;
  readonly kind = 'invalid-argument' as const;
  readonly op: string;
  readonly errno?: number;
  readonly details: string[];

  constructor(message: string, props: XenArgErrorProps) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.op = props.op;
    this.details = props.details ?? [];
  }
}

/**
 * A bad argument: a number out of its range. Code ERR_INVALID_ARG, kind 'invalid-argument';
 * `instanceof XenError` is true too.
 */
export class XenRangeError extends RangeError {
  readonly code = 'ERR_INVALID_ARG' as const;
  readonly kind = 'invalid-argument' as const;
  readonly op: string;
  readonly errno?: number;
  readonly details: string[];

  constructor(message: string, props: XenArgErrorProps) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.op = props.op;
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

/** A bad argument of `op`: of the wrong type or shape (XenTypeError, ERR_INVALID_ARG). */
export function invalidArg(op: string, message: string): XenTypeError {
  return new XenTypeError(`${op}: ${message}`, { op });
}

/** A bad argument of `op`: a number out of its range (XenRangeError, ERR_INVALID_ARG). */
export function outOfRange(op: string, message: string): XenRangeError {
  return new XenRangeError(`${op}: ${message}`, { op });
}

/**
 * A number argument that failed its check: out of range (XenRangeError) when it is a number or a
 * bigint, else of the wrong type (XenTypeError).
 */
export function badNumber(op: string, value: unknown, message: string): XenTypeError | XenRangeError {
  return typeof value === 'number' || typeof value === 'bigint' ? outOfRange(op, message) : invalidArg(op, message);
}

/** The code of a failed system call on a file of ours: ENOENT, EACCES/EPERM, else `otherwise`. */
export function errnoCode(code: string | undefined, otherwise: XenErrorCode = 'ERR_STREAM'): XenErrorCode {
  if (code === 'ENOENT') return 'ERR_NOT_FOUND';
  if (code === 'EACCES' || code === 'EPERM') return 'ERR_PERMISSION';
  return otherwise;
}

/**
 * A failed file operation of ours (open, write) as a XenError with its errno: ERR_NOT_FOUND for
 * ENOENT, ERR_PERMISSION for EACCES/EPERM, else ERR_STREAM (ENOSPC…).
 */
export function fsError(op: string, err: unknown): XenError {
  if (err instanceof XenError) return err;
  const e = err as NodeJS.ErrnoException;
  return new XenError(`${op}: ${e?.message ?? String(err)}`, {
    code: errnoCode(e?.code),
    op,
    errno: typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined,
    cause: err,
  });
}

/** An operation that close() ended: what it had made is undone. */
export function closedError(op: string, cause?: unknown): XenError {
  return new XenError(`${op}: the host was closed during the operation`, { code: 'ERR_CLOSED', op, cause });
}
