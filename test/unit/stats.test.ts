// src/monitor/stats.ts without a hypervisor: the native layout decoded, rates between samples, objects
// reused by watch(), buffer growth, watch()'s timing and ending. The numbers a real hypervisor
// gives are checked against xentop in test/xen/20-hostdiag and 21-stats.
import { strict as assert } from 'node:assert';
import { XenError, stateString, xentopState } from '../../src';
import type { NativeContext } from '../../src/core/native';
import { decodeSample, newBuffers, newStats, SampleBuffers, STATS_LAYOUT, StatsSample } from '../../src/monitor/stats';

interface FakeDomain {
  domid: number;
  name: string | null;
  flags: number;
  cpuNs: number;
  mem: number;
  maxMem: number;
  ssid?: number;
  uuid?: string;
  vcpus: [online: number, ns: number][];
  nets?: number[][]; // id + 8 counters
  vbds?: number[][]; // type dev oo rd wr rsect wsect error
}
interface FakeHost {
  totMem: number;
  freeMem: number;
  cpus: number;
  hz: number;
  idle: number[];
  domains: FakeDomain[];
}

/** A UUID per domid for domains whose test names none. */
const FAKE_UUID = (domid: number) => `00000000-0000-4000-8000-${domid.toString(16).padStart(12, '0')}`;
const uuidBytes = (uuid: string) => [...Buffer.from(uuid.replace(/-/g, ''), 'hex')];

/** The layout native/monitor/stats.cc writes, produced in JS for the decoder's tests. */
function encode(h: FakeHost, buf: SampleBuffers): boolean {
  const vals: number[] = [h.domains.length, h.totMem, h.freeMem, h.cpus, h.hz, 0, 0, 0, h.idle.length, 0, ...h.idle];
  const names: number[] = [];
  for (const d of h.domains) {
    const bytes = d.name === null ? [] : [...Buffer.from(d.name)];
    vals.push(
      d.domid,
      d.flags,
      d.cpuNs,
      d.mem,
      d.maxMem,
      d.ssid ?? 0,
      d.vcpus.length,
      d.nets?.length ?? 0,
      d.vbds?.length ?? 0,
      d.name === null ? -1 : names.length,
      bytes.length,
      names.length + bytes.length,
    );
    names.push(...bytes, ...uuidBytes(d.uuid ?? FAKE_UUID(d.domid)));
    for (const v of d.vcpus) vals.push(...v);
    for (const n of d.nets ?? []) vals.push(...n);
    for (const b of d.vbds ?? []) vals.push(...b);
  }
  buf.f64[6] = vals.length;
  buf.f64[7] = names.length;
  if (vals.length > buf.f64.length || names.length > buf.names.length) return false;
  buf.f64.set(vals);
  buf.f64[6] = vals.length;
  buf.f64[7] = names.length;
  buf.names.set(names);
  return true;
}

const RUNNING = 32;
const NO_MAX = 64;
function host(over: Partial<FakeHost> = {}): FakeHost {
  return {
    totMem: 4 * 2 ** 30,
    freeMem: 2 ** 30,
    cpus: 2,
    hz: 2.3e9,
    idle: [10e9, 20e9],
    domains: [
      {
        domid: 0,
        name: 'Domain-0',
        flags: RUNNING | NO_MAX,
        cpuNs: 5e9,
        mem: 2 ** 30,
        maxMem: 2 ** 64 - 1,
        vcpus: [
          [1, 3e9],
          [1, 2e9],
        ],
      },
      {
        domid: 7,
        name: 'g1',
        flags: 4,
        cpuNs: 1e9,
        mem: 96 * 2 ** 20,
        maxMem: 97 * 2 ** 20,
        vcpus: [[1, 1e9]],
        nets: [[0, 1000, 10, 1, 2, 500, 5, 3, 4]],
        vbds: [[1, 51712, 0, 100, 50, 800, 400, 0]],
      },
    ],
    ...over,
  };
}

function decoded(h: FakeHost, time: bigint, opts = {}): StatsSample {
  const buf = newBuffers();
  assert.ok(encode(h, buf));
  return decodeSample(buf, time, '4.17.5', opts);
}

