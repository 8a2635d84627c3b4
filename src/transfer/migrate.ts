// Live migration over any duplex stream, speaking xl's protocol (tools/xl/xl_migrate.c), so
// either end can be `xl`: `xl migrate-receive` on the other side of domain.migrate(), or
// host.receiveMigration() at the end of `xl migrate`'s command.
//
//   receiver → banner
//   sender   → xl's save header (magic, flags, the domain config JSON), libxl's live stream
//   receiver → "ready" (the domain is built, paused, under the name NAME--incoming)
//   sender   → renames its copy NAME--migratedaway, then "go"
//   receiver → renames to NAME, unpauses, "report" + one byte (0, or minus libxl's error)
//   sender   → destroys its copy on 0; otherwise waits for "go" and resumes its copy.
import type { Duplex } from 'node:stream';
import { unpackDomainList } from '../core/domain-info';
import type { DomainHandle, HostContext } from '../core/context';
import type { DomainInfo } from '../core/domain-info';
import type { MonitorOptions } from '../core/lifecycle';
import { checkConfigVersion, checkDomainConfig } from '../core/domain-config';
import { abortedError, checkSignal, closedError, invalidArg, XenError } from '../core/errors';
import { libxlXenVersion, type NativeContext } from '../core/native';
import { encodeSaveHeader, FIXED_HEADER_LENGTH, parseFixedHeader, parseImageConfig, parseOptionalData } from './saveimage';
import {
  expectMessage,
  isReadable,
  ownStream,
  isWritable,
  ProgressListener,
  readExact,
  withIncomingStream,
  withOutgoingStream,
  writeAll,
} from './streams';
import { ErrorCodes } from '../generated/libxl-types';

const BANNER = Buffer.from('xl migration receiver ready, send binary domain data.\n', 'latin1');
// These three go with their terminating NUL (xl sends sizeof the C string).
const READY = Buffer.from('domain received, ready to unpause\0', 'latin1');
const GO = Buffer.from('domain is yours, you are cleared to unpause\0', 'latin1');
const REPORT = Buffer.from('my copy unpause results are as follows\0', 'latin1');

const LIBXL_SUSPEND_DEBUG = 1;
const LIBXL_SUSPEND_LIVE = 2;

const ERROR_NAME = Object.fromEntries(Object.entries(ErrorCodes).map(([k, v]) => [-v, k])) as Record<number, string>;

export interface MigrateOptions {
  /** LIBXL_SUSPEND_DEBUG: libxl verifies the transfer (xl migrate --debug). */
  debug?: boolean;
  /** Phases 'handshake', 'transfer' (with bytes sent and the estimate), 'switch-over', 'done'. */
  onProgress?: ProgressListener;
  /**
   * Aborts the migration until the receiver is told to start the domain: rejects with
   * ERR_ABORTED, the domain runs on here, the receiver destroys its copy (it sees the stream
   * end). From then on the abort has no effect.
   */
  signal?: AbortSignal;
}

export interface ReceiveOptions extends MonitorOptions {
  /** Leave the received domain paused (xl migrate-receive -p). */
  paused?: boolean;
  /** Phases 'handshake', 'transfer' (with bytes received), 'switch-over', 'done'. */
  onProgress?: ProgressListener;
  /**
   * Aborts the receipt until the domain is started: rejects with ERR_ABORTED, the copy made
   * here is destroyed, the stream is ended (the sender resumes its domain).
   */
  signal?: AbortSignal;
}

function checkDuplex(stream: unknown, op: string): Duplex {
  if (!isReadable(stream) || !isWritable(stream)) throw invalidArg(op, 'migration needs a duplex stream');
  return stream as Duplex;
}

/** The sending side: `xl migrate`. */
export async function migrateDomain(dom: DomainHandle, stream: Duplex, opts: MigrateOptions): Promise<void> {
  const op = `migrate domain ${dom.id}`;
  checkDuplex(stream, op);
  const abort = abortFor(op, opts.signal);
  const progress = opts.onProgress ?? (() => undefined);
  const { name, memoryKiB } = await dom.info();
  const configJson = await dom.ctx.track(op, (c) => c.domainConfigJson(dom.id));
  const owned = ownStream(stream);
  try {
    // One operation for close() to wait for, with its resume or destroy at the end.
    await dom.ctx.track(op, (ctx) =>
      sendDomain(ctx, dom, stream, { name, configJson, estimateBytes: memoryKiB * 1024 }, flags(opts), progress, op, abort),
    );
  } finally {
    owned.finish();
  }
}

/** A migration's signal and its check at each step that libxl does not run. */
interface Abort {
  readonly signal?: AbortSignal;
  check(cause?: unknown): void;
}

function abortFor(op: string, signal: AbortSignal | undefined): Abort {
  checkSignal(op, signal);
  return {
    signal,
    check(cause) {
      if (signal?.aborted) throw abortedError(op, cause);
    },
  };
}

const flags = (opts: MigrateOptions) => LIBXL_SUSPEND_LIVE | (opts.debug ? LIBXL_SUSPEND_DEBUG : 0);

