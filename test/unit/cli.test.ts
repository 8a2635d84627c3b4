// Pure parts of the `xenlight` command: xl's tables from known values (the expected lines are
// xl 4.17's own output, copied from Xen in a box), argument parsing and exit codes off Xen.
// test/xen/22-cli.test.ts compares the real thing with xl in the box.
import { strict as assert } from 'node:assert';
import type { DomainInfo } from '../../src';
import { domainInfo } from '../../src/core/domain-info';
import { formatList } from '../../src/cli/domain';
import { formatBlockList, formatNetworkList, formatPciList } from '../../src/cli/devices';
import { formatInfo } from '../../src/cli/host';
import { main } from '../../src/cli/main';
import { formatCpupoolList, formatCreditPools, formatVcpuList, parsePoolConfig, poolLine } from '../../src/cli/sched';
import { memoryMiBArg, seconds1 } from '../../src/cli/common';
import { progressReporter } from '../../src/cli/progress';
import { Writable } from 'node:stream';

/** A stream that records what is written, a terminal if `tty`. */
function fakeStream(tty: boolean): NodeJS.WriteStream & { text: () => string } {
  let buf = '';
  const s = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(s, {
    isTTY: tty,
    columns: 100,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    text: () => buf,
  });
  return s;
}

const dom0: DomainInfo = domainInfo({
  domid: 0,
  name: 'Domain-0',
  uuid: '00000000-0000-0000-0000-000000000000',
  ssidref: 0,
  running: true,
  blocked: false,
  paused: false,
  shutdown: false,
  dying: false,
  neverStop: false,
  shutdownReason: 'poweroff',
  outstandingMemoryKiB: 0,
  memoryKiB: 1572864,
  sharedMemoryKiB: 0,
  pagedMemoryKiB: 0,
  maxMemoryKiB: 1572864,
  cpuTimeNs: 12.8e9,
  vcpuMaxId: 1,
  vcpusOnline: 2,
  cpupoolId: 0,
  gpaddrBits: 0,
  domainType: 'pv',
});