describe('statistics (src/monitor/stats.ts without a hypervisor)', function () {
  it('decodes the native layout: host, state letters, no limit, names, vCPUs, vifs, vbds', function () {
    assert.equal(STATS_LAYOUT.header, 10);
    const s = decoded(host(), 7n);
    assert.equal(s.time, 7n);
    assert.equal(s.cpus, 2);
    assert.equal(s.xenVersion, '4.17.5');
    assert.deepEqual(s.pcpuIdleNs, [10e9, 20e9]);
    assert.equal(s.rates, null, 'no rates without an earlier sample');
    const [d0, g] = s.domains;
    assert.equal(d0.name, 'Domain-0');
    assert.equal(xentopState(d0), '-----r');
    assert.equal(stateString(d0), 'r-----', "xl's letters and order, as for a DomainInfo");
    assert.equal(d0.maxMemoryBytes, null, 'no limit');
    assert.deepEqual(
      d0.vcpus.map((v) => ({ ...v })),
      [
        { online: true, cpuTimeNs: 3e9 },
        { online: true, cpuTimeNs: 2e9 },
      ],
    );
    // The deprecated names of 0.x: getters, not in the objects' own keys.
    assert.deepEqual([d0.state, d0.cpuNs, d0.vcpus[0].cpuNs], ['-----r', d0.cpuTimeNs, 3e9]);
    assert.ok(!Object.keys(d0).includes('state') && !Object.keys(d0).includes('cpuNs'));
    assert.equal(xentopState(g), '--b---');
    assert.equal(stateString(g), '-b----');
    assert.equal(g.blocked, true);
    assert.equal(g.maxMemoryBytes, 97 * 2 ** 20);
    assert.deepEqual(g.networks[0], {
      id: 0,
      rxBytes: 1000,
      rxPackets: 10,
      rxErrors: 1,
      rxDrops: 2,
      txBytes: 500,
      txPackets: 5,
      txErrors: 3,
      txDrops: 4,
    });
    assert.deepEqual(g.vbds[0], {
      type: 1,
      dev: 51712,
      outOfRequests: 0,
      readRequests: 100,
      writeRequests: 50,
      readSectors: 800,
      writeSectors: 400,
      error: false,
    });
    const all = decoded(host({ domains: [{ ...host().domains[1], name: null, flags: 63 }] }), 1n);
    assert.equal(all.domains[0].name, null);
    assert.equal(xentopState(all.domains[0]), 'dsbcpr');
    assert.equal(stateString(all.domains[0]), 'rbpscd', 'a crash is the fifth letter, as xl prints it');
    // The UUID from its 16 bytes after the name (and after no name).
    assert.equal(d0.uuid, '00000000-0000-4000-8000-000000000000');
    assert.equal(all.domains[0].uuid, FAKE_UUID(all.domains[0].domid));
    const uuid = 'a1b2c3d4-e5f6-4789-9abc-def012345678';
    assert.equal(decoded(host({ domains: [{ ...host().domains[1], uuid }] }), 1n).domains[0].uuid, uuid);
  });

  it('rates since an earlier sample: CPU % as xentop, per vCPU, bytes and requests per second, pCPU busy', function () {
    const a = decoded(host(), 1_000_000_000n);
    const h2 = host();
    h2.idle = [10.5e9, 20.25e9]; // over 2 s: pCPU0 idle 0.5 s (75% busy), pCPU1 0.25 s (87.5%)
    h2.domains[0].cpuNs += 1e9; // 1 s of CPU in 2 s: 50%
    h2.domains[0].vcpus = [
      [1, 3.6e9],
      [1, 2.4e9],
    ];
    h2.domains[1].nets = [[0, 3000, 30, 1, 2, 900, 9, 3, 4]];
    h2.domains[1].vbds = [[1, 51712, 0, 120, 70, 1600, 1200, 0]];
    h2.domains.push({ domid: 9, name: 'new', flags: 0, cpuNs: 1, mem: 1, maxMem: 1, vcpus: [] });
    const b = decoded(h2, 3_000_000_000n, { since: a });
    assert.equal(b.rates!.intervalSec, 2);
    assert.deepEqual(b.rates!.pcpuBusyPercent, [75, 87.5]);
    assert.equal(b.rates!.cpuBusyPercent, 81.25);
    const r0 = b.domains[0].rates!;
    assert.equal(r0.cpuPercent, 50);
    assert.deepEqual(
      r0.vcpuPercent.map((x) => Math.round(x * 1000) / 1000),
      [30, 20],
    );
    const r1 = b.domains[1].rates!;
    assert.equal(r1.cpuPercent, 0);
    assert.deepEqual([r1.rxBytesPerSec, r1.rxPacketsPerSec, r1.txBytesPerSec, r1.txPacketsPerSec], [1000, 10, 200, 2]);
    assert.deepEqual(
      [r1.readRequestsPerSec, r1.writeRequestsPerSec, r1.readBytesPerSec, r1.writeBytesPerSec],
      [10, 10, 400 * 512, 400 * 512],
    );
    assert.equal(b.domains[2].rates, null, 'a domain new since then has no rates');
    // A domid reused by a new domain (CPU time went back) gets no rates either.
    const h3 = host();
    h3.domains[1].cpuNs = 10;
    assert.equal(decoded(h3, 4_000_000_000n, { since: b }).domains[1].rates, null);
    // The earlier sample is not touched.
    assert.equal(a.domains[0].cpuTimeNs, 5e9);
    assert.equal(a.domains[0].rates, null);
  });

  it('in place: the same objects tick after tick, gone domains dropped, names decoded only when they change', function () {
    const buf = newBuffers();
    const cur = decodeSample((encode(host(), buf), buf), 1_000_000_000n, null);
    const [d0, g] = cur.domains;
    const v0 = d0.vcpus[0];
    const name0 = d0.name;
    const h2 = host();
    h2.domains[0].cpuNs += 2e8;
    h2.domains[1].name = 'renamed';
    h2.domains[1].uuid = 'a1b2c3d4-e5f6-4789-9abc-def012345678';
    encode(h2, buf);
    const same = decodeSample(buf, 2_000_000_000n, null, { into: cur });
    assert.equal(same, cur);
    assert.equal(cur.domains[0], d0, 'the domain object is reused');
    assert.equal(cur.domains[0].vcpus[0], v0, 'the vCPU object is reused');
    assert.equal(cur.domains[0].name, name0);
    assert.equal(Math.round(cur.domains[0].rates!.cpuPercent), 20);
    assert.equal(cur.domains[1], g);
    assert.equal(g.name, 'renamed');
    assert.equal(g.uuid, 'a1b2c3d4-e5f6-4789-9abc-def012345678', 'new UUID bytes are decoded');
    assert.equal(d0.uuid, FAKE_UUID(0));
    const rates = d0.rates;
    // dom 7 goes, dom 8 comes: a fresh object without rates; dom0's rates object is reused.
    const h3 = host();
    h3.domains[1] = { ...h3.domains[1], domid: 8, name: 'g8' };
    h3.domains[0].cpuNs += 4e8;
    encode(h3, buf);
    decodeSample(buf, 3_000_000_000n, null, { into: cur });
    assert.equal(cur.domains.length, 2);
    assert.equal(cur.domains[0].rates, rates);
    assert.notEqual(cur.domains[1], g);
    assert.equal(cur.domains[1].name, 'g8');
    assert.equal(cur.domains[1].rates, null);
    // dom 7 coming back later is a new object too (it was dropped).
    encode(host(), buf);
    decodeSample(buf, 4_000_000_000n, null, { into: cur });
    assert.notEqual(cur.domains[1], g);
  });

  function fakeNative(h: () => FakeHost, calls: { sample: number; open: number; close: number }): () => NativeContext {
    const native = {
      statsOpen: () => {
        calls.open++;
        return {};
      },
      statsClose: () => {
        calls.close++;
      },
      statsSampleInto: (_h: object, f64: Float64Array, names: Uint8Array) => {
        calls.sample++;
        return encode(h(), { f64, names });
      },
    };
    return () => native as unknown as NativeContext;
  }

  it('grows its buffers when a host has more domains than they hold', async function () {
    const calls = { sample: 0, open: 0, close: 0 };
    const many = host({
      domains: Array.from({ length: 300 }, (_, i) => ({
        domid: i,
        name: `guest-with-a-long-name-${i}`,
        flags: 0,
        cpuNs: i,
        mem: 1,
        maxMem: 1,
        vcpus: [
          [1, 1],
          [1, 2],
        ] as [number, number][],
        nets: [[0, 1, 2, 3, 4, 5, 6, 7, 8]],
        vbds: [[1, 51712, 0, 1, 2, 3, 4, 0]],
      })),
    });
    const stats = newStats(fakeNative(() => many, calls));
    const s = await stats.sample();
    assert.equal(s.domains.length, 300);
    assert.equal(s.domains[299].name, 'guest-with-a-long-name-299');
    assert.equal(calls.sample, 2, 'one sample too big for the first buffers, one that fits');
    await stats.sample();
    assert.equal(calls.sample, 3, 'the grown buffers are kept');
    assert.equal(calls.open, 1);
  });

  it('watch(): first sample at once, then one per interval with rates, one object; ends on abort and on close', async function () {
    const calls = { sample: 0, open: 0, close: 0 };
    let cpu = 0;
    const stats = newStats(
      fakeNative(() => {
        const h = host();
        cpu += 1e7;
        h.domains[0].cpuNs = cpu;
        return h;
      }, calls),
    );
    const ac = new AbortController();
    const seen: StatsSample[] = [];
    const times: number[] = [];
    const t0 = performance.now();
    for await (const s of stats.watch({ intervalMs: 50, signal: ac.signal })) {
      seen.push(s);
      times.push(performance.now() - t0);
      if (seen.length === 1) assert.equal(s.rates, null);
      else assert.ok(s.domains[0].rates!.cpuPercent > 0);
      if (seen.length === 5) ac.abort();
    }
    assert.equal(seen.length, 5);
    assert.ok(
      seen.every((s) => s === seen[0]),
      'one object, updated in place',
    );
    assert.ok(times[0] < 30, `first sample at once (${times[0]} ms)`);
    assert.ok(times[4] >= 195, `four intervals of 50 ms (${times[4]} ms)`);

    // The Host closing ends a watcher that is waiting.
    const it = stats.watch({ intervalMs: 60_000 });
    assert.equal((await it.next()).done, false);
    const pending = it.next();
    stats._release(fakeNative(host, calls)(), true);
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.equal(calls.close, 1);
  });

  it('latest(maxAgeMs): the newest sample of sample() or of a running watch(), if young enough', async function () {
    const calls = { sample: 0, open: 0, close: 0 };
    const stats = newStats(fakeNative(host, calls));
    assert.equal(stats.latest(60_000), undefined, 'none taken yet');
    const one = await stats.sample();
    assert.equal(stats.latest(60_000), one);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(stats.latest(5), undefined, 'older than 5 ms');
    const ac = new AbortController();
    for await (const s of stats.watch({ intervalMs: 10, signal: ac.signal })) {
      assert.equal(stats.latest(60_000), s, "the watch's object");
      ac.abort();
    }
    assert.equal(calls.sample, 2, 'latest() samples nothing');
    assert.throws(
      () => stats.latest(-1),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
    );
  });

  it('bad arguments are ERR_INVALID_ARG before anything reaches native code', async function () {
    const untouchable = (): NativeContext => {
      throw new Error('native reached despite bad input');
    };
    const stats = newStats(untouchable);
    const invalid = (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG';
    for (const intervalMs of [-1, NaN, Infinity, '100', 2 ** 32]) {
      await assert.rejects(stats.watch({ intervalMs: intervalMs as number }).next(), invalid, String(intervalMs));
    }
    await assert.rejects(stats.watch({ signal: {} as AbortSignal }).next(), invalid);
    await assert.rejects(stats.sample({ since: {} as StatsSample }), invalid);
  });
});