async function sendDomain(
  ctx: NativeContext,
  dom: DomainHandle,
  stream: Duplex,
  { name, configJson, estimateBytes }: { name: string | null; configJson: string; estimateBytes: number },
  suspendFlags: number,
  progress: ProgressListener,
  op: string,
  abort: Abort,
): Promise<void> {
  progress({ phase: 'handshake' });
  await expectMessage(stream, BANNER, op, "receiver's banner");
  abort.check();
  await writeAll(stream, encodeSaveHeader(configJson), op);

  progress({ phase: 'transfer', bytes: 0, estimateBytes });
  // Leaves the domain suspended (or resumed, if suspending failed or was aborted).
  await dom.ctx.trackAbortable(op, abort.signal, (c, abortId) =>
    withOutgoingStream(
      stream,
      op,
      { end: false, onBytes: (bytes) => progress({ phase: 'transfer', bytes, estimateBytes }) },
      (fd) => c.saveDomain(dom.id, fd, 2, suspendFlags, abortId),
    ),
  );

  progress({ phase: 'switch-over' });
  const awayName = name ? `${name}--migratedaway` : null;
  try {
    await expectMessage(stream, READY, op, "receiver's ready message");
    abort.check(); // the last moment: after "go" the receiver may run the domain
    if (name && awayName) ctx.rename(dom.id, awayName);
  } catch (err) {
    stream.end(); // as xl: the receiver sees end-of-stream and destroys its copy
    await ctx.resume(dom.id);
    throw err;
  }
  // From "go" on, the receiver may be running the domain: never resume here unasked.
  let status: number;
  try {
    await writeAll(stream, GO, op);
    await expectMessage(stream, REPORT, op, "receiver's report");
    status = (await readExact(stream, 1, op, "receiver's status"))[0];
  } catch (err) {
    throw new XenError(
      `${op}: migration failed during the final handshake (${(err as Error).message}); the ` +
        `domain's state is now undefined: check both ends for running instances (here it is ${awayName ?? dom.id}, ` +
        'suspended) before resuming at most one of them',
      { code: 'ERR_STREAM', op, cause: err },
    );
  }
  if (status === 0) {
    await ctx.destroy(dom.id);
    progress({ phase: 'done' });
    return;
  }
  await expectMessage(stream, GO, op, "receiver's permission to resume");
  if (name && awayName) ctx.rename(dom.id, name);
  await ctx.resume(dom.id);
  const code = ERROR_NAME[status] ?? `status ${status}`;
  throw new XenError(`${op}: the receiver could not start the domain (${code}); it was resumed here`, {
    code: 'ERR_MIGRATION_TARGET',
    op,
  });
}

/** The receiving side: `xl migrate-receive`. Resolves to the running (or paused) domain. */
export async function receiveMigration<D>(
  host: HostContext,
  adopt: (info: DomainInfo) => D,
  stream: Duplex,
  opts: ReceiveOptions,
): Promise<D> {
  const op = 'receive migration';
  checkDuplex(stream, op);
  if (opts.paused !== undefined && typeof opts.paused !== 'boolean') throw invalidArg(op, 'paused must be a boolean');
  const abort = abortFor(op, opts.signal);
  const progress = opts.onProgress ?? (() => undefined);
  const owned = ownStream(stream);
  try {
    // One operation for close() to wait for, with its destroy of a copy that cannot start.
    return await host.track(op, (ctx) => receiveDomain(ctx, host, adopt, stream, opts.paused ?? false, progress, op, abort));
  } finally {
    owned.finish();
  }
}

async function receiveDomain<D>(
  ctx: NativeContext,
  host: HostContext,
  adopt: (info: DomainInfo) => D,
  stream: Duplex,
  paused: boolean,
  progress: ProgressListener,
  op: string,
  abort: Abort,
): Promise<D> {
  progress({ phase: 'handshake' });
  await writeAll(stream, BANNER, op);
  const optLen = parseFixedHeader(await readExact(stream, FIXED_HEADER_LENGTH, op, 'the image header'), op);
  const configJson = parseOptionalData(await readExact(stream, optLen, op, 'the domain configuration'), op);
  const config = checkDomainConfig(parseImageConfig(configJson, op), op);
  checkConfigVersion(config, libxlXenVersion(ctx), op);
  const name = config.c_info!.name!;
  const incoming = `${name}--incoming`;
  config.c_info!.name = incoming;
  if (unpackDomainList(ctx.listDomains()).some((d) => d.name === incoming)) {
    throw invalidArg(op, `a domain named ${JSON.stringify(incoming)} exists`);
  }

  progress({ phase: 'transfer', bytes: 0 });
  // On failure, the caller ends the stream: the sender reads end-of-stream instead of "ready"
  // and resumes its copy.
  const domid = await host.trackAbortable(op, abort.signal, (c, abortId) =>
    withIncomingStream(stream, op, { onBytes: (bytes) => progress({ phase: 'transfer', bytes }) }, (fd) =>
      c.restoreDomain(JSON.stringify(config), fd, true, abortId),
    ),
  );

  progress({ phase: 'switch-over' });
  await writeAll(stream, READY, op);
  let failure: unknown;
  try {
    await expectMessage(stream, GO, op, "sender's permission to start");
    // A Host closed meanwhile could not watch the guest: the sender keeps (resumes) its own.
    if (host.closed || host.closing) throw closedError(op);
    abort.check(); // likewise after an abort: the report tells the sender to resume
    ctx.rename(domid, name);
    if (!paused) await ctx.unpause(domid);
  } catch (err) {
    failure = err;
  }
  const status = failure
    ? -((failure as XenError).code in ErrorCodes
        ? ErrorCodes[(failure as XenError).code as keyof typeof ErrorCodes]
        : ErrorCodes.ERROR_FAIL)
    : 0;
  try {
    await writeAll(stream, Buffer.concat([REPORT, Buffer.from([status & 0xff])]), op);
  } finally {
    if (failure) {
      await ctx.destroy(domid).catch(() => undefined);
      await writeAll(stream, GO, op).catch(() => undefined);
    }
  }
  if (failure) throw failure;
  progress({ phase: 'done' });
  const [info] = unpackDomainList(ctx.domainInfo(domid));
  // The caller's Domain for it, with the lifecycle monitor started as asked.
  return adopt(info);
}
