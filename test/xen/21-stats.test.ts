// Statistics over time in the box: watch() and rates while a guest does disk and network I/O,
// `xenlight top -b` against `xentop -b` column for column, the live view in tmux, and the
// Prometheus exporter (validated by promtool, values against the API and xentop).
import { strict as assert } from 'node:assert';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { XenError } from '../../src';
import type { Domain, StatsSample } from '../../src';
import { serveMetrics, vbdName } from '../../src/monitor/exporter';
import { guestRun } from '../support/guest';
import { suiteXen } from '../support/xen-version';
import { useHost } from '../support/host';
import { tables } from '../support/xentop';
import { sleep, until, xlBootPvGuest, xlList, xlUuid } from '../support/xl';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const PROMTOOL = path.join(ROOT, '.cache/tools/promtool');
const DISK = '/tmp/mon-disk.img';

/** curl's status code for a request (async: the server under test runs in this process). */
async function curlStatus(...args: string[]): Promise<string> {
  // curl may exit non-zero when the server closes the connection after its answer: the code still counts.
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args], { encoding: 'utf8' }, (_e, stdout) =>
      resolve(stdout),
    );
  });
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(url, init);
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** The guest's own counters of eth0 (its /proc/net/dev): what it received and sent. */
async function guestEth0(dom: Domain): Promise<{ rxBytes: number; rxPackets: number; txBytes: number; txPackets: number }> {
  const r = await guestRun(dom, 'cat /proc/net/dev');
  assert.equal(r.status, 0, r.out);
  const line = r.out.split('\n').find((l) => l.trim().startsWith('eth0:'));
  assert.ok(line, r.out);
  const f = line.split(':')[1].trim().split(/\s+/).map(Number);
  return { rxBytes: f[0], rxPackets: f[1], txBytes: f[8], txPackets: f[9] };
}

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const fam = parsePrometheus(text).find((f) => f.name === name);
  assert.ok(fam, `metric ${name} missing`);
  const s = fam.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(s, `${name}${JSON.stringify(labels)} missing`);
  return Number(s.value);
}

