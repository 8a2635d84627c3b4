// The informer (#25): host.watchDomains() keeps a live map of the domains by UUID and reports
// what xl does from outside — create, rename, mem-set, vcpu-set, reboot, destroy — each checked
// against what xl then shows.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { DomainInformer, DomainInformerEvent, XenError } from '../../src';
import { consoleLogPath, waitForConsole } from '../../src/box/guests';
import { useHost } from '../support/host';
import { until, xl, xlBootPvGuest, xlList, xlUuid } from '../support/xl';

/** Every event of an informer, and a way to wait for one. */
function record(informer: DomainInformer) {
  const events: DomainInformerEvent[] = [];
  informer.on('event', (e: DomainInformerEvent) => events.push(e));
  return {
    events,
    /** The first event after the `from`-th that matches. */
    async next<T extends DomainInformerEvent>(
      what: string,
      pred: (e: DomainInformerEvent) => e is T,
      from = 0,
      ms = 60_000,
    ): Promise<T> {
      const find = () => events.slice(from).find(pred) as T | undefined;
      await until(`informer: ${what} (seen: ${events.map((e) => e.type).join(', ')})`, () => find() !== undefined, ms);
      return find()!;
    },
  };
}

const is =
  <K extends DomainInformerEvent['type']>(type: K, uuid: string) =>
  (e: DomainInformerEvent): e is Extract<DomainInformerEvent, { type: K }> =>
    e.type === type && e.domain.uuid === uuid;

describe('the informer: host.watchDomains()', function () {
  this.timeout(240_000);
  const ctx = useHost();

  it('follows xl create, rename, mem-set, vcpu-set, reboot and destroy done from outside', async function () {
    const informer = await ctx.host.watchDomains();
    try {
      const dom0 = informer.domains.get(xlUuid('Domain-0'));
      assert.deepEqual([dom0?.domid, dom0?.name], [0, 'Domain-0']);
      const rec = record(informer);

      const id = await xlBootPvGuest({ name: 'inf-a', memoryMiB: 128, vcpus: 2 });
      const uuid = xlUuid('inf-a');
      const added = await rec.next('added inf-a', is('added', uuid));
      assert.deepEqual([added.domain.domid, added.domain.name], [id, 'inf-a']);
      assert.equal(informer.domains.get(uuid)?.domid, id);

      xl('rename', 'inf-a', 'inf-b');
      const renamed = await rec.next('renamed', is('renamed', uuid));
      assert.deepEqual([renamed.previousName, renamed.domain.name], ['inf-a', 'inf-b']);
      assert.equal(informer.domains.get(uuid)?.name, 'inf-b');

      const beforeMemSet = rec.events.length;
      xl('mem-set', 'inf-b', '112m');
      await until('xl list shows 112 MiB', () => xlList().find((r) => r.id === id)?.mem === 112, 30_000);
      // No resync: only the events brought the map there.
      const mem = await rec.next(
        'memory changed to 112 MiB',
        (e): e is Extract<DomainInformerEvent, { type: 'changed' }> =>
          is('changed', uuid)(e) && e.changes.includes('memory') && Math.round(e.domain.memoryKiB / 1024) === 112,
        beforeMemSet,
      );
      assert.ok(mem.previous.memoryKiB > mem.domain.memoryKiB);
      assert.equal(Math.round(informer.domains.get(uuid)!.memoryKiB / 1024), 112);

      const beforeVcpuSet = rec.events.length;
      xl('vcpu-set', 'inf-b', '1');
      await until('xl list shows 1 vCPU', () => xlList().find((r) => r.id === id)?.vcpus === 1, 30_000);
      const vcpus = await rec.next(
        'vCPUs changed',
        (e): e is Extract<DomainInformerEvent, { type: 'changed' }> =>
          is('changed', uuid)(e) && e.changes.includes('vcpus') && e.domain.vcpusOnline === 1,
        beforeVcpuSet,
      );
      assert.equal(vcpus.previous.vcpusOnline, 2);

      fs.rmSync(consoleLogPath('inf-b'), { force: true });
      xl('reboot', 'inf-b');
      const restarted = await rec.next('restarted', is('restarted', uuid));
      await waitForConsole('inf-b', /xenlight-guest: up/);
      const newId = xlList().find((r) => r.name === 'inf-b')!.id;
      assert.deepEqual([restarted.previousDomid, restarted.domain.domid, restarted.domain.name], [id, newId, 'inf-b']);
      assert.equal(informer.domains.get(uuid)?.domid, newId);
      assert.ok(
        rec.events.some((e) => is('changed', uuid)(e) && e.domain.shutdown && e.domain.shutdownReason === 'reboot'),
        'the shutdown for the reboot was seen',
      );
      assert.ok(!rec.events.some((e) => is('removed', uuid)(e)), 'a restart is not a removal');

      xl('destroy', 'inf-b');
      const removed = await rec.next('removed', is('removed', uuid));
      assert.equal(removed.domain.domid, newId);
      assert.equal(informer.domains.has(uuid), false);
      assert.ok(!xlList().some((r) => r.name === 'inf-b'));
      // Every event came in the order xl caused them.
      const order = rec.events.filter((e) => e.domain.uuid === uuid && e.type !== 'changed').map((e) => e.type);
      assert.deepEqual(order, ['added', 'renamed', 'restarted', 'removed']);
    } finally {
      informer.close();
      for (const n of ['inf-a', 'inf-b']) if (xlList().some((r) => r.name === n)) xl('destroy', n);
    }
  });

  it('a pause shows with resyncMs (xenstore does not announce it); closing stops the events', async function () {
    const id = await xlBootPvGuest({ name: 'inf-p', memoryMiB: 96 });
    const uuid = xlUuid('inf-p');
    const informer = await ctx.host.watchDomains({ resyncMs: 300 });
    try {
      const rec = record(informer);
      xl('pause', 'inf-p');
      const paused = await rec.next(
        'paused',
        (e): e is Extract<DomainInformerEvent, { type: 'changed' }> => is('changed', uuid)(e) && e.domain.paused,
      );
      assert.deepEqual([paused.domain.domid, paused.changes], [id, ['state']]);
      assert.match(xlList().find((r) => r.id === id)!.state, /p/);
      informer.close();
      const n = rec.events.length;
      xl('unpause', 'inf-p');
      xl('destroy', 'inf-p');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(rec.events.length, n, 'no events after close()');
    } finally {
      informer.close();
      if (xlList().some((r) => r.name === 'inf-p')) xl('destroy', 'inf-p');
    }
  });

  it('bad options are ERR_INVALID_ARG; the signal closes it', async function () {
    for (const bad of [{ resyncMs: -1 }, { resyncMs: 1.5 }, { restartGraceMs: 'x' as unknown as number }]) {
      await assert.rejects(
        ctx.host.watchDomains(bad),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
        JSON.stringify(bad),
      );
    }
    const ac = new AbortController();
    const informer = await ctx.host.watchDomains({ signal: ac.signal });
    const rec = record(informer);
    ac.abort();
    await xlBootPvGuest({ name: 'inf-s', memoryMiB: 96 });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(rec.events, [], 'closed by its signal: nothing reported');
    } finally {
      xl('destroy', 'inf-s');
    }
  });
});
