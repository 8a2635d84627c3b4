// libxl reads and writes its save/migration streams on a file descriptor. To speak them over
// any Node stream (a file stream, TCP, TLS, an ssh child's stdio), libxl gets one end of a
// socket pair and Node pumps the other end; the pump counts bytes for progress.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { XenError } from '../core/errors';
import { loadNative } from '../core/native';

/** Progress of a long operation: its phase, and for streams the bytes moved so far. */
/**
 * The steps of a long operation: a create's 'build', 'built', 'running'; a save's, restore's or
 * migration's 'handshake', 'transfer', 'switch-over', 'done'.
 */
export type ProgressPhase = 'build' | 'built' | 'running' | 'handshake' | 'transfer' | 'switch-over' | 'done';

export interface Progress {
  phase: ProgressPhase;
  /** Bytes moved so far, for stream phases ('transfer'). */
  bytes?: number;
  /**
   * What the sender expects to move, for a save or a migration's 'transfer': the guest's
   * memory, which the first pass sends (a live migration then sends the pages dirtied meanwhile
   * again, so `bytes` may pass it).
   */
  estimateBytes?: number;
  /** The domain, once it exists. */
  domid?: number;
}
export type ProgressListener = (p: Progress) => void;

function streamError(op: string, message: string, cause?: unknown): XenError {
  return new XenError(`${op}: ${message}`, { code: 'ERR_STREAM', op, cause });
}

/**
 * Reads exactly n bytes from a stream in paused mode; what it does not take is put back
 * (unshift), for whoever reads next. Works on byte and object-mode streams of Buffers.
 */
export async function readExact(src: Readable, n: number, op: string, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    while (have < n) {
      const chunk = src.read() as Buffer | string | Uint8Array | null;
      if (chunk !== null) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        parts.push(buf);
        have += buf.length;
        continue;
      }
      const failed = (src as Readable & { errored?: Error | null }).errored;
      if (failed) throw streamError(op, `the stream failed before ${what}: ${failed.message}`, failed);
      if (src.readableEnded || src.destroyed) throw streamError(op, `the stream ended before ${what}`);
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          src.off('readable', ok);
          src.off('end', ok);
          src.off('close', ok);
          src.off('error', done);
          if (err) reject(streamError(op, `the stream failed before ${what}: ${err.message}`, err));
          else resolve();
        };
        const ok = () => done();
        src.on('readable', ok);
        src.on('end', ok);
        src.on('close', ok);
        src.on('error', done);
      });
    }
  } catch (err) {
    if (parts.length && !src.destroyed) src.unshift(Buffer.concat(parts));
    throw err;
  }
  const all = Buffer.concat(parts);
  if (all.length > n) src.unshift(all.subarray(n));
  return all.subarray(0, n);
}

/** Reads an exact message (one of xl's migration handshake strings). */
export async function expectMessage(src: Readable, msg: Buffer, op: string, what: string): Promise<void> {
  const got = await readExact(src, msg.length, op, what);
  if (!got.equals(msg)) throw streamError(op, `the stream carried unexpected data instead of the ${what}`);
}

export async function writeAll(out: Writable, data: Buffer, op: string): Promise<void> {
  if (out.destroyed || out.writableEnded) throw streamError(op, 'the stream is closed');
  await new Promise<void>((resolve, reject) => {
    out.write(data, (err) => (err ? reject(streamError(op, `writing failed: ${err.message}`, err)) : resolve()));
  });
}

/**
 * Runs `run(fd)`, a libxl operation writing its stream to fd, and forwards everything it
 * writes into `out` (ended afterwards if `end`). Resolves when libxl is done and every byte
 * has been handed to `out`. If `out` fails, libxl's writes fail and so does the operation.
 */
