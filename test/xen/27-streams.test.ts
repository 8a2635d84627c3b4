// The stream pump between libxl's fd and Node streams, on its own: the fd side is written and
// read here as libxl would (plain write()/read() on its end of the socket pair), so a pump that
// loses bytes, hangs, or leaves listeners behind fails here before it reaches the box.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { withIncomingStream, withOutgoingStream } from '../../src/transfer/streams';
import { XenError } from '../../src/core/errors';

const write = promisify(fs.write);
const read = promisify(fs.read);

/** Writes `data` to fd in chunks, as libxl's save helper does. */
async function writeAllFd(fd: number, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length;) {
    const { bytesWritten } = await write(fd, data, off, Math.min(65536, data.length - off));
    off += bytesWritten;
  }
}

function collect(): { out: PassThrough; got: () => Buffer } {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  return { out, got: () => Buffer.concat(parts) };
}

describe('streams: the pump between libxl fds and Node streams', () => {
  it('withOutgoingStream forwards every byte, reports progress, ends the stream and removes its listeners', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const { out, got } = collect();
    const before = ['error', 'finish', 'close'].map((e) => out.listenerCount(e));
    let last = 0;
    const r = await withOutgoingStream(
      out,
      'save',
      {
        end: true,
        onBytes: (t) => {
          last = t;
        },
      },
      async (fd) => {
        await writeAllFd(fd, data);
        return 42;
      },
    );
    assert.equal(r, 42);
    assert.ok(out.writableEnded);
    assert.ok(got().equals(data));
    assert.equal(last, data.length);
    assert.deepEqual(
      ['error', 'finish', 'close'].map((e) => out.listenerCount(e)),
      before,
    );
  });

  it('withOutgoingStream: the operation failing rejects with its error and removes the listeners', async () => {
    const { out } = collect();
    const before = ['error', 'finish', 'close'].map((e) => out.listenerCount(e));
    await assert.rejects(
      withOutgoingStream(out, 'save', { end: true }, async () => {
        throw new Error('libxl failed');
      }),
      /libxl failed/,
    );
    assert.deepEqual(
      ['error', 'finish', 'close'].map((e) => out.listenerCount(e)),
      before,
    );
    assert.ok(!out.writableEnded);
  });

  it('withOutgoingStream: the other end closing makes the writer fail (EPIPE) instead of blocking', async () => {
    // A reader that stops taking data: the socket pair fills and the writer would block in
    // write() for ever unless the other end's close reaches it.
    const out = new Writable({
      highWaterMark: 1024,
      write() {
        /* never completes */
      },
    });
    out.on('error', () => undefined);
    setTimeout(() => out.destroy(), 50);
    const big = Buffer.alloc(64 * 1024 * 1024);
    await assert.rejects(
      withOutgoingStream(out, 'migrate', { end: true }, (fd) => writeAllFd(fd, big)),
      (e: Error) => /EPIPE|ECONNRESET|closed/.test(e.message),
    );
  });

  it('withIncomingStream feeds the fd everything and leaves the rest of the source unread', async () => {
    const src = new PassThrough();
    const payload = Buffer.from('x'.repeat(200000));
    src.end(payload);
    let last = 0;
    const got = await withIncomingStream(
      src,
      'restore',
      {
        onBytes: (t) => {
          last = t;
        },
      },
      async (fd) => {
        const buf = Buffer.alloc(payload.length);
        let have = 0;
        while (have < buf.length) {
          const { bytesRead } = (await read(fd, buf, have, buf.length - have, null)) as unknown as { bytesRead: number };
          if (bytesRead === 0) break;
          have += bytesRead;
        }
        return buf.subarray(0, have);
      },
    );
    assert.ok(got.equals(payload));
    assert.equal(last, payload.length);
  });

  it('withIncomingStream: a source failing gives an ERR_STREAM XenError', async () => {
    const src = new PassThrough();
    src.on('error', () => undefined); // the operation reports it
    setTimeout(() => src.destroy(new Error('connection reset')), 20);
    await assert.rejects(
      withIncomingStream(src, 'restore', {}, async (fd) => {
        const buf = Buffer.alloc(1024);
        const { bytesRead } = (await read(fd, buf, 0, 1024, null)) as unknown as { bytesRead: number };
        if (bytesRead === 0) throw new Error('end of stream');
        return bytesRead;
      }),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_STREAM' && /connection reset/.test(e.message),
    );
  });
});
