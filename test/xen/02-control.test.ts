// libxl asynchronous operations through the loop hooks: pause/unpause/destroy of a real guest
// with a vif, whose hotplug script libxl runs as a child of this process.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { Host, XenError } from '../../src';
import { contextOf } from '../../src/core/host';
import { pvGuestConfig } from '../../src/box/guests';
import { guestRun } from '../support/guest';
import { useHost } from '../support/host';
import { suiteXen } from '../support/xen-version';
import { xl, xlCreate, xlList, xlBootPvGuest } from '../support/xl';

const run = promisify(execFile);

/** Child processes of this process that have exited but were never reaped. */
function zombies(): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === process.pid) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('Domain control (libxl ao on the loop)', function () {
  this.timeout(120_000);
  const ctx = useHost();
  let id: number;

  before(async function () {
    id = await xlBootPvGuest({ name: 'ctl-a', extra: ['vif = [ "bridge=xenbr0" ]'] });
  });

  it('pause() and unpause() show in xl list', async function () {
    const dom = await ctx.host.domain('ctl-a');
    await dom.pause();
    assert.equal(xlList().find((r) => r.id === id)?.state[2], 'p');
    assert.equal((await dom.info()).paused, true);
    await dom.unpause();
    assert.equal(xlList().find((r) => r.id === id)?.state[2], '-');
  });

  it(`suspend() and resume() (xl 4.20's suspend and resume): xl list shows it suspended, then running on; ${
    suiteXen() === '4.20' ? "xl 4.20's own commands do the same" : 'xl 4.17 has no such command'
  }`, async function () {
    const dom = await ctx.host.domain('ctl-a');
    const state = () => xlList().find((r) => r.id === id)?.state;
    await dom.suspend();
    // Shut down with reason suspend: xl list's "s" column, the domain still there.
    assert.equal(state()?.[3], 's', xl('list'));
    assert.deepEqual([(await dom.info()).shutdown, (await dom.info()).shutdownReason], [true, 'suspend']);
    await dom.resume();
    assert.equal(state()?.[3], '-', xl('list'));
    const alive = await guestRun(dom, 'echo resumed');
    assert.match(alive.out, /resumed/);
    if (suiteXen() === '4.20') {
      // Each side undoes the other's: xl's suspend, our resume; our suspend, xl's resume.
      xl('suspend', 'ctl-a');
      assert.equal(state()?.[3], 's');
      await dom.resume();
      assert.equal(state()?.[3], '-');
      await dom.suspend();
      xl('resume', 'ctl-a');
      assert.equal(state()?.[3], '-');
      assert.match((await guestRun(dom, 'echo again')).out, /again/);
    } else {
      const r = await run('xl', ['suspend', 'ctl-a']).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
      assert.match(r, /command not implemented/);
    }
  });

  it('destroy() runs libxl hotplug children next to Node children; the host is left clean', async function () {
    const dom = await ctx.host.domain('ctl-a');
    assert.match(xl('network-list', 'ctl-a'), /xenbr0|vif/i, 'the guest has a vif');
    const vifBackend = `/local/domain/0/backend/vif/${id}`;
    assert.ok(
      await run('xenstore-exists', [vifBackend]).then(
        () => true,
        () => false,
      ),
      'vif backend in xenstore',
    );
    const events = ctx.host.events({ domid: id });
    // Node children and libxl's hotplug script (vif-bridge offline) at the same time.
    const [, kids] = await Promise.all([
      dom.destroy(),
      Promise.all(Array.from({ length: 5 }, (_, i) => run('sh', ['-c', `sleep 0.${i}; echo ${i}`]))),
    ]);
    assert.deepEqual(
      kids.map((k) => k.stdout.trim()),
      ['0', '1', '2', '3', '4'],
    );
    assert.ok(!xlList().some((r) => r.id === id), 'gone from xl list');
    const death = await events.next();
    assert.equal(death.value?.type, 'death');
    await events.return?.();
    assert.equal(
      await run('xenstore-exists', [vifBackend]).then(
        () => true,
        () => false,
      ),
      false,
      'no vif backend left in xenstore',
    );
    assert.equal(
      await run('xenstore-exists', [`/local/domain/${id}`]).then(
        () => true,
        () => false,
      ),
      false,
      'no domain node left in xenstore',
    );
    assert.deepEqual(zombies(), [], 'no unreaped children');
  });

  it('destroy() of a domain that is gone rejects with ERROR_DOMAIN_NOTFOUND', async function () {
    const id2 = await xlCreate(pvGuestConfig({ name: 'ctl-b' }), 'ctl-b');
    const dom = await ctx.host.domain(id2);
    xl('destroy', String(id2));
    await assert.rejects(dom.destroy(), (e: unknown) => e instanceof XenError && e.code === 'ERROR_DOMAIN_NOTFOUND');
    // libxl itself: its completion callback runs inside the initiating call for an unknown
    // domain; the promise still settles later, from the loop.
    const native = contextOf(ctx.host).native('test');
    await assert.rejects(native.destroy(4242), (e: unknown) => {
      assert.ok(e instanceof XenError);
      assert.equal(e.code, 'ERROR_DOMAIN_NOTFOUND');
      assert.equal(e.op, 'destroy domain 4242');
      return true;
    });
    assert.equal(native.inFlight(), 0);
  });

  it('close() waits for operations in flight, then rejects new calls with ERR_CLOSED', async function () {
    const h = await Host.open();
    const id3 = await xlCreate(pvGuestConfig({ name: 'ctl-c' }), 'ctl-c');
    const dom = await h.domain(id3);
    const destroying = dom.destroy();
    await new Promise((r) => setImmediate(r));
    const closing = h.close();
    await assert.rejects(h.listDomains(), (e: unknown) => e instanceof XenError && e.code === 'ERR_CLOSED');
    await destroying;
    await closing;
    assert.equal(h.closed, true);
    assert.ok(!xlList().some((r) => r.id === id3));
  });
});
