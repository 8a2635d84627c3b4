// Pure parts of src/stats.ts: console text into lines, the incremental ring cursor, xl claims'
// columns, the meaning given to libxl's CMT and tmem failures, argument checks.
import { strict as assert } from 'node:assert';
import { XenError } from '../../src';
import type { DomainInfo } from '../../src';
import type { NativeContext } from '../../src/native';
import {
  advanceCursor, claimsFrom, Cmt, cmtError, RingCursor, splitConsoleText, statsFromRaw, Tmem, tmemError,
} from '../../src/stats';

const untouchable = ((): NativeContext => {
  throw new Error('native reached despite bad input');
});

describe('host diagnostics (pure parts)', function () {
  it('splits console text into lines as xl dmesg prints them', function () {
    assert.deepEqual(splitConsoleText(''), []);
    assert.deepEqual(splitConsoleText('a\n'), ['a']);
    assert.deepEqual(splitConsoleText('a\nb\n'), ['a', 'b']);
    assert.deepEqual(splitConsoleText('a\n\nb'), ['a', '', 'b']);
    assert.deepEqual(splitConsoleText('\n'), ['']);
  });

  it('the ring cursor returns each complete line once and holds an unfinished one back', function () {
    const cur: RingCursor = { index: null, partial: '', dropped: 0 };
    assert.deepEqual(advanceCursor(cur, { text: 'x\ny', start: 100, index: 103 }), ['x']);
    assert.equal(cur.index, 103);
    assert.equal(cur.partial, 'y');
    assert.deepEqual(advanceCursor(cur, { text: '', start: 103, index: 103 }), []);
    assert.deepEqual(advanceCursor(cur, { text: 'z\n', start: 103, index: 105 }), ['yz']);
    assert.deepEqual(advanceCursor(cur, { text: 'a\nb\n', start: 105, index: 109 }), ['a', 'b']);
    assert.equal(cur.partial, '');
    assert.equal(cur.dropped, 0);
  });

  it('the ring cursor counts what Xen overwrote, across the 32-bit wrap of its index', function () {
    const cur: RingCursor = { index: 0xfffffff0, partial: 'half', dropped: 0 };
    // Xen resumed 0x20 characters later than asked: those were lost, and the half line with them.
    const lines = advanceCursor(cur, { text: 'new\n', start: 0x10, index: 0x14 });
    assert.deepEqual(lines, ['new']);
    assert.equal(cur.dropped, 0x20);
    assert.equal(cur.index, 0x14);
  });

  it('claims: the columns of xl claims from libxl dominfo and physinfo', function () {
    const d = (over: Partial<DomainInfo>): DomainInfo => ({
      name: 'g', domid: 3, current_memkb: 98304, outstanding_memkb: 0, vcpu_online: 1, cpu_time: 2.5e9,
      ...over,
    } as DomainInfo);
    const c = claimsFrom([d({}), d({ name: null, domid: 4, current_memkb: 1024, outstanding_memkb: 2047 * 1024 + 1023 })],
      2560, 4096, () => '-b----');
    assert.deepEqual(c.domains[0], {
      name: 'g', domid: 3, memoryMiB: 96, vcpus: 1, state: '-b----', cpuTime: 2.5, claimedMiB: 0, outstandingKiB: 0,
    });
    assert.equal(c.domains[1].name, null);
    assert.equal(c.domains[1].memoryMiB, 2048); // (1024 + 2047 MiB + 1023 KiB) KiB, floored, as xl
    assert.equal(c.domains[1].claimedMiB, 2047);
    assert.equal(c.totalMiB, 10);
    assert.equal(c.outstandingPages, 2560);
  });

  it('CMT failures: ENODEV is ENOTSUP, ESRCH a missing domain; libxl code, errno, lines kept', function () {
    const line = 'libxl: error: libxl_psr.c:71:libxl__psr_cmt_log_err_msg: CMT is not supported in this system: No such device';
    const raw = new XenError('x failed', { code: 'ERROR_FAIL', op: 'x', errno: 19, details: [line] });
    const e = cmtError('CMT attach of domain 0', raw) as XenError;
    assert.equal(e.code, 'ENOTSUP');
    assert.equal(e.errno, 19);
    assert.deepEqual(e.details, [line]);
    assert.equal(e.cause, raw);
    assert.match(e.message, /CMT .*is not supported on this host/);
    assert.ok(e.message.includes(line));
    const gone = cmtError('op', new XenError('y', { code: 'ERROR_FAIL', op: 'y', errno: 3 })) as XenError;
    assert.equal(gone.code, 'ERROR_DOMAIN_NOTFOUND');
    const other = new XenError('z', { code: 'ERROR_FAIL', op: 'z', errno: 12 });
    assert.equal(cmtError('op', other), other);
    const plain = new Error('p');
    assert.equal(cmtError('op', plain), plain);
  });

  it('tmem failures are ENOTSUP and keep libxl code and lines', function () {
    const line = 'libxl: error: libxl_tmem.c:24:libxl_tmem_list: Can not get tmem list: Success';
    const raw = new XenError('tmem list failed', { code: 'ERROR_FAIL', op: 'tmem list', details: [line] });
    const e = tmemError('tmem list', raw) as XenError;
    assert.equal(e.code, 'ENOTSUP');
    assert.match(e.message, /no transcendent memory/);
    assert.match(e.message, /ERROR_FAIL/);
    assert.deepEqual(e.details, [line]);
    assert.equal((e.cause as XenError).code, 'ERROR_FAIL');
  });

  it('bad arguments are ERR_INVALID_ARG before anything reaches libxl', async function () {
    const cmt = new Cmt(untouchable, async () => [], async () => [0]);
    const tmem = new Tmem(untouchable);
    const invalid = (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG';
    for (const bad of [-1, 0x7ff0, 1.5, NaN, '0' as unknown as number]) {
      await assert.rejects(cmt.attach(bad), invalid, String(bad));
      await assert.rejects(cmt.detach(bad), invalid, String(bad));
      await assert.rejects(tmem.freeze(bad), invalid, String(bad));
    }
    await assert.rejects(cmt.show('bogus' as 'cache-occupancy'), invalid);
    await assert.rejects(cmt.show('__proto__' as 'cache-occupancy'), invalid);
    await assert.rejects(tmem.set(0, 'bogus' as 'weight', 1), invalid);
    await assert.rejects(tmem.set(0, 'weight', -1), invalid);
    await assert.rejects(tmem.sharedAuth(0, 'not-a-uuid', true), invalid);
  });

  it('statistics: libxenstat\'s raw numbers into the API\'s objects, xentop\'s state letters', function () {
    const dom = {
      domid: 5, name: 'g', cpu_ns: 3e9, cur_mem: 96 * 2 ** 20, max_mem: 97 * 2 ** 20, no_max_mem: false, ssid: 0,
      dying: false, shutdown: true, blocked: true, crashed: true, paused: false, running: false,
      vcpus: [{ online: true, ns: 2e9 }, { online: false, ns: 0 }],
      networks: [{ id: 0, rbytes: 1, rpackets: 2, rerrs: 3, rdrop: 4, tbytes: 5, tpackets: 6, terrs: 7, tdrop: 8 }],
      vbds: [{ type: 1, dev: 51712, oo_reqs: 1, rd_reqs: 2, wr_reqs: 3, rd_sects: 4, wr_sects: 5, error: false }],
    };
    const s = statsFromRaw({
      xen_version: '4.17.7', tot_mem: 4e9, free_mem: 1e9, freeable_mb: 0, num_cpus: 2, cpu_hz: 2.3e9,
      domains: [dom, { ...dom, domid: 0, name: null, no_max_mem: true, shutdown: false, blocked: false, crashed: false, running: true, dying: true, paused: true }],
    }, 7n);
    assert.equal(s.time, 7n);
    assert.equal(s.cpus, 2);
    assert.equal(s.domains[0].state, '-sbc--');
    assert.equal(s.domains[1].state, 'd---pr');
    assert.equal(s.domains[0].maxMemoryBytes, 97 * 2 ** 20);
    assert.equal(s.domains[1].maxMemoryBytes, null, 'no limit');
    assert.deepEqual(s.domains[0].vcpus, [{ online: true, cpuNs: 2e9 }, { online: false, cpuNs: 0 }]);
    assert.deepEqual(s.domains[0].networks[0], {
      id: 0, rxBytes: 1, rxPackets: 2, rxErrors: 3, rxDrops: 4, txBytes: 5, txPackets: 6, txErrors: 7, txDrops: 8,
    });
    assert.deepEqual(s.domains[0].vbds[0], {
      type: 1, dev: 51712, outOfRequests: 1, readRequests: 2, writeRequests: 3, readSectors: 4, writeSectors: 5, error: false,
    });
  });
});
