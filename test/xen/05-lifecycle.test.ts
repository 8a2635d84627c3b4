// Domain control against xl: rename, memory, vCPUs, sysrq, trigger, core dump, shutdown with
// wait, reboot, waitFor.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Domain, XenError, operationChannel } from '../../src';
import type { OperationContext } from '../../src';
import { consoleLogPath, pvGuestConfig, waitForConsole } from '../../src/box/guests';
import { useHost } from '../support/host';
import { until, xl, xlList, isXenError, xlBootPvGuest } from '../support/xl';

function xenstoreRead(p: string): string {
  return execFileSync('xenstore-read', [p], { encoding: 'utf8' }).trim();
}

/** `xenstore-ls path`, or null when the path does not exist. */
function xenstoreLs(p: string): string | null {
  try {
    return execFileSync('xenstore-ls', [p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

describe('Domain lifecycle control', function () {
  this.timeout(120_000);
  const ctx = useHost();
  let g: Domain;

  before(async function () {
    // xl create: its monitor process applies on_poweroff/on_reboot, as for any xl guest.
    await xlBootPvGuest({ name: 'life', vcpus: 2, memoryMiB: 128, extra: ['maxmem = 160'] });
    g = await ctx.host.domain('life');
  });

  it('rename() shows in xl list; names in use and bad names are refused', async function () {
    await g.rename('life2');
    assert.ok(xlList().some((r) => r.name === 'life2' && r.id === g.id));
    await assert.rejects(g.rename('Domain-0'), isXenError('ERR_INVALID_ARG', /exists/));
    await assert.rejects(g.rename(''), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(g.rename('42'), isXenError('ERR_INVALID_ARG', /digits/));
    await g.rename('life');
    assert.equal(await g.name(), 'life');
  });

  it('setMemory() balloons the guest as `xl mem-set` does; setMaxMemory() is `xl mem-max`', async function () {
    await g.setMemory(96);
    await until('xl list to show 96 MiB', () => xlList().find((r) => r.id === g.id)?.mem === 96);
    await g.setMemory(128);
    await until('xl list to show 128 MiB', () => xlList().find((r) => r.id === g.id)?.mem === 128);
    // Above maxmem (160 MiB): libxl refuses, as it does for xl mem-set.
    await assert.rejects(
      g.setMemory(4096),
      (e: unknown) =>
        e instanceof XenError && /^ERROR_/.test(e.code) && e.details.some((l) => /memory_static_max|static|max/i.test(l)),
    );
    assert.throws(() => xl('mem-set', 'life', '4096m'));
    assert.equal(xlList().find((r) => r.id === g.id)?.mem, 128, 'unchanged');
    await assert.rejects(g.setMemory(0), isXenError('ERR_INVALID_ARG'));
    // mem-max: libxl writes memory/static-max and gives the hypervisor that plus its slack;
    // the API and xl must leave the same state.
    await g.setMaxMemory(200);
    const ours = { staticMax: xenstoreRead(`/local/domain/${g.id}/memory/static-max`), max: (await g.info()).maxMemoryKiB };
    xl('mem-max', 'life', '180m');
    const theirs = { staticMax: xenstoreRead(`/local/domain/${g.id}/memory/static-max`), max: (await g.info()).maxMemoryKiB };
    assert.equal(ours.staticMax, String(200 * 1024));
    assert.equal(theirs.staticMax, String(180 * 1024));
    assert.equal(ours.max - 200 * 1024, theirs.max - 180 * 1024, 'same slack as xl');
  });

  it('setVcpus() takes vCPUs offline as `xl vcpu-set` does', async function () {
    await g.setVcpus(1);
    await until('one vCPU online in xl list', () => xlList().find((r) => r.id === g.id)?.vcpus === 1);
    await assert.rejects(g.setVcpus(3), isXenError('ERR_INVALID_ARG', /from 1 to 2/));
    await assert.rejects(g.setVcpus(0), isXenError('ERR_INVALID_ARG'));
  });

  it('sendSysrq() reaches the guest kernel', async function () {
    await g.sendSysrq('h');
    await waitForConsole('life', /sysrq: HELP/i, 20_000);
    await assert.rejects(g.sendSysrq('ab'), isXenError('ERR_INVALID_ARG'));
  });

  it('sendTrigger(): libxl refuses an NMI for a PV guest, as xl does', async function () {
    let xlFailed = false;
    try {
      xl('trigger', 'life', 'nmi');
    } catch {
      xlFailed = true;
    }
    if (xlFailed) {
      await assert.rejects(g.sendTrigger('nmi'), (e: unknown) => e instanceof XenError && /^ERROR_/.test(e.code));
    } else {
      await g.sendTrigger('nmi');
    }
    await assert.rejects(g.sendTrigger('bogus' as never), isXenError('ERR_INVALID_ARG'));
  });

  it('coreDump() writes an ELF core of the guest, mode 0600', async function () {
    const file = '/tmp/life.core';
    await g.coreDump(file);
    const st = fs.statSync(file);
    assert.equal(st.mode & 0o777, 0o600);
    assert.ok(st.size > 64 * 2 ** 20, `core of ${st.size} bytes`);
    const head = Buffer.alloc(4);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46]);
    fs.rmSync(file);
    assert.ok(
      xlList().some((r) => r.id === g.id),
      'the guest runs on',
    );
  });

  it('coreDump({ signal }): an abort stops the dump (ERR_ABORTED) and removes the file; the guest runs on', async function () {
    const file = '/tmp/life-abort.core';
    await assert.rejects(g.coreDump(file, { signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
    assert.ok(!fs.existsSync(file), 'an aborted signal starts nothing');
    // Abort as soon as the addon has started the dump (the operation's synchronous end).
    const ac = new AbortController();
    const onEnd = (c: unknown) => {
      if ((c as OperationContext).operation === 'coreDump') ac.abort();
    };
    operationChannel.end.subscribe(onEnd);
    try {
      await assert.rejects(g.coreDump(file, { signal: ac.signal }), isXenError('ERR_ABORTED'));
    } finally {
      operationChannel.end.unsubscribe(onEnd);
    }
    assert.ok(ac.signal.aborted);
    assert.ok(!fs.existsSync(file), 'the partial core is removed');
    assert.ok(
      xlList().some((r) => r.id === g.id),
      'the guest runs on',
    );
    // Nothing is left half-done: a dump after it works.
    await g.coreDump(file);
    assert.ok(fs.statSync(file).size > 64 * 2 ** 20);
    fs.rmSync(file);
  });

  it('destroy({ signal }): aborted before libxl starts, nothing is destroyed; once started, it finishes', async function () {
    const d = await ctx.host.createDomain(pvGuestConfig({ name: 'life-d', memoryMiB: 96 }), { paused: true });
    try {
      await assert.rejects(d.destroy({ signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
      const ac = new AbortController();
      const early = d.destroy({ signal: ac.signal });
      ac.abort(); // while it reads the domain's info, before libxl is called
      await assert.rejects(early, isXenError('ERR_ABORTED'));
      assert.ok(
        xlList().some((r) => r.id === d.id),
        'still there after both aborts',
      );
      const late = new AbortController();
      const onEnd = (c: unknown) => {
        const o = c as OperationContext;
        if (o.operation === 'destroy' && o.domid === d.id) late.abort();
      };
      operationChannel.end.subscribe(onEnd);
      try {
        await d.destroy({ signal: late.signal });
      } finally {
        operationChannel.end.unsubscribe(onEnd);
      }
      assert.ok(late.signal.aborted, 'aborted while libxl destroyed it');
      await until('xl list without it', () => !xlList().some((r) => r.id === d.id));
      assert.equal(xenstoreLs(`/local/domain/${d.id}`), null, 'no xenstore nodes left');
    } finally {
      if (xlList().some((r) => r.id === d.id)) xl('destroy', String(d.id));
    }
  });

  it("reboot() makes xl's monitor restart the guest under a new domid; the handle follows it (same UUID)", async function () {
    const events = ctx.host.events({ domid: g.id });
    const oldId = g.id;
    await g.reboot();
    const ev = await events.next();
    assert.deepEqual(ev.value && ev.value.type === 'shutdown' && ev.value.reason, 'reboot');
    await events.return?.();
    await until('the guest back under a new domid', () => xlList().some((r) => r.name === 'life' && r.id !== oldId), 60_000);
    const newId = xlList().find((r) => r.name === 'life')!.id;
    assert.equal((await g.info()).domid, newId, "the handle finds the guest under xl's new domid");
    assert.equal(g.id, newId);
    fs.rmSync(consoleLogPath('life'), { force: true });
    await waitForConsole('life', /xenlight-guest: up/);
  });

  it('shutdown({ wait: true }) resolves once the guest is down; waitFor() times out and aborts cleanly', async function () {
    await assert.rejects(g.waitFor('death', { timeoutMs: 300 }), isXenError('ERR_TIMEOUT'));
    const ac = new AbortController();
    const waiting = g.waitFor('death', { signal: ac.signal });
    ac.abort();
    await assert.rejects(waiting, isXenError('ERR_ABORTED'));
    await g.shutdown({ wait: true });
    const row = xlList().find((r) => r.id === g.id);
    assert.ok(!row || row.state[3] === 's', "shut down (or already destroyed by xl's monitor)");
    await g.waitFor('death', { timeoutMs: 30_000 }); // on_poweroff=destroy, by xl's monitor
    assert.ok(!xlList().some((r) => r.id === g.id));
    await g.waitFor('shutdown'); // already: resolves at once
  });
});
