// createDomain(): the build on the worker thread, from the JSON `xl -N create` prints.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { XenError } from '../../src';
import { hvmGuestConfig, pvGuestConfig, waitForConsole } from '../../src/box/guests';
import type { DomainConfig } from '../../src/generated/libxl-types';
import { useHost } from '../support/host';
import { domainsInXenstore } from '../support/xenstore';
import { xlDryRun, xlInfo, xlList, xlListLong } from '../support/xl';

describe('createDomain (worker thread)', function () {
  this.timeout(120_000);
  const ctx = useHost();

  it('creates a PV guest from `xl -N create` JSON; xl list and xl list -l agree; the loop stays free', async function () {
    const config = xlDryRun(pvGuestConfig({ name: 'cr-a', memoryMiB: 96, vcpus: 2 })).config();
    // Count event-loop ticks during the build: libxl_domain_create_new blocks its thread for
    // seconds, and that thread must not be Node's.
    let ticks = 0;
    let maxGap = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 10);
    const t0 = Date.now();
    let dom;
    try {
      dom = await ctx.host.createDomain(config);
    } finally {
      clearInterval(timer);
    }
    const took = Date.now() - t0;
    assert.ok(ticks > took / 50, `${ticks} ticks of a 10 ms timer in ${took} ms`);
    assert.ok(maxGap < 1000, `the loop was blocked for ${maxGap} ms`);

    // The guest's kernel brings its second vCPU online while it boots.
    await waitForConsole('cr-a', /xenlight-guest: up/);
    const row = xlList().find((r) => r.name === 'cr-a');
    assert.ok(row, 'in xl list');
    assert.equal(row.id, dom.id);
    assert.equal(row.vcpus, 2);
    assert.notEqual(row.state[2], 'p', 'unpaused');
    const stored = xlListLong().find((e) => e.domid === dom.id)!.config as DomainConfig;
    assert.equal(stored.c_info?.uuid, dom.uuid);
    assert.equal(stored.b_info?.max_memkb, 96 * 1024);
    assert.deepEqual(await dom.config(), stored);
    await dom.destroy();
    assert.ok(!xlList().some((r) => r.name === 'cr-a'));
  });

  it('paused: true leaves it paused until unpause()', async function () {
    const dom = await ctx.host.createDomain(xlDryRun(pvGuestConfig({ name: 'cr-p', memoryMiB: 96 })).config(), { paused: true });
    assert.equal(xlList().find((r) => r.id === dom.id)?.state[2], 'p');
    await dom.unpause();
    assert.equal(xlList().find((r) => r.id === dom.id)?.state[2], '-');
    await dom.destroy();
  });

  it("a config libxl rejects (missing kernel) gives a XenError with libxl's words and leaves nothing behind", async function () {
    const before = domainsInXenstore();
    const config = xlDryRun(pvGuestConfig({ name: 'cr-bad', memoryMiB: 96 })).config();
    config.b_info!.kernel = '/no/such/kernel';
    await assert.rejects(ctx.host.createDomain(config), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.equal(e.op, 'create domain');
      assert.match(e.code, /^ERROR_/);
      assert.ok(
        e.details.some((l) => /no\/such\/kernel/.test(l)),
        e.details.join('\n'),
      );
      return true;
    });
    assert.ok(!xlList().some((r) => r.name === 'cr-bad'), 'no half-built domain in xl list');
    assert.deepEqual(domainsInXenstore(), before, 'no domain left in xenstore');
  });

  it("a field only Xen 4.20's libxl has: refused on 4.17 (ERR_XEN_VERSION, nothing made), kept on 4.20", async function () {
    // libxl's JSON parser would silently drop a field it does not know; xenlight refuses it.
    // bootloader_restrict only matters when a bootloader runs, which this guest has none of.
    const info = xlInfo();
    const [major, minor] = [Number(info.xen_major), Number(info.xen_minor)];
    const config = xlDryRun(pvGuestConfig({ name: 'cr-ver', memoryMiB: 96 })).config();
    config.b_info!.bootloader_restrict = 'False';
    if (major === 4 && minor < 20) {
      const before = domainsInXenstore();
      await assert.rejects(ctx.host.createDomain(config, { paused: true }), (e: unknown) => {
        assert.ok(e instanceof XenError, String(e));
        assert.equal(e.code, 'ERR_XEN_VERSION');
        assert.equal(e.op, 'create domain "cr-ver"');
        assert.match(
          e.message,
          new RegExp(`b_info\\.bootloader_restrict needs Xen 4\\.20, but this host's libxl is Xen 4\\.${minor}'s`),
        );
        return true;
      });
      assert.ok(!xlList().some((r) => r.name === 'cr-ver'), 'nothing in xl list');
      assert.deepEqual(domainsInXenstore(), before, 'nothing in xenstore');
    } else {
      const dom = await ctx.host.createDomain(config, { paused: true });
      assert.ok(
        xlList().some((r) => r.name === 'cr-ver' && r.id === dom.id),
        'in xl list',
      );
      // 4.20's libxl has the field: its stored configuration names it.
      assert.equal((await dom.config()).b_info?.bootloader_restrict, 'False');
      await dom.destroy();
      assert.ok(!xlList().some((r) => r.name === 'cr-ver'));
    }
  });

  it('reports progress: build, built (with the domid), running', async function () {
    const phases: string[] = [];
    let builtId = -1;
    const dom = await ctx.host.createDomain(xlDryRun(pvGuestConfig({ name: 'cr-prog', memoryMiB: 96 })).config(), {
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.phase === 'built') builtId = p.domid!;
      },
    });
    assert.deepEqual(phases, ['build', 'built', 'running']);
    assert.equal(builtId, dom.id);
    await dom.destroy();
  });

  /** Starts a create and calls `interrupt` as soon as the domain shows in the list. */
  async function interruptCreate(
    name: string,
    interrupt: (domid: number) => void | Promise<void>,
    signal?: AbortSignal,
    configure: (config: DomainConfig) => void = () => {},
  ) {
    const config = xlDryRun(hvmGuestConfig({ name })).config();
    configure(config);
    const before = domainsInXenstore();
    const created = ctx.host.createDomain(config, { signal });
    let seen = false;
    for (let i = 0; i < 2000 && !seen; i++) {
      const d = (await ctx.host.listDomains()).find((x) => x.name === name);
      if (d) {
        seen = true;
        await interrupt(d.domid);
      } else {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    assert.ok(seen, 'the domain appeared while being built');
    const result = await created.then(
      () => undefined,
      (e: unknown) => e,
    );
    // Whatever libxl says, nothing is left: no domain, no xenstore entries.
    for (let i = 0; i < 50 && xlList().some((r) => r.name === name); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!xlList().some((r) => r.name === name), 'no domain left');
    assert.deepEqual(domainsInXenstore(), before, 'xenstore as before');
    return result;
  }

  it('signal: an abort during the build rejects with ERR_ABORTED and leaves nothing behind', async function () {
    const ac = new AbortController();
    const err = await interruptCreate('cr-abort', () => ac.abort(), ac.signal);
    assert.ok(err instanceof XenError, `rejected with a XenError: ${err}`);
    assert.equal(err.code, 'ERR_ABORTED');
    // An already-aborted signal: refused before anything starts.
    await assert.rejects(
      ctx.host.createDomain(xlDryRun(pvGuestConfig({ name: 'cr-abort2' })).config(), { signal: ac.signal }),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_ABORTED',
    );
  });

  it('destroy during create (xl destroy from outside): a XenError and nothing left behind', async function () {
    // The device model starts 4 s late (a wrapper around libxl's own), so that the destroy lands
    // while libxl is still building, however fast the machine: on a fast one the whole create
    // could otherwise end before `xl destroy` (a process start away) acts.
    const slowDm = '/tmp/xenlight-slow-dm.sh';
    fs.writeFileSync(slowDm, '#!/bin/sh\nsleep 4\nexec /usr/libexec/xen-qemu-system-i386 "$@"\n', { mode: 0o755 });
    const err = await interruptCreate(
      'cr-killed',
      (domid) => {
        execFileSync('xl', ['destroy', String(domid)]);
      },
      undefined,
      (config) => {
        (config.b_info as Record<string, unknown>).device_model = slowDm;
      },
    );
    fs.rmSync(slowDm, { force: true });
    assert.ok(err instanceof XenError, `rejected with a XenError: ${err}`);
    assert.match(err.code, /^ERROR_/);
  });

  it('refuses before C what would crash or confuse libxl', async function () {
    const good = xlDryRun(pvGuestConfig({ name: 'cr-x', memoryMiB: 96 })).config();
    // Two variants of one keyed union make libxl's JSON parser abort the process.
    const twoVariants = JSON.parse(JSON.stringify(good));
    twoVariants.b_info['type.hvm'] = {};
    twoVariants.b_info['type.pv'] = {};
    const cases: [unknown, RegExp][] = [
      [twoVariants, /two variants of "type"/],
      [null, /object in libxl's JSON shape/],
      [[], /object/],
      [{ c_info: {} }, /c_info.name/],
      [{ ...good, c_info: { ...good.c_info, name: 'Domain-0' } }, /a domain named "Domain-0" exists/],
      [{ ...good, b_info: { ...good.b_info, max_memkb: Infinity } }, /not a finite number/],
      [{ ...good, b_info: { ...good.b_info, kernel: 'a\0b' } }, /NUL/],
    ];
    for (const [config, re] of cases) {
      await assert.rejects(
        ctx.host.createDomain(config as DomainConfig),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && re.test(e.message),
        String(re),
      );
    }
    assert.ok(!xlList().some((r) => r.name === 'cr-x'));
  });
});
