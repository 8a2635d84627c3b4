// Schedulers, vCPUs and CPU pools against xl in the same dom0. The box has 2 CPUs and boots
// with credit2; Debian's Xen 4.17 has credit and credit2 only (no RTDS).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { Domain, XenError } from '../../src';
import { useHost } from '../support/host';
import { suiteXen } from '../support/xen-version';
import { xl, isXenError, xlBootPvGuest } from '../support/xl';

/** `xl cpupool-list -c` → name → CPU list text. */
function xlPoolCpus(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of xl('cpupool-list', '-c').split('\n').slice(1).filter(Boolean)) {
    const [name, cpus] = line.trim().split(/\s+/);
    out[name] = cpus ?? '';
  }
  return out;
}

/** `xl sched-credit[2] -d <dom>` → { weight, cap }. */
function xlSchedDomain(cmd: 'sched-credit' | 'sched-credit2', dom: string): { weight: number; cap: number } {
  const line = xl(cmd, '-d', dom).split('\n')[1];
  const f = line.trim().split(/\s+/);
  return { weight: Number(f[f.length - 2]), cap: Number(f[f.length - 1]) };
}

/** `xl vcpu-list <dom>` rows. */
function xlVcpus(dom: string): { vcpu: number; cpu: string; state: string; affinity: string }[] {
  return xl('vcpu-list', dom)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const m = /^\S+\s+\d+\s+(\d+)\s+(\S+)\s+(\S{3})\s+[\d.]+\s+(.*)$/.exec(line);
      if (!m) throw new Error(`unparsable xl vcpu-list line ${JSON.stringify(line)}`);
      return { vcpu: Number(m[1]), cpu: m[2], state: m[3], affinity: m[4].trim() };
    });
}