/** Captures stdout/stderr of `main(argv)`. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'xenlight', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

describe('xenlight CLI (pure parts)', function () {
  it("list: xl list's header and row, -v's UUID and reason columns", function () {
    assert.equal(
      formatList([dom0]),
      'Name                                        ID   Mem VCPUs\tState\tTime(s)\n' +
        'Domain-0                                     0  1536     2     r-----      12.8',
    );
    assert.equal(
      formatList([dom0], { verbose: true }).split('\n')[1],
      'Domain-0                                     0  1536     2     r-----      12.8 00000000-0000-0000-0000-000000000000        -                -',
    );
    const crashed = domainInfo({ ...dom0, domid: 7, name: null, running: false, shutdown: true, shutdownReason: 'crash' });
    assert.match(formatList([crashed], { verbose: true }).split('\n')[1], /^\(null\) +7 +1536 +2 {5}---sc-  +12\.8 \S+ +3 /);
  });

  it('Time(s) as xl rounds it: through a 32-bit float', function () {
    assert.equal(seconds1(12.8e9), '12.8');
    // 0.05 s: as a double 0.05 rounds to 0.1 in JS and glibc alike; the float cast decides xl's digit.
    assert.equal(seconds1(50_000_000), (Math.fround(50_000_000) / 1e9).toFixed(1));
  });

  it('vcpu-list: online and offline vCPUs as xl prints them', function () {
    const vcpu = (n: number, cpu: number | null, state: 'r' | 'b' | 'off', secs: number) => ({
      vcpu: n,
      cpu,
      online: state !== 'off',
      running: state === 'r',
      blocked: state === 'b',
      cpuTimeNs: secs * 1e9,
      time: secs * 1e9,
      hard: [0, 1],
      soft: [0, 1],
      affinity: 'all / all',
    });
    assert.equal(
      formatVcpuList([{ name: 'Domain-0', domid: 0, vcpus: [vcpu(0, 0, 'b', 7.8), vcpu(1, 1, 'r', 6.5)] }]),
      'Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n' +
        'Domain-0                             0     0    0   -b-       7.8  all / all\n' +
        'Domain-0                             0     1    1   r--       6.5  all / all',
    );
    assert.equal(
      formatVcpuList([{ name: 'g', domid: 4, vcpus: [vcpu(1, null, 'off', 0)] }]).split('\n')[1],
      'g                                    4     1    -   --p       0.0  all / all',
    );
  });

  it("sched-credit2, cpupool-list: xl's lines", function () {
    assert.equal(
      formatCreditPools('credit2', [
        {
          pool: 'Pool-0',
          params: { ratelimitUs: 1000 },
          domains: [{ name: 'Domain-0', domid: 0, params: { scheduler: 'credit2', weight: 256, cap: 0 } }],
        },
      ]),
      'Cpupool Pool-0: ratelimit=1000us\nName                                ID Weight  Cap\nDomain-0                             0    256    0',
    );
    assert.equal(
      poolLine('p', 'credit', { tsliceMs: 30, ratelimitUs: 1000, vcpuMigrDelayUs: 0 }),
      'Cpupool p: tslice=30ms ratelimit=1000us migration-delay=0us',
    );
    const pool = { poolid: 0, name: 'Pool-0', scheduler: 'credit2' as const, domainCount: 1, cpus: [0, 1] };
    assert.equal(
      formatCpupoolList([pool], false),
      'Name               CPUs   Sched     Active   Domain count\n' + 'Pool-0               2   credit2       y          1',
    );
    assert.equal(formatCpupoolList([pool], true), 'Name               CPU list\nPool-0             0,1');
  });

  it('block-list, network-list, pci-list headers and rows', function () {
    assert.equal(formatBlockList([]), 'Vdev  BE  handle state evt-ch ring-ref BE-path                       ');
    assert.equal(
      formatNetworkList([]),
      'Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       ',
    );
    assert.equal(
      formatNetworkList([
        {
          devid: 0,
          mac: '00:16:3e:5a:78:22',
          backendDomid: 0,
          state: 4,
          evtch: 19,
          txRingRef: 1280,
          rxRingRef: 1281,
          backendPath: '/local/domain/0/backend/vif/3/0',
          config: {},
        },
      ]).split('\n')[1],
      '0   0  00:16:3e:5a:78:22     0     4     19  1280/1281        /local/domain/0/backend/vif/3/0',
    );
    assert.equal(formatPciList([{ vdevfn: 0x28, bdf: '0000:00:01.0' }]), 'Vdev Device\n05.0 0000:00:01.0');
  });

  it('info: key column of 23, virt_caps with a space before each, a prefix prints values only', function () {
    const info = {
      hostname: 'box',
      virtCaps: ['pv', 'hvm'],
      xenMajor: 4,
      xenMinor: 17,
      xenVersion: '4.17.7',
      xenExtra: '.7',
    } as never;
    const text = formatInfo(info);
    assert.match(text, /^host {19}: box$/m);
    assert.match(text, /^virt_caps {14}: pv hvm$/m);
    assert.equal(formatInfo(info, 'xen_m'), '4\n17');
  });

  it('memory sizes as xl reads them: MiB by default, units b/k/m/g/t, whole MiB only', function () {
    assert.equal(memoryMiBArg('512'), 512);
    assert.equal(memoryMiBArg('2g'), 2048);
    assert.equal(memoryMiBArg('1024K'), 1);
    assert.throws(() => memoryMiBArg('1.5g'), /whole number/);
    assert.throws(() => memoryMiBArg('512k'), /not a whole number of MiB/);
    assert.throws(() => memoryMiBArg('-1'), /whole number/);
  });

  it('cpupool-create settings: key="value" lines and lists', function () {
    assert.deepEqual(parsePoolConfig(['name="p1"', "sched='credit2'", 'cpus=["1","2"]']), {
      name: 'p1',
      sched: 'credit2',
      cpus: '1,2',
    });
    assert.deepEqual(parsePoolConfig(['# a pool\nname = "p2" ; cpus = "3"']), { name: 'p2', cpus: '3' });
    assert.throws(() => parsePoolConfig(['nodes="0"']), /unknown cpupool key nodes/);
    assert.throws(() => parsePoolConfig(['name']), /expected key="value"/);
  });

  it('progress: a bar with percent and MiB on a terminal, plain lines per phase and tenth otherwise', function () {
    const tty = fakeStream(true);
    const bar = progressReporter('save g', 100 * 2 ** 20, { stream: tty });
    bar.listener({ phase: 'transfer', bytes: 10 * 2 ** 20 });
    bar.listener({ phase: 'done' });
    bar.stop();
    assert.match(tty.text(), /save g transfer \u2588{4}\u2591{36} 10% \| 10\.0\/100\.0 MiB/);
    assert.match(tty.text(), /save g done \u2588{40} 100% \| 100\.0\/100\.0 MiB/);
    const pipe = fakeStream(false);
    const lines = progressReporter('migrate g', 100 * 2 ** 20, { stream: pipe });
    for (let mib = 0; mib <= 100; mib += 1) lines.listener({ phase: 'transfer', bytes: mib * 2 ** 20 });
    lines.listener({ phase: 'done' });
    const out = pipe.text().trim().split('\n');
    assert.equal(out.length, 12, pipe.text());
    assert.equal(out[0], 'migrate g: transfer 0.0 MiB');
    assert.equal(out[5], 'migrate g: transfer 50.0 MiB');
    assert.equal(out[11], 'migrate g: done');
    assert.equal(progressReporter('x', 1, { stream: pipe, quiet: true }).listener({ phase: 'done' }), undefined);
  });

  it("exit codes off Xen: 2 for usage (commander's message), 1 for a Xen error with its code", async function () {
    const unknown = await run('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badArg = await run('mem-set', 'g', '1.5g');
    assert.equal(badArg.code, 2);
    assert.match(badArg.stderr, /memory is a whole number/);
    // An ssh destination that ssh would take as an option (and run a command from) is refused.
    const sshOpt = await run('migrate', 'g', '--', '-oProxyCommand=touch /tmp/pwned');
    assert.equal(sshOpt.code, 2);
    assert.match(sshOpt.stderr, /a host is one word not starting with "-"/);
    assert.equal((await run('migrate', 'g', '-oProxyCommand=touch /tmp/pwned')).code, 2);
    const help = await run('list', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--long/);
    const offXen = await run('list');
    assert.equal(offXen.code, 1);
    assert.match(offXen.stderr, /^xenlight: open: this machine is not running on Xen.*\(ERR_NOT_XEN\)$/m);
  });
});
