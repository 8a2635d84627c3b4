// Live migration on one host: API to API over TCP, API to `xl migrate-receive`, `xl migrate`
// to the API; PV refused by this Xen build; a cut stream leaves the original running.
//
// The HVM guest is migrated only once it runs its idle boot code (waitForHvmIdle): a live
// migration that began while SeaBIOS was still probing the guest's CD once ended in a triple
// fault of the guest (Xen console: "d28v0 Triple fault - invoking HVM shutdown action 1", with
// the vCPU in SeaBIOS's 32-bit code), i.e. a reboot, which xl's monitor (from `xl create`)
// answered by restarting the guest under a new domid while libxl was still saving the old one.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import { Domain, Progress, XenError } from '../../src';
import { hvmGuestConfig, waitForHvmIdle } from '../../src/box/guests';
import { useHost } from '../support/host';
import { domainsInXenstore } from '../support/xenstore';
import { isXenError, until, xl, xlBootPvGuest, xlCreate, xlList, xlListLong } from '../support/xl';

/** A connected pair of TCP sockets on loopback (the box's dom0 has no other network). */
async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => client.once('connect', r).once('error', j));
  const other = await accepted;
  server.close();
  return [client, other];
}

/** Like tcpPair, but the connection is cut (both ways) after `limit` bytes from a to b. */
async function cutPair(limit: number): Promise<[net.Socket, net.Socket]> {
  const [a, aFar] = await tcpPair();
  const [bFar, b] = await tcpPair();
  let sent = 0;
  aFar.on('data', (chunk: Buffer) => {
    if (sent + chunk.length >= limit) {
      bFar.write(chunk.subarray(0, limit - sent));
      aFar.destroy();
      bFar.destroy();
      return;
    }
    sent += chunk.length;
    bFar.write(chunk);
  });
  bFar.on('data', (chunk: Buffer) => aFar.write(chunk));
  aFar.on('error', () => undefined);
  bFar.on('error', () => undefined);
  return [a, b];
}

/**
 * Like tcpPair, but the stream from a to b is corrupted: the ident of libxc's image header (the
 * 0xff×8 marker, then "XENF") is changed — past xl's and libxl's headers, so the receiver has
 * already made the domain when libxc reads it. Only bytes that could begin the ident are held
 * back (the sender waits for the receiver's answers between its headers: holding more would
 * stall both).
 */
async function corruptPair(): Promise<[net.Socket, net.Socket]> {
  const [a, aFar] = await tcpPair();
  const [bFar, b] = await tcpPair();
  const ident = Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from('XENF')]);
  let held: Buffer | null = Buffer.alloc(0);
  aFar.on('data', (chunk: Buffer) => {
    if (held === null) return void bFar.write(chunk);
    const buf = Buffer.concat([held, chunk]);
    const at = buf.indexOf(ident);
    if (at >= 0) {
      buf.write('XENX', at + 8, 'latin1');
      bFar.write(buf);
      held = null;
      return;
    }
    // The longest end of buf that is the start of the ident waits for the next chunk.
    let keep = Math.min(ident.length - 1, buf.length);
    while (keep > 0 && !buf.subarray(buf.length - keep).equals(ident.subarray(0, keep))) keep--;
    bFar.write(buf.subarray(0, buf.length - keep));
    held = Buffer.from(buf.subarray(buf.length - keep));
  });
  bFar.on('data', (chunk: Buffer) => aFar.write(chunk));
  aFar.on('end', () => bFar.end());
  bFar.on('end', () => aFar.end());
  aFar.on('error', () => bFar.destroy());
  bFar.on('error', () => aFar.destroy());
  return [a, b];
}

function running(name: string): { id: number; state: string } | undefined {
  return xlList().find((r) => r.name === name);
}

/**
 * Both sides' values. Both sides always finish first (a receiver left running would spill into
 * the next test); then the sender's error, if it failed, else the receiver's, is thrown as it
 * is (with its libxl details); the other side's is logged.
 */