describe('Schedulers, vCPUs and CPU pools', function () {
  this.timeout(120_000);
  const ctx = useHost();
  let g: Domain;

  before(async function () {
    await xlBootPvGuest({ name: 'sched-g', vcpus: 2, memoryMiB: 96 });
    g = await ctx.host.domain('sched-g');
  });

  after(async function () {
    // Leave the box as found: every CPU back in Pool-0.
    for (const [name] of Object.entries(xlPoolCpus())) if (name !== 'Pool-0') xl('cpupool-destroy', name);
    for (const cpu of ['0', '1']) if (!xlPoolCpus()['Pool-0'].split(',').includes(cpu)) xl('cpupool-cpu-add', 'Pool-0', cpu);
  });

  it('topology() agrees with `xl info -n`', async function () {
    const text = xl('info', '-n');
    const cpuSection = text.slice(text.indexOf('cpu_topology'), text.indexOf('device topology'));
    const cpuRows = [...cpuSection.matchAll(/^\s*(\d+):\s+(\d+)\s+(\d+)\s+(\d+)$/gm)].map((m) => m.slice(1, 5).map(Number));
    assert.ok(cpuRows.length >= 2, 'xl info -n lists the CPUs');
    const topo = await ctx.host.topology();
    assert.deepEqual(
      topo.cpus.map((c) => [c.cpu, c.core, c.socket, c.node]),
      cpuRows,
    );
    const numa = /^node:\s+memsize.*\n((?:\s*\d+:.*\n)+)/m
      .exec(text)![1]
      .trim()
      .split('\n')
      .map((l) =>
        l
          .trim()
          .split(/[:\s,]+/)
          .map(Number),
      );
    assert.deepEqual(
      topo.nodes.map((n) => [n.node, Math.floor(n.size / 2 ** 20), ...n.distances]),
      numa.map(([node, size, , ...d]) => [node, size, ...d]),
    );
    for (const [i, n] of topo.nodes.entries()) assert.ok(Math.abs(n.free / 2 ** 20 - numa[i][2]) < 64, 'memfree');
  });

  it('cpupools.list() agrees with `xl cpupool-list` and `-c`', async function () {
    const pools = await ctx.host.cpupools.list();
    const rows = xl('cpupool-list')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(
      pools.map((p) => [p.name, String(p.cpus.length), p.scheduler, 'y', String(p.domainCount)]),
      rows,
    );
    const lists = xlPoolCpus();
    for (const p of pools) assert.equal(p.cpus.join(','), lists[p.name]);
  });

  it('credit2: weight and cap set and read back, both ways, as `xl sched-credit2` sees them', async function () {
    assert.deepEqual(await g.schedParams(), { scheduler: 'credit2', ...xlSchedDomain('sched-credit2', 'sched-g') });
    await g.setSchedParams({ weight: 384, cap: 30 });
    assert.deepEqual(xlSchedDomain('sched-credit2', 'sched-g'), { weight: 384, cap: 30 });
    xl('sched-credit2', '-d', 'sched-g', '-w', '700', '-c', '0');
    assert.deepEqual(await g.schedParams(), { scheduler: 'credit2', weight: 700, cap: 0 });
    await g.setSchedParams({ weight: 256 });
    assert.deepEqual(xlSchedDomain('sched-credit2', 'sched-g'), { weight: 256, cap: 0 }, 'cap kept');
  });

  it('credit2 pool-wide ratelimit set and read back (`xl sched-credit2 -s`)', async function () {
    const before = await ctx.host.cpupools.schedParams('Pool-0');
    await ctx.host.cpupools.setSchedParams('Pool-0', { ratelimitUs: 2000 });
    assert.match(xl('sched-credit2', '-s', '-p', 'Pool-0'), /ratelimit=2000us/);
    const now = await ctx.host.cpupools.schedParams('Pool-0');
    assert.equal(now.ratelimit_us, 2000, "libxl's name of 0.x, a deprecated alias");
    assert.deepEqual(now, { ratelimitUs: 2000 });
    await ctx.host.cpupools.setSchedParams('Pool-0', before);
    assert.match(xl('sched-credit2', '-s', '-p', 'Pool-0'), new RegExp(`ratelimit=${before.ratelimitUs}us`));
  });

  it('bad scheduler input is refused and changes nothing', async function () {
    const before = xlSchedDomain('sched-credit2', 'sched-g');
    for (const bad of [{ weight: 0 }, { weight: 65536 }, { weight: 1.5 }, { cap: -1 }, { weight: '9' as unknown as number }]) {
      await assert.rejects(g.setSchedParams(bad), isXenError('ERR_INVALID_ARG'), JSON.stringify(bad));
    }
    await assert.rejects(
      g.setSchedParams({ periodUs: 10000, budgetUs: 4000 }),
      isXenError('ERR_INVALID_ARG', /periodUs, budgetUs do not apply to the credit2 scheduler/),
    );
    await assert.rejects(g.setSchedParams({ tslice: 5 } as never), isXenError('ERR_INVALID_ARG', /unknown parameter tslice/));
    await assert.rejects(
      ctx.host.cpupools.setSchedParams('Pool-0', { tsliceMs: 5 }),
      isXenError('ERR_INVALID_ARG', /tsliceMs does not apply to the credit2 scheduler/),
    );
    assert.deepEqual(xlSchedDomain('sched-credit2', 'sched-g'), before);
  });

  it('RTDS: this hypervisor has no RTDS scheduler; the refusal is exact and leaves no pool', async function () {
    // Debian builds Xen 4.17 and 4.20 with CONFIG_SCHED_CREDIT and CONFIG_SCHED_CREDIT2 only.
    const config = fs.readFileSync(`/boot/xen-${suiteXen()}-amd64.config`, 'utf8');
    assert.match(config, /^CONFIG_SCHED_CREDIT2=y$/m);
    assert.doesNotMatch(config, /^CONFIG_SCHED_RTDS=y$/m);
    await ctx.host.cpupools.removeCpus('Pool-0', '1');
    try {
      await assert.rejects(ctx.host.cpupools.create({ name: 'rt', scheduler: 'rtds', cpus: '1' }), (e: unknown) => {
        assert.ok(e instanceof XenError);
        assert.equal(e.code, 'ERROR_FAIL');
        assert.equal(e.errno, 2); // ENOENT from the hypervisor: no such scheduler
        assert.match(e.message, /libxl_cpupool_create: Could not create cpupool \(No such file or directory\)/);
        return true;
      });
      // xl itself is refused the same way.
      assert.throws(() => xl('cpupool-create', 'name="rt"', 'sched="rtds"', 'cpus="1"'));
      assert.deepEqual(Object.keys(xlPoolCpus()), ['Pool-0']);
      assert.ok((await ctx.host.info()).freeCpus === 1, 'CPU 1 still free');
    } finally {
      await ctx.host.cpupools.addCpus('Pool-0', '1');
    }
    assert.equal(xlPoolCpus()['Pool-0'], '0,1');
  });

  it('a credit pool: CPU taken from Pool-0, guest moved in, weight/cap and pool parameters, moved back, pool destroyed', async function () {
    await ctx.host.cpupools.removeCpus('Pool-0', '1');
    assert.equal(xlPoolCpus()['Pool-0'], '0');
    const pool = await ctx.host.cpupools.create({ name: 'cr', scheduler: 'credit', cpus: '1' });
    assert.deepEqual([pool.name, pool.scheduler, pool.cpus], ['cr', 'credit', [1]]);
    assert.equal(xlPoolCpus().cr, '1');
    await ctx.host.cpupools.moveDomain({ uuid: g.uuid }, 'cr'); // by UUID
    assert.match(xl('list', '-c', 'sched-g'), /sched-g.*\bcr$/m);
    assert.equal((await g.info()).cpupoolId, pool.poolid);

    assert.equal((await g.schedParams()).scheduler, 'credit');
    await g.setSchedParams({ weight: 512, cap: 50 });
    assert.deepEqual(xlSchedDomain('sched-credit', 'sched-g'), { weight: 512, cap: 50 });
    assert.deepEqual(await g.schedParams(), { scheduler: 'credit', weight: 512, cap: 50 });

    // Pool parameters: ratelimit and migration delay. (tslice is left alone: see the note on
    // the credit tick in README.)
    const p0 = await ctx.host.cpupools.schedParams('cr');
    // vcpu_migr_delay_us: libxl's name, still taken (deprecated) beside the new ones.
    await ctx.host.cpupools.setSchedParams('cr', { ratelimitUs: 500, vcpu_migr_delay_us: 100 });
    assert.match(
      xl('sched-credit', '-s', '-p', 'cr'),
      new RegExp(`tslice=${p0.tsliceMs}ms ratelimit=500us migration-delay=100us`),
    );

    // The last CPU of a pool with a domain cannot go; nothing changes.
    await assert.rejects(
      ctx.host.cpupools.removeCpus('cr', '1'),
      (e: unknown) => e instanceof XenError && e.code === 'ERROR_FAIL' && /Error removing cpu 1 from cpupool/.test(e.message),
    );
    assert.equal(xlPoolCpus().cr, '1');
    await assert.rejects(ctx.host.cpupools.destroy('cr'), (e: unknown) => e instanceof XenError);
    assert.equal(xlPoolCpus().cr, '1', 'a pool with a domain is not destroyed');

    await ctx.host.cpupools.moveDomain('sched-g', 'Pool-0'); // by name
    assert.match(xl('list', '-c', 'sched-g'), /sched-g.*\bPool-0$/m);
    await ctx.host.cpupools.destroy('cr');
    assert.equal(xlPoolCpus().cr, undefined);
    await ctx.host.cpupools.addCpus('Pool-0', '1');
    assert.equal(xlPoolCpus()['Pool-0'], '0,1');
  });

  it('cpupool create/rename/destroy and bad pool input', async function () {
    await ctx.host.cpupools.create({ name: 'empty', scheduler: 'credit2' });
    await ctx.host.cpupools.rename('empty', 'empty2');
    assert.deepEqual(Object.keys(xlPoolCpus()).sort(), ['Pool-0', 'empty2']);
    await assert.rejects(ctx.host.cpupools.create({ name: 'empty2' }), isXenError('ERR_INVALID_ARG', /exists/));
    await assert.rejects(
      ctx.host.cpupools.create({ name: 'busy', cpus: '0' }),
      isXenError('ERR_INVALID_ARG', /CPU 0 is not free/),
    );
    await assert.rejects(ctx.host.cpupools.create({ name: 'x', cpus: '5' }), isXenError('ERR_INVALID_ARG', /no such CPU: 5/));
    await assert.rejects(ctx.host.cpupools.create({ name: 'bad name!' }), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(ctx.host.cpupools.get('nope'), isXenError('ERR_NOT_FOUND', /no cpupool named "nope"/));
    await assert.rejects(ctx.host.cpupools.moveDomain(g.id, 'nope'), isXenError('ERR_NOT_FOUND'));
    await assert.rejects(ctx.host.cpupools.addCpus('empty2', '0'), isXenError('ERR_INVALID_ARG', /not free/));
    // CPU 0 cannot leave Pool-0 (Xen: EINVAL); all-or-nothing for a list.
    await assert.rejects(ctx.host.cpupools.removeCpus('Pool-0', '1,0'), (e: unknown) => e instanceof XenError && e.errno === 22);
    assert.equal(xlPoolCpus()['Pool-0'], '0,1', 'CPU 1 went back after CPU 0 was refused');
    await ctx.host.cpupools.destroy('empty2');
    assert.deepEqual(Object.keys(xlPoolCpus()), ['Pool-0']);
  });

  it('vcpus() agrees with `xl vcpu-list`', async function () {
    // A vCPU may move between two reads: pin each to one CPU (with xl, independent of our
    // pinVcpu) so that its CPU is the same for both.
    xl('vcpu-pin', 'sched-g', '0', '1');
    xl('vcpu-pin', 'sched-g', '1', '0');
    try {
      const ours = await g.vcpus();
      const theirs = xlVcpus('sched-g');
      assert.equal(ours.length, 2);
      for (const [i, v] of ours.entries()) {
        const t = theirs[i];
        assert.equal(v.vcpu, t.vcpu);
        assert.equal(v.cpu === null ? '-' : String(v.cpu), t.cpu);
        assert.equal(v.cpu, v.online ? 1 - i : null);
        assert.equal(v.online ? '-' : 'p', t.state[2]);
        assert.equal(v.affinity, t.affinity);
        assert.ok(v.cpuTimeNs > 0 || !v.online);
      }
      assert.deepEqual(
        ours.map((v) => v.affinity),
        ['1 / all', '0 / all'],
      );
    } finally {
      xl('vcpu-pin', 'sched-g', 'all', 'all');
    }
  });

  it('pinVcpu() pins and unpins, hard and soft, in xl syntax; xl vcpu-list agrees', async function () {
    await g.pinVcpu(0, '1');
    assert.equal(xlVcpus('sched-g')[0].affinity, '1 / all');
    assert.deepEqual((await g.vcpus())[0].hard, [1]);
    await g.pinVcpu(1, 'all,^1', 'node:0');
    assert.equal(xlVcpus('sched-g')[1].affinity, '0 / all');
    await g.pinVcpu('all', null, [1]);
    assert.deepEqual(
      xlVcpus('sched-g').map((v) => v.affinity),
      ['1 / 1', '0 / 1'],
    );
    await g.pinVcpu('all', 'all', 'all');
    assert.deepEqual(
      xlVcpus('sched-g').map((v) => v.affinity),
      ['all / all', 'all / all'],
    );
    const before = xlVcpus('sched-g').map((v) => v.affinity);
    await assert.rejects(g.pinVcpu(0, '7'), isXenError('ERR_INVALID_ARG', /no such CPU: 7/));
    await assert.rejects(g.pinVcpu(0, 'node:3'), isXenError('ERR_INVALID_ARG', /no such NUMA node: 3/));
    await assert.rejects(g.pinVcpu(0, '^all'), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(g.pinVcpu(0, '1,^1'), isXenError('ERR_INVALID_ARG', /leaves no CPU/));
    await assert.rejects(g.pinVcpu(2, 'all'), isXenError('ERR_INVALID_ARG', /vcpu must be an integer from 0 to 1/));
    await assert.rejects(g.pinVcpu(0, null, null), isXenError('ERR_INVALID_ARG'));
    assert.deepEqual(
      xlVcpus('sched-g').map((v) => v.affinity),
      before,
    );
  });
});
