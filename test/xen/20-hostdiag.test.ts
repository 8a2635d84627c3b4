// Host diagnostics against xl in the same dom0: dmesg (and its incremental reader), claims,
// Intel CMT and tmem (which this host and this hypervisor do not have: both refuse, like xl).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { XenError, xentopState } from '../../src';
import type { DomainStats, StatsSample } from '../../src';
import { shownDomains } from '../../src/cli/top';
import { useHost } from '../support/host';
import { tables } from '../support/xentop';
import { xl, xlBootPvGuest, xlInfo, xlRun } from '../support/xl';

/** `xl dmesg` as lines (the same splitting as the API: the final newline ends the last line). */
function xlDmesg(...flags: string[]): string[] {
  const text = xl('dmesg', ...flags);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

interface ClaimRow {
  name: string;
  id: number;
  mem: number;
  vcpus: number;
  state: string;
  time: number;
  claimed: number;
}

function xlClaims(): ClaimRow[] {
  const out = xlRun('claims');
  assert.equal(out.status, 0, out.stderr);
  const [header, ...rows] = out.stdout.split('\n').filter(Boolean);
  assert.match(header, /^Name\s+ID\s+Mem VCPUs\tState\tTime\(s\)\s+Claimed$/);
  return rows.map((line) => {
    const m = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S{6})\s+([\d.]+)\s+(\d+)$/.exec(line);
    if (!m) throw new Error(`unparsable xl claims line: ${JSON.stringify(line)}`);
    return { name: m[1], id: +m[2], mem: +m[3], vcpus: +m[4], state: m[5], time: +m[6], claimed: +m[7] };
  });
}

/** `xl vcpu-list`: Name ID VCPU CPU State Time(s) Affinity (hard / soft). */
function xlVcpuList(): { id: number; vcpu: number; state: string; time: number }[] {
  return xl('vcpu-list')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(.+?)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+([\d.]+)\s/.exec(l);
      assert.ok(m, `xl vcpu-list line: ${l}`);
      return { id: +m[2], vcpu: +m[3], state: m[5], time: +m[6] };
    });
}

