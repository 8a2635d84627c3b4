// Host queries against xl in the same dom0.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Host, XenError, XL_INFO_NAMES, stateString, memoryMiB } from '../../src';
import { useHost } from '../support/host';
import { suiteXen } from '../support/xen-version';
import { xl, xlInfo, xlList, xlListLong, xlBootPvGuest } from '../support/xl';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

describe('Host (inside dom0)', function () {
  const ctx = useHost();
  let guestId: number;

  before(async function () {
    this.timeout(120_000);
    guestId = await xlBootPvGuest({ name: 'xl-host-a', memoryMiB: 96, vcpus: 2 });
  });

  it('info() agrees with `xl info` field by field', async function () {
    const ours = await ctx.host.info();
    const theirs = xlInfo();
    const keys = Object.keys(theirs);
    assert.ok(keys.length >= 30, `xl info printed ${keys.length} keys`);
    const volatile = new Set(['free_memory']); // moves as guests balloon; checked below
    assert.deepEqual(keys, Object.keys(XL_INFO_NAMES), "xl info's keys, in xl's order");
    for (const key of keys) {
      if (volatile.has(key)) continue;
      const field = XL_INFO_NAMES[key as keyof typeof XL_INFO_NAMES];
      const value = (ours as unknown as Record<string, unknown>)[field];
      assert.ok(value !== undefined, `info() has no ${field}`);
      const text = Array.isArray(value) ? value.join(' ') : String(value);
      assert.equal(text.trim(), theirs[key].trim(), `info().${field} (xl's ${key})`);
      assert.equal((ours as unknown as Record<string, unknown>)[key], value, `the deprecated alias ${key}`);
    }
    assert.ok(Math.abs(ours.freeMemoryMiB - Number(theirs.free_memory)) <= 8, 'free_memory within 8 MiB');
    assert.equal(ours.xenMajor, 4);
    assert.equal(`${ours.xenMajor}.${ours.xenMinor}`, suiteXen());
    assert.ok(ours.virtCaps.includes('pv'));
  });

  it('listDomains() agrees with `xl list` (dom0 and a running guest)', async function () {
    const rows = xlList();
    const ours = await ctx.host.listDomains();
    assert.deepEqual(
      ours.map((d) => d.domid),
      rows.map((r) => r.id),
    );
    for (const row of rows) {
      const d = ours.find((x) => x.domid === row.id)!;
      assert.equal(d.name, row.name);
      assert.equal(memoryMiB(d), row.mem, `${row.name} memory`);
      assert.equal(d.vcpusOnline, row.vcpus, `${row.name} vcpus`);
      // r and b flip with what the vCPUs do at that instant; the rest is stable.
      assert.equal(stateString(d).slice(2), row.state.slice(2), `${row.name} state`);
      assert.ok(Math.abs(d.cpuTimeNs / 1e9 - row.time) < 5, `${row.name} cpu time`);
    }
    const guest = ours.find((d) => d.domid === guestId)!;
    assert.equal(guest.name, 'xl-host-a');
    assert.equal(guest.domainType, 'pv');
    assert.equal(guest.vcpusOnline, 2);
    assert.ok(guest.maxMemoryKiB >= 96 * 1024);
    const dom0 = ours.find((d) => d.domid === 0)!;
    assert.equal(dom0.name, 'Domain-0');
  });

  it('listDomains() agrees with `xl list -l` (uuid, name, vcpus, memory of the stored config)', async function () {
    const long = xlListLong();
    const ours = await ctx.host.listDomains();
    const guestLong = long.find((e) => e.domid === guestId);
    assert.ok(guestLong, 'xl list -l shows the guest');
    const config = guestLong.config as {
      c_info: { uuid: string; name: string };
      b_info: { max_vcpus: number; max_memkb: number };
    };
    const d = ours.find((x) => x.domid === guestId)!;
    assert.equal(d.uuid, config.c_info.uuid);
    assert.equal(d.name, config.c_info.name);
    assert.equal(d.vcpuMaxId + 1, config.b_info.max_vcpus);
    // Each domain xl shows, we show, with the same uuid.
    for (const e of long) {
      const ourEntry = ours.find((x) => x.domid === e.domid);
      assert.ok(ourEntry, `domain ${e.domid}`);
      // libxl's JSON leaves out default values: dom0's all-zero UUID is absent.
      const uuid = (e.config as { c_info: { uuid?: string } }).c_info.uuid ?? NIL_UUID;
      assert.equal(ourEntry.uuid, uuid);
    }
  });

  it('domain().config() equals the config `xl list -l` prints', async function () {
    const dom = await ctx.host.domain('xl-host-a');
    const ours = await dom.config();
    const theirs = xlListLong().find((e) => e.domid === guestId)!.config;
    assert.deepEqual(ours, theirs);
  });

  it('domain() finds by name and by domid; info() matches the list', async function () {
    const byName = await ctx.host.domain('xl-host-a');
    const byId = await ctx.host.domain(guestId);
    assert.equal(byName.id, guestId);
    assert.equal(byId.uuid, byName.uuid);
    const info = await byId.info();
    assert.equal(info.name, 'xl-host-a');
    assert.equal(xl('domname', String(guestId)).trim(), info.name);
    const long = xlListLong().find((e) => e.domid === guestId)!.config as { c_info: { uuid: string } };
    assert.equal(info.uuid, long.c_info.uuid);
    assert.equal((await ctx.host.domain(0)).id, 0);
  });

  it('names follow `xl rename` (the cache is invalidated by xenstore watches)', async function () {
    await ctx.host.listDomains(); // fills the name cache
    xl('rename', 'xl-host-a', 'xl-host-renamed');
    try {
      const after = await ctx.host.listDomains();
      assert.equal(after.find((d) => d.domid === guestId)?.name, 'xl-host-renamed');
      assert.equal(await (await ctx.host.domain(guestId)).name(), 'xl-host-renamed');
    } finally {
      xl('rename', 'xl-host-renamed', 'xl-host-a');
    }
    assert.equal((await ctx.host.listDomains()).find((d) => d.domid === guestId)?.name, 'xl-host-a');
  });

  it('unknown domid and name reject with ERROR_DOMAIN_NOTFOUND', async function () {
    await assert.rejects(ctx.host.domain(4242), (e: unknown) => {
      assert.ok(e instanceof XenError);
      assert.equal(e.code, 'ERROR_DOMAIN_NOTFOUND');
      assert.match(e.op, /4242/);
      assert.match(e.message, /ERROR_DOMAIN_NOTFOUND/);
      return true;
    });
    await assert.rejects(
      ctx.host.domain('no-such-guest'),
      (e: unknown) => e instanceof XenError && e.code === 'ERROR_DOMAIN_NOTFOUND' && /no-such-guest/.test(e.message),
    );
  });

  it('bad arguments are rejected in TypeScript with ERR_INVALID_ARG', async function () {
    for (const bad of [-1, 1.5, NaN, 0x7ff0, '', 'a\0b'] as (number | string)[]) {
      await assert.rejects(
        ctx.host.domain(bad),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
        `domain(${JSON.stringify(bad)})`,
      );
    }
    await assert.rejects(
      ctx.host.domain({} as unknown as string),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
    );
  });

  it('a handle whose domain is gone rejects instead of answering for another domain', async function () {
    const dom = await ctx.host.domain(guestId);
    const stale = Object.create(Object.getPrototypeOf(dom), {
      ctx: { value: dom.ctx },
      id: { value: guestId },
      uuid: { value: '00000000-0000-0000-0000-000000000001' },
    });
    await assert.rejects(stale.info(), (e: unknown) => e instanceof XenError && e.code === 'ERROR_DOMAIN_NOTFOUND');
  });

  it("Node's child_process works next to libxl's SIGCHLD handling", async function () {
    const run = promisify(execFile);
    const results = await Promise.all([run('true'), run('sh', ['-c', 'exit 0']), run('xl', ['list'])]);
    assert.equal(results.length, 3);
    assert.match(results[2].stdout, /Domain-0/);
    assert.ok((await ctx.host.listDomains()).length >= 2);
  });

  it('`xl shutdown` gives a shutdown event with reason poweroff, then a death event', async function () {
    this.timeout(90_000);
    const events = ctx.host.events({ domid: guestId });
    xl('shutdown', String(guestId));
    const first = await events.next();
    assert.deepEqual(first.value && { type: first.value.type, domid: first.value.domid }, { type: 'shutdown', domid: guestId });
    assert.equal(first.value.type === 'shutdown' && first.value.reason, 'poweroff');
    // xl's own monitor (from xl create) destroys it after a poweroff.
    const second = await events.next();
    assert.equal(second.value?.type, 'death');
    await events.return?.();
    assert.ok(!xlList().some((r) => r.id === guestId), 'guest gone from xl list');
  });

  it('calls after close() reject with ERR_CLOSED; close() is idempotent; events end', async function () {
    const h = await Host.open();
    const it = h.events();
    await h.close();
    await h.close();
    assert.equal((await it.next()).done, true);
    for (const call of [() => h.listDomains(), () => h.info(), () => h.domain(0)]) {
      await assert.rejects(call(), (e: unknown) => e instanceof XenError && e.code === 'ERR_CLOSED');
    }
    assert.throws(
      () => h.events(),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_CLOSED',
    );
  });

  it('await using closes the host', async function () {
    let leaked: Host | undefined;
    {
      await using h = await Host.open();
      leaked = h;
      assert.ok((await h.listDomains()).length >= 1);
    }
    assert.equal(leaked.closed, true);
  });
});