export async function withOutgoingStream<T>(
  out: Writable,
  op: string,
  opts: { end: boolean; onBytes?: (total: number) => void },
  run: (fd: number) => Promise<T>,
): Promise<T> {
  const [libxlFd, nodeFd] = loadNative(op).streamPair();
  const sock = new net.Socket({ fd: nodeFd, readable: true, writable: false });
  let total = 0;
  let outError: Error | undefined;
  const onOutError = (err: Error) => {
    outError ??= err;
    sock.destroy(); // libxl's next write fails
  };
  // The other end closing the stream ends a socket's writable side too (allowHalfOpen false):
  // the pipe then stops reading libxl's side, and libxl would block in write() for ever.
  const onOutEnded = () => onOutError(new Error('the other end closed the stream'));
  out.on('error', onOutError);
  out.on('finish', onOutEnded);
  out.on('close', onOutEnded);
  const unlisten = () => {
    sock.unpipe(out); // a destroyed socket does not unpipe itself: pipe's listeners would stay on out
    out.off('error', onOutError);
    out.off('finish', onOutEnded);
    out.off('close', onOutEnded);
  };
  sock.on('data', (chunk: Buffer) => {
    total += chunk.length;
    opts.onBytes?.(total);
  });
  const forwarded = new Promise<void>((resolve, reject) => {
    sock.on('end', resolve);
    sock.on('close', () => (outError ? reject(outError) : resolve()));
    sock.on('error', reject);
  });
  forwarded.catch(() => undefined);
  sock.pipe(out, { end: false });
  let result: T;
  try {
    result = await run(libxlFd);
  } catch (err) {
    sock.destroy();
    unlisten();
    throw err;
  } finally {
    fs.closeSync(libxlFd); // libxl is done with it: Node's end sees EOF once drained
  }
  try {
    await forwarded;
  } catch (err) {
    throw streamError(op, `forwarding libxl's stream failed: ${(err as Error).message}`, err);
  } finally {
    unlisten();
  }
  if (outError) throw streamError(op, `the stream failed: ${outError.message}`, outError);
  if (opts.end) {
    await new Promise<void>((resolve, reject) => {
      out.end((err?: Error | null) =>
        err ? reject(streamError(op, `closing the stream failed: ${err.message}`, err)) : resolve(),
      );
    });
  }
  return result;
}

/**
 * Runs `run(fd)`, a libxl operation reading its stream from fd, and feeds it from `src`. If
 * `src` ends or fails early, libxl reads end-of-stream and the operation fails. Afterwards
 * `src` is left paused, with whatever followed libxl's stream still unread.
 */
export async function withIncomingStream<T>(
  src: Readable,
  op: string,
  opts: { onBytes?: (total: number) => void },
  run: (fd: number) => Promise<T>,
): Promise<T> {
  const [libxlFd, nodeFd] = loadNative(op).streamPair();
  const sock = new net.Socket({ fd: nodeFd, readable: false, writable: true });
  let total = 0;
  let srcError: Error | undefined;
  const onData = (chunk: Buffer) => {
    total += chunk.length;
    opts.onBytes?.(total);
  };
  const onSrcError = (err: Error) => {
    srcError = err;
    sock.destroy(); // libxl reads end-of-stream
  };
  const onSrcClose = () => sock.end();
  sock.on('error', () => undefined); // libxl closing its end early shows up as EPIPE here
  src.on('data', onData);
  src.on('error', onSrcError);
  src.on('close', onSrcClose);
  src.pipe(sock);
  try {
    return await run(libxlFd);
  } catch (err) {
    if (srcError) throw streamError(op, `the stream failed: ${srcError.message}`, err);
    throw err;
  } finally {
    src.unpipe(sock);
    src.off('data', onData);
    src.off('error', onSrcError);
    src.off('close', onSrcClose);
    src.pause();
    sock.destroy();
    fs.closeSync(libxlFd);
  }
}

export function isReadable(s: unknown): s is Readable {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as Readable).read === 'function' &&
    typeof (s as Readable).pipe === 'function'
  );
}

export function isWritable(s: unknown): s is Writable {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as Writable).write === 'function' &&
    typeof (s as Writable).end === 'function'
  );
}

/**
 * An operation that consumes a user's stream surfaces its errors through the operation's own
 * reads and writes (as a XenError); the stream's 'error' events are then absorbed, up to its
 * close, instead of crashing the process.
 */
export function absorbErrors(stream: Readable | Writable): void {
  const absorb = () => undefined;
  stream.on('error', absorb);
  stream.once('close', () => stream.off('error', absorb));
}

/**
 * A stream a migration owns until it ends it: errors absorbed; `finish()` ends our side and
 * drains what the other end still sends, so the stream reaches a clean end.
 */
export function ownStream(stream: Duplex): { finish(): void } {
  absorbErrors(stream);
  return {
    finish() {
      stream.end();
      stream.resume();
    },
  };
}
