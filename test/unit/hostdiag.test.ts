// Pure parts of src/monitor/hostdiag.ts: console text into lines, the incremental ring cursor, xl claims'
// columns, the meaning given to libxl's CMT and tmem failures, argument checks.
import { strict as assert } from 'node:assert';
import { XenError } from '../../src';
import type { DomainInfo } from '../../src';
import type { NativeContext } from '../../src/core/native';
import {
  advanceCursor,
  claimsFrom,
  newCmt,
  cmtError,
  RingCursor,
  splitConsoleText,
  newTmem,
  tmemError,
} from '../../src/monitor/hostdiag';

const untouchable = (): NativeContext => {
  throw new Error('native reached despite bad input');
};

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
    const d = (over: Partial<DomainInfo>): DomainInfo =>
      ({
        name: 'g',
        domid: 3,
        memoryKiB: 98304,
        outstandingMemoryKiB: 0,
        vcpusOnline: 1,
        cpuTimeNs: 2.5e9,
        ...over,
      }) as DomainInfo;
    const c = claimsFrom(
      [d({}), d({ name: null, domid: 4, memoryKiB: 1024, outstandingMemoryKiB: 2047 * 1024 + 1023 })],
      2560,
      4096,
      () => '-b----',
    );
    assert.deepEqual(c.domains[0], {
      name: 'g',
      domid: 3,
      memoryMiB: 96,
      vcpus: 1,
      state: '-b----',
      cpuTimeNs: 2.5e9,
      cpuTime: 2.5,
      claimedMiB: 0,
      outstandingKiB: 0,
    });
    assert.equal(c.domains[1].name, null);
    assert.equal(c.domains[1].memoryMiB, 2048); // (1024 + 2047 MiB + 1023 KiB) KiB, floored, as xl
    assert.equal(c.domains[1].claimedMiB, 2047);
    assert.equal(c.totalMiB, 10);
    assert.equal(c.outstandingPages, 2560);
  });

  it('CMT failures: ENODEV is ERR_UNSUPPORTED, ESRCH a missing domain; libxl code, errno, lines kept', function () {
    const line = 'libxl: error: libxl_psr.c:71:libxl__psr_cmt_log_err_msg: CMT is not supported in this system: No such device';
    const raw = new XenError('x failed', { code: 'ERROR_FAIL', op: 'x', errno: 19, details: [line] });
    const e = cmtError('CMT attach of domain 0', raw) as XenError;
    assert.equal(e.code, 'ERR_UNSUPPORTED');
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

  it('tmem failures are ERR_UNSUPPORTED and keep libxl code and lines', function () {
    const line = 'libxl: error: libxl_tmem.c:24:libxl_tmem_list: Can not get tmem list: Success';
    const raw = new XenError('tmem list failed', { code: 'ERROR_FAIL', op: 'tmem list', details: [line] });
    const e = tmemError('tmem list', raw) as XenError;
    assert.equal(e.code, 'ERR_UNSUPPORTED');
    assert.match(e.message, /no transcendent memory/);
    assert.match(e.message, /ERROR_FAIL/);
    assert.deepEqual(e.details, [line]);
    assert.equal((e.cause as XenError).code, 'ERROR_FAIL');
  });

  it('bad arguments are ERR_INVALID_ARG before anything reaches libxl', async function () {
    const cmt = newCmt(
      untouchable,
      async () => {
        throw new Error('a domid is not looked up'); // names are (see the end)
      },
      async () => [],
      async () => [0],
    );
    const tmem = newTmem(untouchable);
    const invalid = (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG';
    for (const bad of [-1, 0x7ff0, 1.5, NaN]) {
      await assert.rejects(cmt.attach(bad), invalid, String(bad));
      await assert.rejects(cmt.detach(bad), invalid, String(bad));
      await assert.rejects(tmem.freeze(bad), invalid, String(bad));
    }
    await assert.rejects(tmem.freeze('0' as unknown as number), invalid);
    // A string is a domain's name since 1.0 (cmt takes a domid, a name, { uuid } or a handle): looked up.
    await assert.rejects(cmt.attach('g'), /a domid is not looked up/);
    await assert.rejects(cmt.show('bogus' as 'cache-occupancy'), invalid);
    await assert.rejects(cmt.show('__proto__' as 'cache-occupancy'), invalid);
    await assert.rejects(tmem.set(0, 'bogus' as 'weight', 1), invalid);
    await assert.rejects(tmem.set(0, 'weight', -1), invalid);
    await assert.rejects(tmem.sharedAuth(0, 'not-a-uuid', true), invalid);
  });
});
