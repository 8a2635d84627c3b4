// Reliability (issue #10): xenstored killed and started again while a Host is open. libxenstore
// closes a connection whose daemon went away and never reconnects, and libxl's context holds
// one, so the Host must notice, refuse calls with a typed error while xenstored is down, and
// make a new context once it answers — without hanging on dom0's /dev/xen/xenbus, which
// queues requests for a daemon that is not there.
//
// Runs last in the suite (99-): a xenstored started afresh has lost every node and every watch
// of the running system — dom0's kernel backends' watches and xenconsoled's among them — so
// guests with devices or consoles would not work in this box afterwards. Only a guest with no
// devices is made after the restart, and the check against xl is what xl sees then.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Host, XenError } from '../../src';
import { pvGuestConfig } from '../../src/box/guests';
import { destroyAllGuests, until, xlList } from '../support/xl';

const PIDFILE = '/run/xenstored.pid';
const alive = (pid: number) =>
  fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

/** What an operator does (and the box's boot): xenstored, dom0's nodes, and xenconsoled again —
 * the old xenconsoled's connection died with the old daemon, and libxl waits for a console's
 * tty from it when it creates a guest. */
function startXenstored(): void {
  execFileSync('xenstored', ['--pid-file', PIDFILE], { stdio: 'inherit' });
  execFileSync('xen-init-dom0', [], { stdio: 'ignore' });
  try {
    process.kill(Number(fs.readFileSync('/run/xenconsoled.pid', 'utf8')), 'SIGTERM');
  } catch {
    /* not running */
  }
  execFileSync('xenconsoled', ['--pid-file=/run/xenconsoled.pid', '--log=guest', '--log-dir=/var/log/xen/console'], {
    stdio: 'inherit',
  });
}

function isLost(err: unknown): boolean {
  assert.ok(err instanceof XenError, `not a XenError: ${String(err)}`);
  assert.equal(err.code, 'ERR_XENSTORE_LOST', err.message);
  assert.match(err.message, /xenstore connection is lost/);
  return true;
}

describe('xenstored killed and restarted with a Host open (issue #10; runs last)', function () {
  this.timeout(300_000);
  let host: Host | undefined;

  before(function () {
    destroyAllGuests();
  });

  after(async function () {
    await host?.close();
    if (!fs.existsSync(PIDFILE) || !alive(Number(fs.readFileSync(PIDFILE, 'utf8')))) startXenstored();
    destroyAllGuests();
  });

  it('rejects with ERR_XENSTORE_LOST while xenstored is down (no hang), then reconnects: lists, creates and destroys as before, against xl', async function () {
    host = await Host.open();
    const events = host.events({ weak: true });
    // A guest that lives through the restart (its xenstore nodes do not).
    const before = await host.createDomain(pvGuestConfig({ name: 'xs-before', memoryMiB: 96 }), { monitor: false });
    assert.deepEqual(
      (await host.listDomains()).map((d) => d.name),
      ['Domain-0', 'xs-before'],
    );

    const pid = Number(fs.readFileSync(PIDFILE, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await until('xenstored to die', () => !alive(pid), 10_000);

    // Calls that need xenstore find the connection gone: a typed error, at once.
    const t0 = Date.now();
    await assert.rejects(before.rename('xs-renamed'), isLost);
    // Every later call tries to reconnect first, and xenstored does not answer yet.
    await assert.rejects(host.listDomains(), (err) => isLost(err) && /does not answer/.test((err as Error).message));
    await assert.rejects(host.info(), isLost);
    await assert.rejects(host.createDomain(pvGuestConfig({ name: 'xs-during', memoryMiB: 96 })), isLost);
    assert.ok(Date.now() - t0 < 10_000, `the refusals took ${Date.now() - t0} ms`);
    assert.equal(host.closed, false);

    startXenstored();
    // The next call makes a new context on the new daemon. The guest's name went with the old
    // daemon's nodes; libxl lists it without one, as xl does.
    const doms = await host.listDomains();
    assert.deepEqual(
      doms.map((d) => d.domid),
      [0, before.id],
    );
    assert.equal(doms[0].name, 'Domain-0');
    assert.deepEqual(
      xlList().map((r) => r.id),
      [0, before.id],
    );
    assert.ok((await host.info()).cpus > 0);

    // Create and destroy as before, checked against xl; the new context's death watches report
    // to the subscription made before the restart.
    const after = await host.createDomain(pvGuestConfig({ name: 'xs-after', memoryMiB: 96 }), { monitor: false });
    assert.deepEqual(
      xlList()
        .map((r) => r.name)
        .filter((n) => n.startsWith('xs-')),
      ['xs-after'],
    );
    assert.equal((await host.listDomains()).find((d) => d.domid === after.id)?.name, 'xs-after');
    // xs-before first: the new xenstored never saw it introduced, so its death alone fires no
    // @releaseDomain; xs-after's death then makes libxl look at both.
    const dead = new Set<number>();
    await before.destroy();
    await after.destroy();
    while (dead.size < 2) {
      const { value, done } = await events.next();
      assert.ok(!done, 'events ended');
      if (value.type === 'death') dead.add(value.domid);
    }
    await events.return!();
    assert.deepEqual([...dead].sort(), [before.id, after.id].sort());
    assert.deepEqual(
      xlList().map((r) => r.name),
      ['Domain-0'],
    );
    assert.deepEqual(execFileSync('xenstore-list', ['/local/domain'], { encoding: 'utf8' }).split('\n').filter(Boolean), ['0']);
  });
});