async function both<A, B>(sender: Promise<A>, receiver: Promise<B>): Promise<[A, B]> {
  const [x, y] = await Promise.allSettled([sender, receiver]);
  if (x.status === 'fulfilled' && y.status === 'fulfilled') return [x.value, y.value];
  if (x.status === 'rejected' && y.status === 'rejected') console.log(`the receiver failed too: ${y.reason?.stack ?? y.reason}`);
  throw x.status === 'rejected' ? x.reason : (y as PromiseRejectedResult).reason;
}

/** Xen's console lines about domains (guest output and Xen's lines on them), for a failure. */
function xenConsoleTail(): string {
  return xl('dmesg')
    .split('\n')
    .filter((l) => /^\(d\d+\)|^\(XEN\) .*\bd\d+(v\d+)?\b/.test(l) && !/ (save|restore): /.test(l))
    .slice(-40)
    .join('\n');
}

describe('migration (HVM, on this host)', function () {
  this.timeout(300_000);
  const ctx = useHost();

  before(async function () {
    const domid = await xlCreate(hvmGuestConfig({ name: 'mig', memoryMiB: 128 }), 'mig');
    // Past its firmware: a received copy keeps running the same idle code.
    await waitForHvmIdle(domid);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      console.log(`xl list after the failure:\n${xl('list')}\nXen's console on domains (last lines):\n${xenConsoleTail()}`);
    }
  });

  it('API to API over TCP: one guest afterwards, new domid, same uuid, running; progress reported', async function () {
    const before = running('mig')!;
    const uuid = xlListLong().find((d) => d.domid === before.id)!.config as { c_info: { uuid: string } };
    const dom = await ctx.host.domain('mig');
    const [a, b] = await tcpPair();
    const sent: Progress[] = [];
    const got: Progress[] = [];
    const [, received] = await both(
      dom.migrate(a, { onProgress: (p) => sent.push(p) }),
      ctx.host.receiveMigration(b, { onProgress: (p) => got.push(p) }),
    );
    const after = xlList().filter((r) => r.name.startsWith('mig'));
    assert.equal(after.length, 1, `one guest: ${JSON.stringify(after)}`);
    assert.equal(after[0].name, 'mig');
    assert.equal(after[0].id, received.id);
    assert.notEqual(after[0].id, before.id);
    assert.notEqual(after[0].state[2], 'p', 'not paused');
    const cfg = xlListLong().find((d) => d.domid === received.id)!.config as { c_info: { uuid: string; name: string } };
    assert.equal(cfg.c_info.uuid, uuid.c_info.uuid);
    assert.equal(cfg.c_info.name, 'mig');
    assert.equal(received.uuid, uuid.c_info.uuid);
    const phases = (ps: Progress[]) => [...new Set(ps.map((p) => p.phase))];
    assert.deepEqual(phases(sent), ['handshake', 'transfer', 'switch-over', 'done']);
    assert.deepEqual(phases(got), ['handshake', 'transfer', 'switch-over', 'done']);
    const bytes = (ps: Progress[]) => Math.max(...ps.map((p) => p.bytes ?? 0));
    assert.ok(bytes(sent) > 100 * 2 ** 20, `a 128 MiB guest moved ${bytes(sent)} bytes`);
    assert.equal(bytes(sent), bytes(got), 'every byte sent was received');
    // Migrated on this host: the same guest (UUID) under a new domid, which the handle follows.
    assert.equal((await dom.info()).domid, received.id);
    assert.equal(dom.id, received.id);
  });

  it("API sender to `xl migrate-receive` (an xl child's stdio)", async function () {
    const before = running('mig')!;
    const child = spawn('xl', ['migrate-receive'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
    await (await ctx.host.domain('mig')).migrate(stream);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /migration target: Domain started successsfully/);
    const now = running('mig')!;
    assert.notEqual(now.id, before.id);
    assert.equal(xlList().filter((r) => r.name.startsWith('mig')).length, 1);
  });

  it('`xl migrate` to an API receiver (xl runs our receiver as its transport command)', async function () {
    const before = running('mig')!;
    const receiver = path.resolve(__dirname, '../support/receive-migration.js');
    const out = execFileSync('xl', ['migrate', '-s', '', 'mig', `node ${receiver}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    void out;
    const now = running('mig')!;
    assert.notEqual(now.id, before.id);
    assert.notEqual(now.state[2], 'p');
    assert.equal(xlList().filter((r) => r.name.startsWith('mig')).length, 1);
  });

  it('a stream cut halfway: both ends get XenErrors, the original runs on, nothing is left over', async function () {
    const before = running('mig')!;
    const dom = await ctx.host.domain('mig');
    const [a, b] = await cutPair(32 * 2 ** 20);
    const [sent, got] = await Promise.allSettled([dom.migrate(a), ctx.host.receiveMigration(b)]);
    assert.equal(sent.status, 'rejected');
    assert.equal(got.status, 'rejected');
    const se = (sent as PromiseRejectedResult).reason;
    const re = (got as PromiseRejectedResult).reason;
    assert.ok(se instanceof XenError, String(se));
    assert.ok(re instanceof XenError, String(re));
    const now = running('mig');
    assert.equal(now?.id, before.id, 'the original keeps its domid');
    assert.notEqual(now?.state[2], 'p', 'and was resumed');
    assert.deepEqual(
      xlList()
        .filter((r) => r.name.startsWith('mig'))
        .map((r) => r.name),
      ['mig'],
      'no mig--incoming left',
    );
    assert.deepEqual(domainsInXenstore().sort(), ['0', String(before.id)].sort(), 'xenstore holds dom0 and the original only');
    // Nor does Xen: the half-received domain dies (no "(null)" domain still holding memory).
    await until('the half-received domain to die', () => xlList().length <= 2, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; xl list:\n${xl('list')}`);
    });
    assert.deepEqual(
      xlList().map((r) => r.name),
      ['Domain-0', 'mig'],
      'xl list holds dom0 and the original only',
    );
    // And it still migrates afterwards.
    const [c, d] = await tcpPair();
    await both(dom.migrate(c), ctx.host.receiveMigration(d));
    assert.equal(xlList().filter((r) => r.name.startsWith('mig')).length, 1);
  });

  it("libxc's image header corrupted: typed errors on both ends, the original runs on, nothing left", async function () {
    const before = running('mig')!;
    const dom = await ctx.host.domain('mig');
    const [a, b] = await corruptPair();
    const [sent, got] = await Promise.allSettled([dom.migrate(a), ctx.host.receiveMigration(b)]);
    assert.equal(got.status, 'rejected', 'the receiver refused the stream');
    const re = (got as PromiseRejectedResult).reason;
    assert.ok(re instanceof XenError, String(re));
    assert.ok(
      re.details.some((l) => /ident|Invalid|stream/i.test(l)),
      `libxc's refusal in the details:\n${re.details.join('\n')}`,
    );
    assert.equal(sent.status, 'rejected', 'the sender saw the failure');
    assert.ok((sent as PromiseRejectedResult).reason instanceof XenError, String((sent as PromiseRejectedResult).reason));
    await onlyTheOriginal(before);
  });

  /** Nothing left but the original, running under its domid: in xl list and in xenstore. */
  async function onlyTheOriginal(before: { id: number }): Promise<void> {
    const now = running('mig');
    assert.equal(now?.id, before.id, 'the original keeps its domid');
    assert.notEqual(now?.state[2], 'p', 'and runs (was resumed)');
    await until('the half-received domain to go', () => xlList().length <= 2, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; xl list:\n${xl('list')}`);
    });
    assert.deepEqual(
      xlList().map((r) => r.name),
      ['Domain-0', 'mig'],
    );
    await until(
      'xenstore to hold dom0 and the original only',
      () => JSON.stringify(domainsInXenstore().sort()) === JSON.stringify(['0', String(before.id)].sort()),
      20_000,
    );
  }

  it("migrate({ signal }) aborted halfway: ERR_ABORTED, the receiver's copy destroyed, the original runs on; progress has the estimate", async function () {
    const before = running('mig')!;
    const dom = await ctx.host.domain('mig');
    const [a, b] = await tcpPair();
    const ac = new AbortController();
    const sent: Progress[] = [];
    const [se, re] = await Promise.allSettled([
      dom.migrate(a, {
        signal: ac.signal,
        onProgress: (p) => {
          sent.push(p);
          if ((p.bytes ?? 0) > 32 * 2 ** 20) ac.abort();
        },
      }),
      ctx.host.receiveMigration(b),
    ]);
    assert.equal(se.status, 'rejected');
    assert.ok(isXenError('ERR_ABORTED')((se as PromiseRejectedResult).reason), String((se as PromiseRejectedResult).reason));
    assert.equal(re.status, 'rejected');
    assert.ok((re as PromiseRejectedResult).reason instanceof XenError, String((re as PromiseRejectedResult).reason));
    // The estimate is the guest's memory (128 MiB, as xl list shows it).
    const estimate = sent.find((p) => p.estimateBytes !== undefined)?.estimateBytes ?? 0;
    assert.equal(Math.round(estimate / 2 ** 20), xlList().find((r) => r.name === 'mig')!.mem);
    assert.ok(Math.max(...sent.map((p) => p.bytes ?? 0)) < estimate, 'aborted before the first pass ended');
    await onlyTheOriginal(before);
  });

  it('receiveMigration({ signal }) aborted halfway: ERR_ABORTED, its copy destroyed, the sender resumes the original', async function () {
    const before = running('mig')!;
    const dom = await ctx.host.domain('mig');
    const [a, b] = await tcpPair();
    const ac = new AbortController();
    const [se, re] = await Promise.allSettled([
      dom.migrate(a),
      ctx.host.receiveMigration(b, { signal: ac.signal, onProgress: (p) => (p.bytes ?? 0) > 32 * 2 ** 20 && ac.abort() }),
    ]);
    assert.equal(re.status, 'rejected');
    assert.ok(isXenError('ERR_ABORTED')((re as PromiseRejectedResult).reason), String((re as PromiseRejectedResult).reason));
    assert.equal(se.status, 'rejected');
    assert.ok((se as PromiseRejectedResult).reason instanceof XenError, String((se as PromiseRejectedResult).reason));
    await onlyTheOriginal(before);
    // Signals already aborted: nothing starts; and the guest still migrates afterwards.
    const [e, f] = await tcpPair();
    await assert.rejects(dom.migrate(e, { signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
    await assert.rejects(ctx.host.receiveMigration(f, { signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
    e.destroy();
    f.destroy();
    const [c, d] = await tcpPair();
    await both(dom.migrate(c), ctx.host.receiveMigration(d));
    assert.equal(xlList().filter((r) => r.name.startsWith('mig')).length, 1);
  });
});

describe('migration of a PV guest (refused by this Xen build)', function () {
  this.timeout(180_000);
  const ctx = useHost();

  before(async function () {
    await xlBootPvGuest({ name: 'pvmig', memoryMiB: 96 });
  });

  it("fails in libxl with 'Failed to enable logdirty: 95', resumes the guest, leaves nothing behind", async function () {
    const before = running('pvmig')!;
    const dom: Domain = await ctx.host.domain('pvmig');
    const [a, b] = await tcpPair();
    const [sent, got] = await Promise.allSettled([dom.migrate(a), ctx.host.receiveMigration(b)]);
    assert.equal(sent.status, 'rejected');
    const se = (sent as PromiseRejectedResult).reason as XenError;
    assert.ok(se instanceof XenError, String(se));
    assert.ok(
      se.details.some((l) => /Failed to enable logdirty: 95/.test(l)),
      se.details.join('\n'),
    );
    assert.equal(got.status, 'rejected');
    assert.ok((got as PromiseRejectedResult).reason instanceof XenError);
    const now = running('pvmig');
    assert.equal(now?.id, before.id);
    assert.notEqual(now?.state[2], 'p');
    assert.deepEqual(domainsInXenstore().sort(), ['0', String(before.id)].sort());
    // xl itself refuses the same way.
    let xlErr = '';
    try {
      execFileSync('xl', ['migrate', '-s', '', 'pvmig', 'xl migrate-receive'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      xlErr = String((e as { stderr: string }).stderr);
    }
    assert.match(xlErr, /Failed to enable logdirty: 95/);
    assert.ok(xl('list').includes('pvmig'));
  });
});