/** `xentop -b -i 1` rows keyed by column name ("no limit" kept as one value). */
function xentop(): Record<string, string>[] {
  const r = spawnSync('xentop', ['-b', '-i', '1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const t = tables(r.stdout);
  assert.equal(t.length, 1, 'one iteration');
  return t[0].rows;
}

const HANDLERS = "(XEN) 'h' pressed -> showing installed handlers";
/** The lines debug key h wrote, out of lines Xen may have added its own to. */
const keyLines = (lines: string[]) => lines.filter((l) => l === HANDLERS || /^\(XEN\) {2}key '/.test(l));

const xenError =
  (code: string, re?: RegExp) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof XenError, `not a XenError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };

describe('Host diagnostics: dmesg, claims, CMT, tmem (inside dom0)', function () {
  const ctx = useHost();

  it('dmesg() is `xl dmesg`, line for line', async function () {
    const ours = await ctx.host.dmesg();
    const theirs = xlDmesg();
    assert.ok(theirs.length > 20, `xl dmesg printed ${theirs.length} lines`);
    // Xen's own lines (guests' debug output is "(dN) …"; once the ring has wrapped, its first
    // line is the tail of a longer one).
    assert.ok(theirs.filter((l) => /^\(XEN\) /.test(l)).length > 20, theirs.slice(0, 5).join('\n'));
    assert.deepEqual(ours, theirs);
  });

  it('dmesgReader().read() returns exactly the lines logged since its last read', async function () {
    // Xen may log on its own meanwhile (under load: "uart interrupt taking more than 4ms,
    // switched to polling", seen in CI runs), so the reader's lines are compared with xl's
    // ring, and the key's own lines are picked out of them.
    const reader = ctx.host.dmesgReader();
    const quiet = reader.read();
    assert.deepEqual(keyLines(quiet), [], 'nothing of a key right after creation');
    if (quiet.length > 0) assert.deepEqual(xlDmesg().slice(-quiet.length), quiet, "only Xen's own newest lines");
    xl('debug-keys', 'h');
    const first = reader.read();
    const key = keyLines(first);
    assert.equal(key[0], HANDLERS);
    assert.ok(key.length > 10, `${key.length} lines for debug key h`);
    assert.deepEqual(xlDmesg().slice(-first.length), first, 'the new lines are the tail of xl dmesg');
    assert.deepEqual(keyLines(reader.read()), [], 'nothing twice');
    xl('debug-keys', 'h');
    xl('debug-keys', 'h');
    const twice = reader.read();
    assert.deepEqual(keyLines(twice), [...key, ...key], 'two more key presses: the same lines twice, nothing older');
    assert.deepEqual(xlDmesg().slice(-twice.length), twice);
    assert.equal(reader.dropped, 0);
    // A reader from the start sees the whole ring, as xl dmesg does.
    const all = ctx.host.dmesgReader({ fromStart: true }).read();
    assert.deepEqual(all, xlDmesg());
  });

  it('dmesg({ clear: true }) is `xl dmesg -c`; each sees the other clear the ring; a reader counts what a clear took', async function () {
    const before = xlDmesg();
    const cleared = await ctx.host.dmesg({ clear: true });
    assert.deepEqual(cleared, before);
    assert.equal(xl('dmesg'), '', 'xl dmesg after our clear');
    assert.deepEqual(await ctx.host.dmesg(), []);
    const reader = ctx.host.dmesgReader();
    xl('debug-keys', 'h');
    const fresh = await ctx.host.dmesg();
    assert.equal(fresh[0], HANDLERS, 'only what was logged since the clear');
    assert.deepEqual(fresh, xlDmesg());
    assert.deepEqual(xlDmesg('-c'), fresh, 'xl dmesg -c prints the same and clears');
    assert.deepEqual(await ctx.host.dmesg(), [], 'after xl dmesg -c');
    // A clear discards the text for every reader (Xen moves the ring's start): the reader made
    // before it gets nothing, and counts exactly what it missed.
    assert.deepEqual(reader.read(), [], 'cleared by xl before the reader read it');
    assert.equal(reader.dropped, Buffer.byteLength(fresh.map((l) => l + '\n').join('')));
    xl('debug-keys', 'h');
    // The ring holds only what was logged since xl's clear, so the reader's lines are xl dmesg's
    // first ones. Xen may log on its own meanwhile (under load: "uart interrupt taking more than
    // 4ms, switched to polling"), so the key's lines are compared with xl's ring, not with a
    // ring that only the key wrote.
    const next = reader.read();
    assert.equal(next[0], HANDLERS, 'and reads on from where Xen is');
    assert.deepEqual(keyLines(next), keyLines(fresh), "the key's lines, as the first time");
    assert.deepEqual(xlDmesg().slice(0, next.length), next, 'what xl dmesg shows since the clear');
    assert.equal(reader.dropped, Buffer.byteLength(fresh.map((l) => l + '\n').join('')), 'nothing more dropped');
  });

  it('claims() is `xl claims` (dom0 and a guest) and the host total is xl info outstanding_claims', async function () {
    this.timeout(120_000);
    const guestId = await xlBootPvGuest({ name: 'xl-claims', memoryMiB: 96 });
    const ours = await ctx.host.claims();
    const rows = xlClaims();
    const later = await ctx.host.claims();
    assert.deepEqual(
      ours.domains.map((d) => d.domid),
      rows.map((r) => r.id),
    );
    for (const row of rows) {
      const d = ours.domains.find((x) => x.domid === row.id)!;
      assert.equal(d.name ?? '(null)', row.name, 'xl prints (null) for a domain being destroyed');
      assert.equal(d.memoryMiB, row.mem, `${row.name} Mem`);
      assert.equal(d.vcpus, row.vcpus, `${row.name} VCPUs`);
      assert.equal(d.state.slice(2), row.state.slice(2), `${row.name} State`); // r/b flip by the instant
      // CPU time only grows: xl's (printed to 0.1 s) lies between our reads before and after it.
      const t1 = later.domains.find((x) => x.domid === row.id)!.cpuTime;
      assert.ok(
        d.cpuTime - 0.05 <= row.time && row.time <= t1 + 0.05,
        `${row.name} Time(s): ${d.cpuTime} <= ${row.time} <= ${t1}`,
      );
      assert.equal(d.claimedMiB, row.claimed, `${row.name} Claimed`);
    }
    const guest = ours.domains.find((d) => d.domid === guestId)!;
    assert.equal(guest.name, 'xl-claims');
    assert.equal(guest.memoryMiB, 96);
    assert.equal(ours.totalMiB, Number(xlInfo().outstanding_claims));
    xl('destroy', String(guestId));
  });

  it("cmt.attach/detach: ERR_UNSUPPORTED with libxl's own line, where xl psr-cmt-attach/-detach refuse with that line", async function () {
    for (const verb of ['attach', 'detach'] as const) {
      let err: XenError | undefined;
      await assert.rejects(ctx.host.cmt[verb](0), (e: unknown) => {
        xenError('ERR_UNSUPPORTED', /CMT .*is not supported on this host/)(e);
        err = e as XenError;
        return true;
      });
      assert.equal(err!.errno, 19, 'ENODEV from Xen');
      assert.equal((err!.cause as XenError).code, 'ERROR_FAIL', "libxl's return code kept");
      assert.equal(err!.details.length, 1);
      assert.match(err!.details[0], /libxl__psr_cmt_log_err_msg: CMT is not supported in this system: No such device$/);
      const theirs = xlRun(`psr-cmt-${verb}`, '0');
      assert.notEqual(theirs.status, 0);
      assert.equal(theirs.stderr.trim(), err!.details[0], `xl psr-cmt-${verb} says the same`);
    }
  });

  it('cmt.show() and cmt.enabled(): no CMT, as xl psr-cmt-show and psr-hwinfo say', async function () {
    await assert.rejects(ctx.host.cmt.show('cache-occupancy'), (e: unknown) => {
      xenError('ERR_UNSUPPORTED', /CMT .*is not supported on this host/)(e);
      assert.match((e as XenError).details.join('\n'), /CMT is not supported in this system: No such device/);
      return true;
    });
    const show = xlRun('psr-cmt-show', 'cache-occupancy');
    assert.notEqual(show.status, 0);
    assert.match(show.stderr, /CMT is disabled in the system/);
    assert.equal(await ctx.host.cmt.enabled(), false);
    assert.match(xlRun('psr-hwinfo').stdout, /Cache Monitoring Technology \(CMT\):\nEnabled\s+: 0/);
  });

  it('cmt with a domain that does not exist or a bad domid: typed errors, as xl', async function () {
    let err: XenError | undefined;
    await assert.rejects(ctx.host.cmt.attach(9999), (e: unknown) => {
      xenError('ERROR_DOMAIN_NOTFOUND', /no such domain/)(e);
      err = e as XenError;
      return true;
    });
    assert.match(err!.details[0], /invalid domain ID: No such process$/);
    assert.equal(xlRun('psr-cmt-attach', '9999').stderr.trim(), err!.details[0]);
    await assert.rejects(ctx.host.cmt.detach(9999), xenError('ERROR_DOMAIN_NOTFOUND'));
    // By name or UUID (looked up first): a missing one is the lookup's ERROR_DOMAIN_NOTFOUND.
    await assert.rejects(ctx.host.cmt.attach('no-such-guest'), xenError('ERROR_DOMAIN_NOTFOUND', /no domain is named/));
    await assert.rejects(
      ctx.host.cmt.detach({ uuid: '5e0a1c2d-0000-4000-8000-0000000000ff' }),
      xenError('ERROR_DOMAIN_NOTFOUND', /no domain has UUID/),
    );
    for (const bad of [-1, 0x8000, 2.5]) await assert.rejects(ctx.host.cmt.attach(bad), xenError('ERR_INVALID_ARG'));
    await assert.rejects(ctx.host.cmt.show('nope' as 'cache-occupancy'), xenError('ERR_INVALID_ARG'));
  });

  it("tmem: every call is ERR_UNSUPPORTED (no transcendent memory) with libxl's code and line; xl has no tmem commands", async function () {
    const calls: [string, () => Promise<unknown>, RegExp][] = [
      ['list', () => ctx.host.tmem.list(), /libxl_tmem_list: Can not get tmem list/],
      ['list -l 0', () => ctx.host.tmem.list({ domid: 0, long: true }), /libxl_tmem_list: Can not get tmem list/],
      ['freeze', () => ctx.host.tmem.freeze(), /libxl_tmem_freeze: Can not freeze tmem pools/],
      ['thaw', () => ctx.host.tmem.thaw(0), /libxl_tmem_thaw: Can not thaw tmem pools/],
      ['set', () => ctx.host.tmem.set(0, 'weight', 5), /libxl_tmem_set: Can not set tmem weight/],
      [
        'shared auth',
        () => ctx.host.tmem.sharedAuth('all', '00000000-0000-0000-0000-000000000001', true),
        /libxl_tmem_shared_auth: Can not set tmem shared auth/,
      ],
      ['freeable', () => ctx.host.tmem.freeable(), /libxl_tmem_freeable: Can not get tmem freeable memory/],
    ];
    for (const [name, call, line] of calls) {
      await assert.rejects(
        call(),
        (e: unknown) => {
          xenError('ERR_UNSUPPORTED', /the hypervisor has no transcendent memory/)(e);
          const err = e as XenError;
          assert.equal((err.cause as XenError).code, 'ERROR_FAIL', `${name}: libxl's return code`);
          assert.match(err.message, /ERROR_FAIL/);
          assert.equal(err.details.length, 1, name);
          assert.match(err.details[0], line, name);
          return true;
        },
        name,
      );
    }
    for (const args of [['tmem-list'], ['tmem-list', '-a'], ['tmem-freeze', '-a'], ['tmem-freeable']]) {
      const r = xlRun(...args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stdout + r.stderr, /command not implemented/, args.join(' '));
    }
    // Nothing is left broken: the same context still answers.
    assert.ok((await ctx.host.listDomains()).some((d) => d.domid === 0));
  });

  it('stats.sample() per domain agrees with `xentop -b -i 1` (dom0 and a guest with a vif and a disk)', async function () {
    this.timeout(150_000);
    fs.writeFileSync('/tmp/st-disk.img', '');
    fs.truncateSync('/tmp/st-disk.img', 16 * 2 ** 20);
    // One vCPU: its figures come from the domain's (no vcpu_getinfo); dom0's two from vcpu_getinfo.
    const guestId = await xlBootPvGuest({
      name: 'st-guest',
      memoryMiB: 96,
      vcpus: 1,
      extra: ['maxmem = 160', 'vif = [ "bridge=xenbr0" ]', 'disk = [ "/tmp/st-disk.img,raw,xvda,rw" ]'],
    });
    const before = await ctx.host.stats.sample();
    const rows = xentop();
    const vcpuRows = xlVcpuList();
    const after = await ctx.host.stats.sample();
    const sum = (d: DomainStats, f: (d: DomainStats) => number[]) => f(d).reduce((a, b) => a + b, 0);
    const byId = (s: StatsSample, id: number) => s.domains.find((d) => d.domid === id)!;
    // xentop sorts by name and leaves out a domain it cannot name (one being destroyed); we keep
    // such a domain, with name null.
    assert.deepEqual(
      rows.map((r) => r.NAME).sort(),
      shownDomains(before)
        .map((d) => d.name)
        .sort(),
    );
    for (const row of rows) {
      const d0 = before.domains.find((d) => d.name === row.NAME)!;
      const d1 = byId(after, d0.domid);
      const label = row.NAME;
      // Letters that do not flip from one instant to the next: d s c p (b and r do).
      for (const i of [0, 1, 3, 4]) assert.equal(xentopState(d0)[i], row.STATE[i], `${label} STATE ${row.STATE}`);
      assert.equal(d0.memoryBytes / 1024, Number(row['MEM(k)']), `${label} MEM(k)`);
      assert.equal(
        d0.maxMemoryBytes === null ? 'no_limit' : String(d0.maxMemoryBytes / 1024),
        row['MAXMEM(k)'],
        `${label} MAXMEM(k)`,
      );
      assert.equal(d0.vcpus.length, Number(row.VCPUS), `${label} VCPUS`);
      assert.equal(d0.networks.length, Number(row.NETS), `${label} NETS`);
      assert.equal(d0.vbds.length, Number(row.VBDS), `${label} VBDS`);
      assert.equal(d0.ssid, Number(row.SSID), `${label} SSID`);
      // Counters only grow: xentop's value lies between our samples before and after it.
      const between = (col: string, f: (d: DomainStats) => number) => {
        const v = Number(row[col]);
        assert.ok(f(d0) <= v && v <= f(d1), `${label} ${col}: ${f(d0)} <= ${v} <= ${f(d1)}`);
      };
      between('CPU(sec)', (d) => Math.floor(d.cpuTimeNs / 1e9));
      between('NETTX(k)', (d) => Math.floor(sum(d, (x) => x.networks.map((n) => n.txBytes)) / 1024));
      between('NETRX(k)', (d) => Math.floor(sum(d, (x) => x.networks.map((n) => n.rxBytes)) / 1024));
      between('VBD_OO', (d) => sum(d, (x) => x.vbds.map((b) => b.outOfRequests)));
      between('VBD_RD', (d) => sum(d, (x) => x.vbds.map((b) => b.readRequests)));
      between('VBD_WR', (d) => sum(d, (x) => x.vbds.map((b) => b.writeRequests)));
      between('VBD_RSECT', (d) => sum(d, (x) => x.vbds.map((b) => b.readSectors)));
      between('VBD_WSECT', (d) => sum(d, (x) => x.vbds.map((b) => b.writeSectors)));
    }
    // Each vCPU as `xl vcpu-list` shows it: online, and its time (0.1 s) between our two samples.
    for (const id of [0, guestId]) {
      const mine = vcpuRows.filter((r) => r.id === id);
      assert.equal(mine.length, byId(before, id).vcpus.length, `domain ${id}: vCPUs`);
      for (const r of mine) {
        const v0 = byId(before, id).vcpus[r.vcpu];
        const v1 = byId(after, id).vcpus[r.vcpu];
        // xl's State: r or -, b or -, then p for a vCPU that is offline.
        assert.equal(v0.online, r.state[2] !== 'p', `domain ${id} vCPU ${r.vcpu} online (${r.state})`);
        assert.ok(
          v0.cpuTimeNs / 1e9 - 0.05 <= r.time && r.time <= v1.cpuTimeNs / 1e9 + 0.05,
          `domain ${id} vCPU ${r.vcpu}: ${v0.cpuTimeNs / 1e9} <= ${r.time} <= ${v1.cpuTimeNs / 1e9}`,
        );
      }
    }
    const g = byId(before, guestId);
    assert.equal(g.name, 'st-guest');
    assert.equal(g.memoryBytes, 96 * 2 ** 20);
    // Xen's limit (max_pages), which xentop shows: libxl sets it to the target + 1 MiB of slack
    // (LIBXL_MAXMEM_CONSTANT), not to xl.cfg's maxmem.
    assert.equal(g.maxMemoryBytes, (96 + 1) * 2 ** 20);
    assert.equal(g.vcpus.length, 1);
    assert.deepEqual(
      g.vcpus.map((v) => ({ ...v })),
      [{ online: true, cpuTimeNs: g.cpuTimeNs }],
    );
    assert.equal(g.networks.length, 1);
    assert.equal(g.vbds.length, 1);
    assert.equal(g.vbds[0].dev, 51712, 'xvda');
    assert.ok(g.vbds[0].readRequests > 0, 'the guest kernel probed its disk');
    assert.ok(after.time > before.time);
    assert.equal(before.cpus, Number(xlInfo().nr_cpus));
    assert.equal(Math.floor(before.totalMemoryBytes / 2 ** 20), Number(xlInfo().total_memory));
    xl('destroy', String(guestId));
    fs.rmSync('/tmp/st-disk.img');
  });
});