describe('statistics over time, xenlight top, the Prometheus exporter', function () {
  this.timeout(180_000);
  const ctx = useHost();
  let dom: Domain;
  let domid: number;

  before(async function () {
    fs.writeFileSync(DISK, '');
    fs.truncateSync(DISK, 32 * 2 ** 20);
    domid = await xlBootPvGuest({
      name: 'mon-1',
      memoryMiB: 96,
      vcpus: 2,
      extra: ['vif = [ "bridge=xenbr0,mac=00:16:3e:5a:78:02" ]', `disk = [ "${DISK},raw,xvda,rw" ]`],
    });
    dom = await ctx.host.domain(domid);
    execFileSync('ip', ['addr', 'add', '169.254.78.1/16', 'dev', 'xenbr0']);
    const r = await guestRun(dom, 'ip link set eth0 up && ip addr add 169.254.78.2/16 dev eth0');
    assert.equal(r.status, 0, r.out);
  });

  after(async function () {
    spawnSync('ip', ['addr', 'del', '169.254.78.1/16', 'dev', 'xenbr0']);
    fs.rmSync(DISK, { force: true });
  });

  it('each domain of a sample has the UUID xl shows for it', async function () {
    const s = await ctx.host.stats.sample();
    const byId = new Map(s.domains.map((d) => [d.domid, d.uuid]));
    assert.equal(byId.get(0), xlUuid('Domain-0'));
    assert.equal(byId.get(domid), xlUuid('mon-1'));
    assert.equal(byId.get(domid), dom.uuid);
  });

  it('sample({since}): block and network rates and counters move when the guest does I/O', async function () {
    const s0 = await ctx.host.stats.sample();
    const w = await guestRun(dom, 'dd if=/dev/zero of=/dev/xvda bs=64k count=64 oflag=direct 2>&1');
    assert.equal(w.status, 0, w.out);
    const ping = execFileSync('busybox', ['ping', '-c', '5', '-i', '0.2', '-W', '5', '169.254.78.2'], { encoding: 'utf8' });
    assert.match(ping, /5 packets transmitted, 5 packets received/);
    const mid = await ctx.host.stats.sample();
    const procNetDev = fs.readFileSync('/proc/net/dev', 'utf8');
    const s1 = await ctx.host.stats.sample({ since: s0 });
    // dom0's end of the vif counts them, as libxenstat (and so xentop) does.
    const line = procNetDev.split('\n').find((l) => l.trim().startsWith(`vif${domid}.0:`))!;
    const f = line.split(':')[1].trim().split(/\s+/).map(Number);
    const [m, e] = [mid, s1].map((s) => s.domains.find((d) => d.domid === domid)!.networks[0]);
    assert.ok(m.rxBytes <= f[0] && f[0] <= e.rxBytes, `rx bytes ${m.rxBytes} <= /proc/net/dev ${f[0]} <= ${e.rxBytes}`);
    assert.ok(m.txPackets <= f[9] && f[9] <= e.txPackets, `tx packets ${m.txPackets} <= /proc/net/dev ${f[9]} <= ${e.txPackets}`);
    const g0 = s0.domains.find((d) => d.domid === domid)!;
    const g1 = s1.domains.find((d) => d.domid === domid)!;
    const dt = s1.rates!.intervalSec;
    assert.ok(Math.abs(dt - Number(s1.time - s0.time) / 1e9) < 1e-9);
    const written = (g1.vbds[0].writeSectors - g0.vbds[0].writeSectors) * 512;
    assert.ok(written >= 4 * 2 ** 20, `4 MiB written, counters say ${written}`);
    assert.ok(g1.vbds[0].writeRequests - g0.vbds[0].writeRequests >= 64);
    assert.ok(Math.abs(g1.rates!.writeBytesPerSec * dt - written) < 1, 'the rate is the counters over the interval');
    const rx = g1.networks[0].rxPackets - g0.networks[0].rxPackets;
    const tx = g1.networks[0].txPackets - g0.networks[0].txPackets;
    assert.ok(rx >= 5 && tx >= 5, `5 pings each way: rx ${rx} tx ${tx}`);
    assert.ok(g1.rates!.rxPacketsPerSec > 0 && g1.rates!.txBytesPerSec > 0);
    assert.ok(g1.rates!.cpuPercent > 0, 'the guest used CPU for dd');
    assert.equal(g1.rates!.vcpuPercent.length, 2);
    // Xen reads the domain's time and each vCPU's at slightly different instants: close, not equal.
    const vsum = g1.rates!.vcpuPercent.reduce((a, b) => a + b);
    assert.ok(
      Math.abs(vsum - g1.rates!.cpuPercent) <= 0.05 * g1.rates!.cpuPercent + 0.5,
      `vCPUs ${g1.rates!.vcpuPercent.join(' + ')} vs domain ${g1.rates!.cpuPercent}`,
    );
    assert.equal(s1.rates!.pcpuBusyPercent.length, s1.cpus);
    assert.ok(s1.rates!.cpuBusyPercent > 0 && s1.rates!.cpuBusyPercent <= 100);
    assert.equal(s0.rates, null);
  });

  it('watch(): one object updated in place each tick, rates while the guest writes, ends on abort', async function () {
    // dd in the background of the guest's shell, for about the length of the watch.
    await guestRun(
      dom,
      '(for i in 1 2 3 4 5 6; do dd if=/dev/zero of=/dev/xvda bs=64k count=16 oflag=direct 2>/dev/null; sleep 0.3; done) >/dev/null 2>&1 & true',
    );
    const ac = new AbortController();
    const ticks: { time: bigint; cpuNs: number; writeSectors: number; rate: number | null; written: number | null }[] = [];
    let first: StatsSample | undefined;
    let guestObj: unknown;
    for await (const s of ctx.host.stats.watch({ intervalMs: 400, signal: ac.signal })) {
      first ??= s;
      assert.equal(s, first, 'the same sample object every tick');
      const g = s.domains.find((d) => d.domid === domid)!;
      guestObj ??= g;
      assert.equal(g, guestObj, 'the same domain object every tick');
      ticks.push({
        time: s.time,
        cpuNs: g.cpuTimeNs,
        writeSectors: g.vbds[0].writeSectors,
        rate: g.rates?.writeBytesPerSec ?? null,
        written: null,
      });
      if (ticks.length === 6) ac.abort();
    }
    assert.equal(ticks.length, 6);
    assert.equal(ticks[0].rate, null, 'no rates on the first tick');
    for (let i = 1; i < ticks.length; i++) {
      // Fixed rate: tick i is due 400 ms × i after the first (a late tick shortens the next wait).
      const since = Number(ticks[i].time - ticks[0].time) / 1e9;
      // (Each time is read after its sample: the first, which opens libxenctrl and reads the version, takes longest.)
      assert.ok(since >= 0.4 * i - 0.1 && since < 0.4 * i + 3, `tick ${i} at ${since} s`);
      const dt = Number(ticks[i].time - ticks[i - 1].time) / 1e9;
      const bytes = (ticks[i].writeSectors - ticks[i - 1].writeSectors) * 512;
      assert.ok(Math.abs(ticks[i].rate! * dt - bytes) < 1, `tick ${i}: rate ${ticks[i].rate} over ${dt} s vs ${bytes} bytes`);
    }
    assert.ok(
      ticks.some((t) => (t.rate ?? 0) > 0),
      "the guest's writes show as a rate",
    );
    await guestRun(dom, 'wait');
  });

  it('a disk attached to a running guest shows in samples at once (xenstore watch), and leaves when detached', async function () {
    const extra = '/tmp/mon-disk2.img';
    fs.writeFileSync(extra, '');
    fs.truncateSync(extra, 8 * 2 ** 20);
    const devs = async () => (await ctx.host.stats.sample()).domains.find((d) => d.domid === domid)!.vbds.map((b) => b.dev);
    try {
      assert.deepEqual(await devs(), [51712]);
      await dom.disks.attach(`${extra},raw,xvdb,rw`);
      // sysfs is listed again when xenstore's backend/vbd changes, not only every 5 s.
      const t0 = Date.now();
      await until('xvdb in a sample', async () => (await devs()).includes(51728), 2000);
      assert.deepEqual(await devs(), [51712, 51728]);
      assert.ok(Date.now() - t0 < 2000);
      await dom.disks.detach('xvdb');
      await until('xvdb gone from samples', async () => !(await devs()).includes(51728), 2000);
    } finally {
      spawnSync('xl', ['block-detach', String(domid), 'xvdb']);
      fs.rmSync(extra, { force: true });
    }
  });

  it('`xenlight top -b` prints what `xentop -b` prints: the same header, rows, columns and values', async function () {
    const theirs = spawnSync('xentop', ['-b', '-i', '2', '-d', '1'], { encoding: 'utf8' });
    assert.equal(theirs.status, 0, theirs.stderr);
    const ours = spawnSync('node', [CLI, 'top', '-b', '-i', '2', '-d', '1'], { encoding: 'utf8' });
    assert.equal(ours.status, 0, ours.stderr);
    const xt = tables(theirs.stdout);
    const xn = tables(ours.stdout);
    assert.equal(xn.length, 2, 'two iterations');
    assert.equal(xt.length, 2);
    for (let it = 0; it < 2; it++) {
      assert.equal(xn[it].header, xt[it].header, 'the header, spacing included');
      assert.deepEqual(
        xn[it].rows.map((r) => r.NAME),
        xt[it].rows.map((r) => r.NAME),
        'the same domains in the same order',
      );
      xn[it].rows.forEach((r, i) => {
        const x = xt[it].rows[i];
        assert.equal(xn[it].lines[i].length, xt[it].lines[i].length, `row width of ${r.NAME}`);
        for (const col of ['MEM(k)', 'MEM(%)', 'MAXMEM(k)', 'MAXMEM(%)', 'VCPUS', 'NETS', 'VBDS', 'SSID']) {
          assert.equal(r[col], x[col], `${r.NAME} ${col}`);
        }
        // Counters: ours ran after xentop, so they are never lower.
        for (const col of ['CPU(sec)', 'NETTX(k)', 'NETRX(k)', 'VBD_OO', 'VBD_RD', 'VBD_WR', 'VBD_RSECT', 'VBD_WSECT']) {
          assert.ok(Number(r[col]) >= Number(x[col]), `${r.NAME} ${col}: ${r[col]} >= ${x[col]}`);
        }
        const pct = Number(r['CPU(%)']);
        if (it === 0) assert.equal(r['CPU(%)'], x['CPU(%)'], 'the first iteration has no previous sample: 0.0 in both');
        else assert.ok(pct >= 0 && pct <= 100 * Number(r.VCPUS), `${r.NAME} CPU(%) ${pct}`);
      });
    }
    // --json: one sample per line.
    const json = spawnSync('node', [CLI, 'top', '--json', '-i', '1'], { encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    const s = JSON.parse(json.stdout.trim()) as { domains: { domid: number; name: string }[] };
    assert.ok(s.domains.some((d) => d.domid === domid && d.name === 'mon-1'));
    // Usage errors exit 2.
    assert.equal(spawnSync('node', [CLI, 'top', '-d', '0'], { encoding: 'utf8' }).status, 2);
    assert.equal(spawnSync('node', [CLI, 'top', '--sort', 'BOGUS'], { encoding: 'utf8' }).status, 2);
  });

  it('the live view in a terminal (tmux): summary, table, sort column, keys; q quits', async function () {
    const sess = `xltop${process.pid}`;
    const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' });
    tmux('new-session', '-d', '-s', sess, '-x', '200', '-y', '30', `node ${CLI} top -d 1; echo top-exit=$?; sleep 30`);
    try {
      const pane = () => tmux('capture-pane', '-p', '-t', sess);
      await until(
        'the top view',
        () =>
          /mon-1/.test(pane()) &&
          new RegExp(`xentop - \\d\\d:\\d\\d:\\d\\d {3}Xen ${suiteXen().replace('.', '\\.')}\\.`).test(pane()),
        30_000,
      );
      let screen = pane();
      assert.match(screen, /\d+ domains: \d+ running, \d+ blocked, \d+ paused, \d+ crashed, \d+ dying, \d+ shutdown/);
      assert.match(screen, /Mem: \d+k total, \d+k used, \d+k free {4}CPUs: \d+ @ \d+MHz/);
      assert.match(screen, /^\s+NAME\s+STATE\s+CPU\(sec\)/m);
      assert.match(screen, /Quit/);
      // Sort by memory (S four times: STATE, CPU(sec), CPU(%), MEM(k)): dom0 (most memory) first.
      tmux('send-keys', '-t', sess, 'S', 'S', 'S', 'S');
      await until(
        'sorted by memory',
        () => {
          const rows = pane()
            .split('\n')
            .filter((l) => /^\s*(Domain-0|mon-1)\s/.test(l));
          return rows.length === 2 && /Domain-0/.test(rows[0]);
        },
        10_000,
      );
      tmux('send-keys', '-t', sess, 'R');
      await until(
        'reversed',
        () => {
          const rows = pane()
            .split('\n')
            .filter((l) => /^\s*(Domain-0|mon-1)\s/.test(l));
          return rows.length === 2 && /mon-1/.test(rows[0]);
        },
        10_000,
      );
      tmux('send-keys', '-t', sess, 'V');
      await until('vCPU lines', () => /VCPUs\(sec\):\s+0:/.test(pane()), 10_000);
      // The exchange share, when there is one, takes the screen home (the closing note shows it).
      if (fs.existsSync('/xfer')) fs.writeFileSync('/xfer/top-capture.txt', pane());
      tmux('send-keys', '-t', sess, 'q');
      await until('top exits', () => /top-exit=0/.test(pane()), 10_000);
      screen = pane();
      assert.doesNotMatch(screen, /xentop - /, 'the alternate screen is left on exit');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', sess]);
    }
  });

  it('exporter: valid Prometheus text (promtool), values equal to a sample, series by UUID, network from the guest side, read-only, loopback, rate-limited', async function () {
    const srv = await serveMetrics(ctx.host, { listen: '127.0.0.1:0', minIntervalMs: 10_000, maxRequestsPerSecond: 2 });
    try {
      assert.match(srv.address, /^127\.0\.0\.1:\d+$/);
      const url = `http://${srv.address}/metrics`;
      const w = await guestRun(dom, 'dd if=/dev/zero of=/dev/xvda bs=64k count=16 oflag=direct 2>&1');
      assert.equal(w.status, 0, w.out);
      // More bytes to the guest than from it (UDP to a closed port: the guest answers each with a
      // small ICMP error, or not at all), so a swapped direction would not fit the brackets.
      const sock = dgram.createSocket('udp4');
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve, reject) =>
          sock.send(Buffer.alloc(1200), 9, '169.254.78.2', (e) => (e ? reject(e) : resolve())),
        );
      }
      sock.close();
      await sleep(500);
      const gBefore = await guestEth0(dom);
      assert.ok(
        gBefore.rxBytes - gBefore.txBytes > 10_000,
        `the guest received ${gBefore.rxBytes} bytes and sent ${gBefore.txBytes}`,
      );
      const before = await ctx.host.stats.sample();
      const r = await get(url);
      // A second scrape within minIntervalMs (10 s here) is the same sample (taken at once: the
      // checks below can take seconds under emulation).
      const again = await get(url);
      const after = await ctx.host.stats.sample();
      const gAfter = await guestEth0(dom);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
      const text = r.text;
      const uuid = xlUuid('mon-1');
      assert.equal(uuid, dom.uuid);
      const l = { uuid, domain: 'mon-1' };
      assert.equal(metric(text, 'xen_domain_info', { ...l, domid: String(domid) }), 1, 'the domid, for joins');
      assert.equal(metric(text, 'xen_domain_info', { uuid: xlUuid('Domain-0'), domain: 'Domain-0', domid: '0' }), 1);
      const b = before.domains.find((d) => d.domid === domid)!;
      const a = after.domains.find((d) => d.domid === domid)!;
      assert.equal(metric(text, 'xen_up'), 1);
      assert.equal(metric(text, 'xen_domains'), before.domains.length);
      assert.equal(metric(text, 'xen_host_cpus'), before.cpus);
      assert.equal(metric(text, 'xen_host_memory_bytes'), before.totalMemoryBytes);
      assert.equal(metric(text, 'xen_info', { version: before.xenVersion! }), 1);
      assert.equal(metric(text, 'xen_domain_memory_bytes', l), b.memoryBytes);
      assert.equal(metric(text, 'xen_domain_memory_max_bytes', l), b.maxMemoryBytes);
      assert.equal(metric(text, 'xen_domain_vcpus', l), 2);
      const cpu = metric(text, 'xen_domain_cpu_seconds_total', l);
      assert.ok(b.cpuTimeNs / 1e9 <= cpu && cpu <= a.cpuTimeNs / 1e9, `cpu ${cpu}`);
      const dev = { ...l, device: vbdName(b.vbds[0].dev) };
      assert.equal(dev.device, 'xvda');
      const wr = metric(text, 'xen_domain_block_write_bytes_total', dev);
      assert.ok(b.vbds[0].writeSectors * 512 <= wr && wr <= a.vbds[0].writeSectors * 512);
      assert.ok(wr >= 2 ** 20, 'at least the 1 MiB just written');
      // The guest's side: its own counters, read before and after the scrape, bracket the metrics.
      // Bytes are whole Ethernet frames; the guest's netfront counts a received frame after
      // taking its 14-byte Ethernet header off, so its rx bytes plus 14 per packet.
      const vif = { ...l, vif: '0' };
      const frames = (g: typeof gBefore) => ({ ...g, rxBytes: g.rxBytes + 14 * g.rxPackets });
      const [lo, hi] = [frames(gBefore), frames(gAfter)];
      for (const [metricName, key] of [
        ['xen_domain_network_receive_packets_total', 'rxPackets'],
        ['xen_domain_network_receive_bytes_total', 'rxBytes'],
        ['xen_domain_network_transmit_packets_total', 'txPackets'],
        ['xen_domain_network_transmit_bytes_total', 'txBytes'],
      ] as const) {
        const v = metric(text, metricName, vif);
        assert.ok(
          lo[key] <= v && v <= hi[key],
          `${metricName} ${v}: the guest counted ${lo[key]} then ${hi[key]} (${JSON.stringify([gBefore, gAfter])})`,
        );
      }

      assert.equal(metric(text, 'xen_domain_state', { ...l, state: 'crashed' }), 0);
      assert.equal(
        metric(text, 'xen_domain_state', { ...l, state: 'running' }) +
          metric(text, 'xen_domain_state', { ...l, state: 'blocked' }),
        1,
        'a live guest runs or is blocked',
      );
      // A domain without a limit has no max-memory sample.
      const maxFam = parsePrometheus(text).find((f) => f.name === 'xen_domain_memory_max_bytes')!;
      for (const d of before.domains) {
        assert.equal(
          maxFam.metrics.some((m) => m.labels?.domain === d.name),
          d.maxMemoryBytes !== null,
          d.name ?? '',
        );
      }
      assert.equal(again.status, 200);
      assert.equal(
        metric(again.text, 'xen_domain_cpu_seconds_total', { domain: 'Domain-0' }),
        metric(text, 'xen_domain_cpu_seconds_total', { domain: 'Domain-0' }),
      );

      // Read-only, no bodies, one path.
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const x = await get(url, { method });
        assert.equal(x.status, 405, method);
        assert.equal(x.headers.get('allow'), 'GET, HEAD');
      }
      assert.equal(await curlStatus('-X', 'GET', '--data', 'x=1', url), '413');
      assert.equal((await get(`http://${srv.address}/other`)).status, 404);
      assert.equal(await curlStatus('-H', `X-Big: ${'a'.repeat(16384)}`, url), '431', 'oversized headers are refused');
      // A burst beyond 2 per second: no more 200s than the bucket (2) and its refill allow, then 429s.
      await sleep(1100);
      const t0 = performance.now();
      const burst = await Promise.all(Array.from({ length: 20 }, () => get(url)));
      const elapsed = (performance.now() - t0) / 1000;
      const codes = burst.map((x) => x.status);
      assert.ok(codes.filter((c) => c === 200).length <= 2 + Math.ceil(2 * elapsed), `${codes.join(' ')} in ${elapsed} s`);
      assert.ok(
        codes.every((c) => c === 200 || c === 429),
        codes.join(' '),
      );
      assert.ok(codes.includes(429), codes.join(' '));
      assert.equal(burst.find((x) => x.status === 429)!.headers.get('retry-after'), '1');
    } finally {
      await srv.close();
    }
    // The default is loopback:9603.
    const def = await serveMetrics(ctx.host);
    try {
      assert.equal(def.address, '127.0.0.1:9603');
    } finally {
      await def.close();
    }
    await assert.rejects(
      serveMetrics(ctx.host, { listen: 'nonsense' }),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
    );
    await assert.rejects(
      serveMetrics(ctx.host, { listen: '127.0.0.1:70000' }),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
    );
  });

  it("exporter: serves the samples of the application's running stats.watch() instead of taking its own", async function () {
    const ac = new AbortController();
    let ticks = 0;
    const watching = (async () => {
      for await (const _ of ctx.host.stats.watch({ intervalMs: 200, signal: ac.signal })) ticks++;
    })();
    const stats = ctx.host.stats;
    const own = stats.sample.bind(stats);
    let sampled = 0;
    stats.sample = async (opts) => {
      sampled++;
      return own(opts);
    };
    const srv = await serveMetrics(ctx.host, { listen: '127.0.0.1:0', minIntervalMs: 1000 });
    try {
      const url = `http://${srv.address}/metrics`;
      await sleep(500);
      for (let i = 0; i < 3; i++) {
        const r = await get(url);
        assert.equal(r.status, 200);
        const age = metric(r.text, 'xen_exporter_sample_age_seconds', {});
        assert.ok(age !== undefined && age >= 0 && age <= 1, `a watch tick at most minIntervalMs old (${age} s)`);
        assert.equal(metric(r.text, 'xen_domains', {}), xlList().length);
        await sleep(1100); // past minIntervalMs: the next scrape collects again
      }
      assert.equal(sampled, 0, 'no sample of its own while the watch runs');
      assert.ok(ticks >= 10, `the watch ticked (${ticks})`);
      ac.abort();
      await watching;
      await sleep(1100);
      const r = await get(url);
      assert.equal(metric(r.text, 'xen_exporter_sample_age_seconds', {}), 0, 'its own sample once the watch ended');
      assert.equal(sampled, 1);
    } finally {
      ac.abort();
      await watching;
      stats.sample = own;
      await srv.close();
    }
  });

  it('`xenlight exporter` serves curl on the address given and stops on SIGTERM', async function () {
    const child = spawn('node', [CLI, 'exporter', '--listen', '127.0.0.1:19603'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    try {
      await until('the exporter listens', () => /listening on http:\/\/127\.0\.0\.1:19603\/metrics/.test(err), 20_000);
      const out = execFileSync('curl', ['-sf', 'http://127.0.0.1:19603/metrics'], { encoding: 'utf8' });
      assert.match(out, /^# HELP xen_domain_cpu_seconds_total /m);
      assert.match(out, new RegExp(`^xen_domain_cpu_seconds_total\\{uuid="${dom.uuid}",domain="mon-1"\\} [\\d.e+]+$`, 'm'));
      assert.match(out, new RegExp(`^xen_domain_info\\{uuid="${dom.uuid}",domain="mon-1",domid="${domid}"\\} 1$`, 'm'));
      const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: out, encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
