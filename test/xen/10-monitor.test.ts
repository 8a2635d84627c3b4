// The lifecycle monitor: on_reboot / on_poweroff / on_crash for guests the API created, as
// xl's background monitor applies them for guests xl created.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { LifecycleEvent } from '../../src';
import { pvGuestConfig, waitForConsole } from '../../src/box/guests';
import { useHost } from '../support/host';
import { sleep, xl, xlDryRun, xlList } from '../support/xl';

/** Resolves with the monitor's next report. */
function nextEvent(): { listener: (e: LifecycleEvent) => void; next: () => Promise<LifecycleEvent> } {
  const queue: LifecycleEvent[] = [];
  let wake: (() => void) | undefined;
  return {
    listener: (e) => {
      queue.push(e);
      wake?.();
    },
    next: async () => {
      for (let i = 0; i < 600 && queue.length === 0; i++) {
        await Promise.race([new Promise<void>((r) => (wake = r)), sleep(100)]);
      }
      const e = queue.shift();
      if (!e) throw new Error('no lifecycle event within 60 s');
      return e;
    },
  };
}

async function upCount(name: string): Promise<number> {
  const log = `/var/log/xen/console/guest-${name}.log`;
  return fs.existsSync(log) ? (fs.readFileSync(log, 'latin1').match(/xenlight-guest: up/g) ?? []).length : 0;
}

describe('lifecycle monitor (on_reboot, on_poweroff, on_crash)', function () {
  this.timeout(180_000);
  const ctx = useHost();

  it('defaults: a reboot restarts the guest under a new domid; a poweroff destroys it', async function () {
    const ev = nextEvent();
    const dom = await ctx.host.createDomain(xlDryRun(pvGuestConfig({ name: 'mon-a', memoryMiB: 96 })).config(), {
      onLifecycle: ev.listener,
    });
    await waitForConsole('mon-a', /xenlight-guest: up/);
    await dom.reboot();
    const restarted = await ev.next();
    assert.equal(restarted.reason, 'reboot');
    assert.equal(restarted.action, 'restart');
    assert.equal(restarted.error, undefined, String(restarted.error));
    const row = xlList().find((r) => r.name === 'mon-a');
    assert.equal(row?.id, restarted.newDomid);
    assert.notEqual(restarted.newDomid, dom.id);
    for (let i = 0; i < 300 && (await upCount('mon-a')) < 2; i++) await sleep(200);
    assert.ok((await upCount('mon-a')) >= 2, 'the guest booted again');
    // The monitor follows the new domain.
    await (await ctx.host.domain('mon-a')).shutdown();
    const off = await ev.next();
    assert.deepEqual([off.reason, off.action, off.domid], ['poweroff', 'destroy', restarted.newDomid]);
    assert.ok(!xlList().some((r) => r.name === 'mon-a'), 'destroyed, as xl does');
  });

  it('a guest resumed after a checkpoint save is watched again: its next reboot restarts it', async function () {
    const ev = nextEvent();
    const dom = await ctx.host.createDomain(xlDryRun(pvGuestConfig({ name: 'mon-ck', memoryMiB: 96 })).config(), {
      onLifecycle: ev.listener,
    });
    await waitForConsole('mon-ck', /xenlight-guest: up/);
    const image = '/tmp/mon-ck.save';
    try {
      // The guest shuts down with reason suspend, then runs on: libxl reports no second shutdown on the old watch.
      await dom.save(image, { keepRunning: true });
    } finally {
      fs.rmSync(image, { force: true });
    }
    await sleep(1000);
    await dom.sendSysrq('b');
    const restarted = await ev.next();
    assert.deepEqual([restarted.reason, restarted.action, restarted.domid], ['reboot', 'restart', dom.id]);
    assert.equal(restarted.error, undefined, String(restarted.error));
    assert.equal(xlList().find((r) => r.name === 'mon-ck')?.id, restarted.newDomid);
    xl('destroy', 'mon-ck');
  });

  it('on_poweroff = "preserve" keeps the shut-down guest; on_crash = "coredump-destroy" dumps its core', async function () {
    const ev = nextEvent();
    const config = xlDryRun(
      pvGuestConfig({ name: 'mon-b', memoryMiB: 96, extra: ['on_poweroff = "preserve"', 'on_crash = "coredump-destroy"'] }),
    ).config();
    assert.equal(config.on_poweroff, 'preserve');
    let dom = await ctx.host.createDomain(config, { onLifecycle: ev.listener });
    await waitForConsole('mon-b', /xenlight-guest: up/);
    await dom.shutdown();
    const kept = await ev.next();
    assert.deepEqual([kept.reason, kept.action], ['poweroff', 'preserve']);
    assert.equal(xlList().find((r) => r.name === 'mon-b')?.state[3], 's', 'still listed, shut down');
    await dom.destroy();

    dom = await ctx.host.createDomain(config, { onLifecycle: ev.listener });
    await waitForConsole('mon-b', /xenlight-guest: up/);
    fs.rmSync('/var/lib/xen/dump/mon-b', { force: true });
    // The guest kernel crashes (Debian's sysrq mask refuses 'c' sent as a sysrq key; the
    // guest's own /proc/sysrq-trigger is not masked).
    const con = await dom.console();
    con.write('echo c > /proc/sysrq-trigger\n');
    const crashed = await ev.next();
    con.destroy();
    assert.deepEqual([crashed.reason, crashed.action], ['crash', 'coredump_destroy']);
    assert.equal(crashed.coreFile, '/var/lib/xen/dump/mon-b');
    const head = Buffer.alloc(4);
    const fd = fs.openSync(crashed.coreFile!, 'r');
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    assert.ok(head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])), 'an ELF core');
    assert.ok(!xlList().some((r) => r.name === 'mon-b'));
    fs.rmSync('/var/lib/xen/dump/mon-b', { force: true });
  });

  it('monitor: false leaves a shut-down guest as libxl leaves it', async function () {
    const dom = await ctx.host.createDomain(xlDryRun(pvGuestConfig({ name: 'mon-c', memoryMiB: 96 })).config(), {
      monitor: false,
    });
    await waitForConsole('mon-c', /xenlight-guest: up/);
    await dom.shutdown({ wait: true });
    await sleep(1000);
    assert.equal(xlList().find((r) => r.name === 'mon-c')?.state[3], 's');
    await dom.destroy();
    assert.deepEqual(execFileSync('xenstore-list', ['/local/domain'], { encoding: 'utf8' }).split('\n').filter(Boolean), ['0']);
  });
});
