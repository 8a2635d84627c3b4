// Pure parts of `xenlight top` (xentop's columns, widths and sort) and of the exporter (device
// names, listen addresses, the metrics a sample becomes). The box tests compare them with xentop,
// promtool and a real hypervisor.
import { strict as assert } from 'node:assert';
import { Host, XenError } from '../../src';
import { parseListen, vbdName, XenCollector } from '../../src/monitor/exporter';
import { COLUMNS, formatSummary, formatTable, sortDomains } from '../../src/cli/top';
import { decodeSample, newBuffers, StatsSample } from '../../src/monitor/stats';

/** The UUID of each domain of the sample (dom0's is all zeros, as Xen has it). */
const uuidOf = (domid: number) =>
  domid === 0 ? '00000000-0000-0000-0000-000000000000' : `5e0a1c2d-0000-4000-8000-00000000000${domid}`;

function sample(): StatsSample {
  const s = decodeSample(newBuffers(), 1n, '4.17.5');
  const dom = (domid: number, name: string, mem: number, cpuNs: number) => ({
    domid,
    uuid: uuidOf(domid),
    name,
    state: '-----r',
    dying: false,
    shutdown: false,
    blocked: false,
    crashed: false,
    paused: false,
    running: true,
    cpuTimeNs: cpuNs,
    cpuNs,
    vcpus: [{ online: true, cpuTimeNs: cpuNs, cpuNs }],
    memoryBytes: mem,
    maxMemoryBytes: null as number | null,
    ssid: 0,
    networks: [
      { id: 0, rxBytes: 2048, rxPackets: 2, rxErrors: 0, rxDrops: 0, txBytes: 123456789, txPackets: 1, txErrors: 0, txDrops: 0 },
    ],
    vbds: [],
    rates: null,
  });
  s.totalMemoryBytes = 4 * 2 ** 30;
  s.freeMemoryBytes = 2 ** 30;
  s.cpus = 2;
  s.cpuHz = 2.4e9;
  s.domains = [dom(0, 'Domain-0', 2 ** 30, 5e9), dom(3, 'alpha', 2 ** 28, 9e9), dom(4, 'a-very-long-guest-name', 2 ** 29, 1e9)];
  s.domains[1].maxMemoryBytes = 2 ** 28 + 2 ** 20;
  s.domains[1].rates = {
    cpuPercent: 12.34,
    vcpuPercent: [12.34],
    rxBytesPerSec: 0,
    txBytesPerSec: 0,
    rxPacketsPerSec: 0,
    txPacketsPerSec: 0,
    readRequestsPerSec: 0,
    writeRequestsPerSec: 0,
    readBytesPerSec: 0,
    writeBytesPerSec: 0,
  };
  return s;
}

