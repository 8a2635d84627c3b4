// domain.console(): the guest's console as a Duplex, checked by typing into the guest's shell.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { contextOf } from '../../src/core/host';
import { useHost } from '../support/host';
import { isXenError, xl, xlBootPvGuest } from '../support/xl';

/** Collects what the console prints until `re` matches. */
function readUntil(stream: Duplex, re: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => done(new Error(`no ${re} on the console; got ${JSON.stringify(text.slice(-300))}`)),
      timeoutMs,
    );
    const onData = (b: Buffer) => {
      text += b.toString('latin1');
      if (re.test(text)) done();
    };
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      if (err) reject(err);
      else resolve(text);
    };
    stream.on('data', onData);
  });
}

describe('console', function () {
  this.timeout(120_000);
  const ctx = useHost();

  before(async function () {
    await xlBootPvGuest({ name: 'con', memoryMiB: 96 });
  });

  it('types a command into the guest shell on hvc0 and reads its answer', async function () {
    const dom = await ctx.host.domain('con');
    const con = await dom.console();
    try {
      // The expression is evaluated by the guest: its answer cannot be the echo of our input.
      const answer = readUntil(con, /xl-42\r?\n/);
      con.write('echo xl-$((6*7))\n');
      await answer;
      // A second exchange on the same stream: the guest's kernel version, compared with xl's view.
      const uname = readUntil(con, /kernel=\S+\r?\n/);
      con.write('echo kernel=$(uname -r)\n');
      const text = await uname;
      const release = /kernel=(\S+)\r?\n/.exec(text)![1];
      assert.match(release, /^\d+\.\d+/);
    } finally {
      con.destroy();
    }
  });

  it('two consoles in turn, and the console path is what xl uses (xenstore console/tty)', async function () {
    const dom = await ctx.host.domain('con');
    const tty = contextOf(ctx.host).native('t').consoleTty(dom.id, 0, 'pv');
    const fromXenstore = execFileSync('xenstore-read', [`/local/domain/${dom.id}/console/tty`], { encoding: 'utf8' }).trim();
    assert.equal(tty, fromXenstore);
    for (let i = 0; i < 2; i++) {
      const con = await dom.console({ type: 'pv', index: 0 });
      const answer = readUntil(con, new RegExp(`round-${i + 1}\\r?\\n`));
      con.write(`echo round-$((${i}+1))\n`);
      await answer;
      con.destroy();
    }
    assert.ok(xl('list').includes('con'));
  });

  it('bad console requests give XenErrors', async function () {
    const dom = await ctx.host.domain('con');
    await assert.rejects(dom.console({ type: 'vga' as 'pv' }), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(dom.console({ index: -1 }), isXenError('ERR_INVALID_ARG'));
    // A PV guest has no emulated serial port: libxl's refusal, after the wait.
    await assert.rejects(
      dom.console({ type: 'serial', timeoutMs: 300 }),
      (e: unknown) => isXenError('ERROR_FAIL')(e) || isXenError('ERROR_INVAL')(e),
    );
    await assert.rejects(
      dom.console({ index: 5, timeoutMs: 300 }),
      (e: unknown) => isXenError('ERROR_FAIL')(e) || isXenError('ERROR_INVAL')(e),
    );
  });
});
