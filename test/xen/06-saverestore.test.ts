// save/restore in xl's image format, checked both ways against xl save / xl restore.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { Host, XenError } from '../../src';
import { consoleLogPath } from '../../src/box/guests';
import { SAVE_MAGIC } from '../../src/transfer/saveimage';
import { useHost } from '../support/host';
import { domainsInXenstore } from '../support/xenstore';
import { isXenError, sleep, until, xl, xlList, xlBootPvGuest } from '../support/xl';

/** The guest answers: a sysrq it gets shows on its console. */
async function alive(host: Host, name: string): Promise<void> {
  const log = consoleLogPath(name);
  const before = (fs.readFileSync(log, 'latin1').match(/sysrq: HELP/gi) ?? []).length;
  await (await host.domain(name)).sendSysrq('h');
  for (let i = 0; i < 80; i++) {
    if ((fs.readFileSync(log, 'latin1').match(/sysrq: HELP/gi) ?? []).length > before) return;
    await sleep(250);
  }
  throw new Error(`${name} did not answer a sysrq after restore`);
}

describe('save and restore (xl image format)', function () {
  this.timeout(120_000);
  const ctx = useHost();

  before(async function () {
    await xlBootPvGuest({ name: 'sr', memoryMiB: 96 });
  });

  it('domain.save() writes an image (0600) that `xl restore` restores; the guest runs on', async function () {
    const dom = await ctx.host.domain('sr');
    await dom.save('/tmp/sr-api.img');
    assert.ok(!xlList().some((r) => r.name === 'sr'), 'saved and destroyed, as xl save does');
    const st = fs.statSync('/tmp/sr-api.img');
    assert.equal(st.mode & 0o777, 0o600);
    const head = Buffer.alloc(32);
    const fd = fs.openSync('/tmp/sr-api.img', 'r');
    fs.readSync(fd, head, 0, 32, 0);
    fs.closeSync(fd);
    assert.ok(head.equals(SAVE_MAGIC));
    xl('restore', '/tmp/sr-api.img');
    assert.ok(
      xlList().some((r) => r.name === 'sr' && r.state[2] !== 'p'),
      'xl restored it, running',
    );
    await alive(ctx.host, 'sr');
  });

  it('host.restoreDomain() restores what `xl save` wrote; the guest runs on', async function () {
    xl('save', 'sr', '/tmp/sr-xl.img');
    assert.ok(!xlList().some((r) => r.name === 'sr'));
    const dom = await ctx.host.restoreDomain('/tmp/sr-xl.img');
    const row = xlList().find((r) => r.name === 'sr');
    assert.equal(row?.id, dom.id);
    assert.notEqual(row?.state[2], 'p');
    await alive(ctx.host, 'sr');
  });

  it('save({ keepRunning }) leaves the guest running; restore({ paused }) leaves it paused', async function () {
    const dom = await ctx.host.domain('sr');
    await dom.save('/tmp/sr-keep.img', { keepRunning: true });
    assert.ok(
      xlList().some((r) => r.id === dom.id && r.state[2] !== 'p'),
      'still running',
    );
    await alive(ctx.host, 'sr');
    await dom.destroy();
    const again = await ctx.host.restoreDomain('/tmp/sr-keep.img', { paused: true });
    assert.equal(xlList().find((r) => r.id === again.id)?.state[2], 'p');
    await again.unpause();
    await alive(ctx.host, 'sr');
  });

  it('saves to and restores from streams: through gzip, and a plain stream that `xl restore` reads', async function () {
    this.timeout(300_000); // gzip in an emulated CPU
    let dom = await ctx.host.domain('sr');
    const gz = zlib.createGzip({ level: 1 });
    const file = fs.createWriteStream('/tmp/sr.img.gz');
    const written = pipeline(gz, file);
    const saved: number[] = [];
    await dom.save(gz, { onProgress: (p) => saved.push(p.bytes ?? 0) });
    await written;
    assert.ok(!xlList().some((r) => r.name === 'sr'), 'saved and destroyed');
    assert.ok(Math.max(...saved) > 64 * 2 ** 20, `progress counted the stream: ${Math.max(...saved)} bytes`);
    const restored: number[] = [];
    dom = await ctx.host.restoreDomain(fs.createReadStream('/tmp/sr.img.gz').pipe(zlib.createGunzip()), {
      onProgress: (p) => restored.push(p.bytes ?? 0),
    });
    assert.equal(Math.max(...restored), Math.max(...saved), 'restore read what save wrote');
    assert.equal(xlList().find((r) => r.name === 'sr')?.id, dom.id);
    await alive(ctx.host, 'sr');
    // A plain stream into a file is a normal xl image.
    const out = fs.createWriteStream('/tmp/sr-stream.img');
    await dom.save(out);
    xl('restore', '/tmp/sr-stream.img');
    await alive(ctx.host, 'sr');
    // A stream cut short: a XenError, and the half-restored domain is gone.
    xl('save', 'sr', '/tmp/sr-stream.img');
    const whole = fs.readFileSync('/tmp/sr-stream.img');
    await assert.rejects(ctx.host.restoreDomain(Readable.from([whole.subarray(0, whole.length >> 1)])), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.match(e.code, /^ERROR_/);
      return true;
    });
    assert.ok(!xlList().some((r) => r.name === 'sr'), 'no half-restored domain');
    assert.deepEqual(domainsInXenstore(), ['0'], 'only dom0 left in xenstore');
    // A stream that fails: the error is the stream's.
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
    });
    await assert.rejects(ctx.host.restoreDomain(failing), isXenError('ERR_STREAM', /disk on fire/));
    xl('restore', '/tmp/sr-stream.img');
    await alive(ctx.host, 'sr');
    for (const f of ['/tmp/sr.img.gz', '/tmp/sr-stream.img']) fs.rmSync(f, { force: true });
  });

  it('save({ signal }) and restoreDomain({ signal }) abort halfway: ERR_ABORTED, the guest runs on, nothing half-made', async function () {
    const dom = await ctx.host.domain('sr');
    const img = '/tmp/sr-abort.img';
    fs.rmSync(img, { force: true });
    // A save to a file, aborted once the image has grown past 8 MiB (of ~100).
    const ac = new AbortController();
    const grown = until(
      'the image grows past 8 MiB',
      () => (fs.existsSync(img) ? fs.statSync(img).size : 0) > 8 * 2 ** 20,
      60_000,
    );
    const saving = dom.save(img, { signal: ac.signal });
    await grown;
    ac.abort();
    await assert.rejects(saving, isXenError('ERR_ABORTED'));
    assert.ok(!fs.existsSync(img), 'no half-written image');
    const row = xlList().find((r) => r.name === 'sr');
    assert.equal(row?.id, dom.id, 'the same domain, not destroyed');
    assert.notEqual(row?.state[2], 'p', 'running again');
    await alive(ctx.host, 'sr');
    // A whole image; then a restore from a stream aborted halfway through it.
    await dom.save(img);
    const ac2 = new AbortController();
    await assert.rejects(
      ctx.host.restoreDomain(fs.createReadStream(img), {
        signal: ac2.signal,
        onProgress: (p) => (p.bytes ?? 0) > 8 * 2 ** 20 && ac2.abort(),
      }),
      isXenError('ERR_ABORTED'),
    );
    assert.ok(!xlList().some((r) => r.name === 'sr'), 'no half-restored domain');
    assert.deepEqual(domainsInXenstore(), ['0'], 'only dom0 left in xenstore');
    // Aborted before the call: nothing starts. A signal that is not one: ERR_INVALID_ARG.
    await assert.rejects(ctx.host.restoreDomain(img, { signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
    await assert.rejects(ctx.host.restoreDomain(img, { signal: {} as AbortSignal }), isXenError('ERR_INVALID_ARG'));
    assert.ok(!xlList().some((r) => r.name === 'sr'));
    // The image is whole: the guest comes back from it.
    const back = await ctx.host.restoreDomain(img);
    await assert.rejects(back.save(img, { signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
    assert.ok(fs.existsSync(img), 'a save aborted before it started touched nothing');
    await alive(ctx.host, 'sr');
    fs.rmSync(img, { force: true });
  });

  it('close({ abort: true }) aborts a save in flight: ERR_ABORTED, the guest runs on, the Host closes', async function () {
    const other = await Host.open();
    const dom = await other.domain('sr');
    const img = '/tmp/sr-close.img';
    fs.rmSync(img, { force: true });
    const grown = until(
      'the image grows past 8 MiB',
      () => (fs.existsSync(img) ? fs.statSync(img).size : 0) > 8 * 2 ** 20,
      60_000,
    );
    const saving = dom.save(img);
    await grown;
    await other.close({ abort: true });
    assert.ok(other.closed);
    await assert.rejects(saving, isXenError('ERR_ABORTED', /aborted by close/));
    assert.ok(!fs.existsSync(img), 'no half-written image');
    const row = xlList().find((r) => r.name === 'sr');
    assert.equal(row?.id, dom.id, 'the same domain, not destroyed');
    assert.notEqual(row?.state[2], 'p', 'running again');
    await alive(ctx.host, 'sr');
    await assert.rejects(ctx.host.close({ abort: 'yes' as unknown as boolean }), isXenError('ERR_INVALID_ARG'));
    assert.ok(!ctx.host.closed);
  });

  it('bad images give clear errors and leave nothing behind', async function () {
    fs.writeFileSync('/tmp/not-an-image', 'hello');
    await assert.rejects(
      ctx.host.restoreDomain('/tmp/not-an-image'),
      isXenError('ERR_INVALID_ARG', /ends inside its header|wrong magic/),
    );
    fs.writeFileSync('/tmp/not-an-image', Buffer.alloc(4096, 1));
    await assert.rejects(ctx.host.restoreDomain('/tmp/not-an-image'), isXenError('ERR_INVALID_ARG', /not an xl save image/));
    await assert.rejects(ctx.host.restoreDomain('/tmp/no-such-file'), isXenError('ERR_NOT_FOUND', /ENOENT/));
    await assert.rejects(ctx.host.restoreDomain('/tmp/sr-keep.img'), isXenError('ERR_INVALID_ARG', /a domain named "sr" exists/));
    // A stream cut short: libxl fails, and the half-restored domain is gone.
    const dom = await ctx.host.domain('sr');
    await dom.destroy();
    const whole = fs.readFileSync('/tmp/sr-keep.img');
    fs.writeFileSync('/tmp/sr-cut.img', whole.subarray(0, Math.floor(whole.length / 3)));
    await assert.rejects(ctx.host.restoreDomain('/tmp/sr-cut.img'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.match(e.code, /^ERROR_/);
      assert.equal(e.op, 'restore domain');
      return true;
    });
    assert.ok(!xlList().some((r) => r.name === 'sr'), 'no half-restored domain');
    assert.deepEqual(domainsInXenstore(), ['0'], 'only dom0 left in xenstore');
    for (const f of ['/tmp/sr-api.img', '/tmp/sr-xl.img', '/tmp/sr-keep.img', '/tmp/sr-cut.img', '/tmp/not-an-image'])
      fs.rmSync(f, { force: true });
  });
});