describe('xenlight top and the exporter (pure parts)', function () {
  it('formats xentop -b: header, widths (counters grow), names cut to 10, no limit / n/a, sorted by name', function () {
    const lines = formatTable(sample());
    assert.equal(
      lines[0],
      '      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID',
    );
    assert.deepEqual(
      lines.slice(1).map((l) => l.slice(0, 10)),
      ['a-very-lon', 'alpha     ', 'Domain-0  '],
    );
    assert.match(lines[2], /^alpha +-----r +9 +12\.3 +262144 +6\.3 +263168 +6\.3 +1 +1 +120563 +2 /);
    assert.match(lines[3], / no limit +n\/a /);
    assert.ok(
      lines.every((l) => l.length === lines[0].length),
      'one width per column',
    );
  });

  it('sorts as xentop: names ascending case-insensitively, numbers descending; reverse', function () {
    const s = sample();
    const mem = COLUMNS.findIndex((c) => c.header === 'MEM(k)');
    assert.deepEqual(
      sortDomains(s, mem).map((d) => d.domid),
      [0, 4, 3],
    );
    assert.deepEqual(
      sortDomains(s, mem, true).map((d) => d.domid),
      [3, 4, 0],
    );
    assert.deepEqual(
      sortDomains(s).map((d) => d.name),
      ['a-very-long-guest-name', 'alpha', 'Domain-0'],
    );
  });

  it('detail lines as xentop -v -n -x, and the summary lines', function () {
    const lines = formatTable(sample(), { vcpus: true, networks: true });
    assert.equal(lines[2], 'VCPUs(sec):   0:          1s');
    assert.match(lines[3], /^Net0 RX: {5}2048bytes {8}2pkts {8}0err {8}0drop {2}TX: 123456789bytes/);
    const [head, counts, mem] = formatSummary(sample(), new Date(2026, 0, 1, 9, 5, 7));
    assert.equal(head, 'xentop - 09:05:07   Xen 4.17.5');
    assert.equal(counts, '3 domains: 3 running, 0 blocked, 0 paused, 0 crashed, 0 dying, 0 shutdown ');
    assert.equal(mem, 'Mem: 4194304k total, 3145728k used, 1048576k free    CPUs: 2 @ 2400MHz');
  });

  it('leaves out a domain being destroyed (no name), as libxenstat does: table, sort and summary', function () {
    const s = sample();
    const dying = { ...s.domains[1], domid: 9, name: null, dying: true, running: false, state: 'd-----' };
    s.domains.push(dying);
    assert.deepEqual(
      sortDomains(s).map((d) => d.domid),
      [4, 3, 0],
    );
    const lines = formatTable(s);
    assert.equal(lines.length, 4, 'a header and three rows');
    assert.ok(lines.every((l) => !/null/.test(l)));
    assert.match(formatSummary(s)[1], /^3 domains: 3 running, .* 0 dying,/);
  });

  it('names block devices as Linux does; parses listen addresses (loopback for a bare port)', function () {
    assert.equal(vbdName(51712), 'xvda');
    assert.equal(vbdName(51728), 'xvdb');
    assert.equal(vbdName(51713), 'xvda1');
    assert.equal(vbdName(768), 'hda');
    assert.equal(vbdName(2048), 'sda');
    assert.equal(vbdName((1 << 28) | (26 << 8)), 'xvdaa');
    assert.equal(vbdName(12345678), '12345678');
    assert.deepEqual(parseListen('9603'), { host: '127.0.0.1', port: 9603 });
    assert.deepEqual(parseListen(9603), { host: '127.0.0.1', port: 9603 });
    assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
    assert.deepEqual(parseListen('[::1]:9603'), { host: '::1', port: 9603 });
    for (const bad of ['', 'host', ':9603', '1.2.3.4:65536', '1.2.3.4:-1', 'a b:1', '[zz]:1']) {
      assert.throws(() => parseListen(bad), /ERR_INVALID_ARG|listen must|port must/, bad);
    }
  });

  it('turns a sample into Prometheus metrics; a failed sample is xen_up 0 with nothing else', async function () {
    let fail = false;
    const A = uuidOf(3);
    const host = {
      stats: {
        sample: async () => {
          if (fail) throw new XenError('gone', { code: 'ERR_CLOSED', op: 'x' });
          return sample();
        },
        latest: () => undefined,
      },
    } as unknown as Host;
    const c = new XenCollector(host, { minIntervalMs: 0 });
    const text = await c.metrics();
    // Series by UUID and name; the domid only in xen_domain_info.
    assert.match(text, new RegExp(`^xen_domain_cpu_seconds_total\\{uuid="${A}",domain="alpha"\\} 9$`, 'm'));
    assert.match(text, new RegExp(`^xen_domain_info\\{uuid="${A}",domain="alpha",domid="3"\\} 1$`, 'm'));
    // The guest's side: dom0's vif transmitted 123456789 bytes, which the guest received.
    assert.match(
      text,
      new RegExp(`^xen_domain_network_receive_bytes_total\\{uuid="${A}",domain="alpha",vif="0"\\} 123456789$`, 'm'),
    );
    // dom0 received 2 packets, 2048 bytes without their Ethernet headers: 2076 bytes of frames.
    assert.match(text, new RegExp(`^xen_domain_network_transmit_bytes_total\\{uuid="${A}",domain="alpha",vif="0"\\} 2076$`, 'm'));
    assert.match(text, new RegExp(`^xen_domain_memory_max_bytes\\{uuid="${A}",domain="alpha"\\} 269484032$`, 'm'));
    // Every domain of the sample, by the UUID the sample carries (no domain list beside it).
    assert.match(text, new RegExp(`^xen_domain_info\\{uuid="${uuidOf(4)}",domain="a-very-long-guest-name",domid="4"\\} 1$`, 'm'));
    assert.match(text, /^xen_domain_memory_bytes\{uuid="0{8}-0{4}-0{4}-0{4}-0{12}",domain="Domain-0"\} 1073741824$/m);
    assert.doesNotMatch(text, /^xen_domain_memory_max_bytes\{[^}]*domain="Domain-0"/m, 'no limit: no sample');
    assert.match(text, /^# TYPE xen_domain_cpu_seconds_total counter$/m);
    assert.match(text, /^xen_up 1$/m);
    fail = true;
    const down = await c.metrics();
    assert.match(down, /^xen_up 0$/m);
    assert.doesNotMatch(down, /^xen_domain_cpu_seconds_total\{/m);
    assert.throws(() => new XenCollector(host, { minIntervalMs: -1 }), /minIntervalMs/);
  });

  it("serves the application's own recent sample (a running stats.watch()) instead of sampling again", async function () {
    const mine = sample();
    let sampled = 0;
    let asked: number | undefined;
    const host = {
      stats: {
        sample: async () => {
          sampled++;
          return sample();
        },
        latest: (maxAgeMs: number) => {
          asked = maxAgeMs;
          return mine;
        },
      },
    } as unknown as Host;
    mine.time = process.hrtime.bigint() - 250_000_000n; // taken 250 ms ago
    const c = new XenCollector(host, { minIntervalMs: 500 });
    const text = await c.metrics();
    assert.equal(sampled, 0, 'no sample of its own');
    assert.equal(asked, 500, 'at most minIntervalMs old');
    assert.match(text, /^xen_domains 3$/m);
    const age = Number(/^xen_exporter_sample_age_seconds (\S+)$/m.exec(text)?.[1]);
    assert.ok(age >= 0.25 && age < 5, `age ${age}`);
    assert.match(text, /^xen_exporter_sample_duration_seconds 0$/m, 'no sample taken');
  });
});
