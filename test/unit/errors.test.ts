// One error code per meaning (issue #25): the kind table, the two argument errors of both layers.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { XEN_ERROR_KINDS, XenError, XenRangeError, XenTypeError, type XenErrorCode } from '../../src';
import { badNumber, errorKind, fsError, invalidArg, outOfRange } from '../../src/core/errors';
import { loadAddon } from '../../src/core/native';
import { serveMetrics } from '../../src/monitor/exporter';
import type { Host } from '../../src/core/host';
import { ErrorCodes } from '../../src/generated/libxl-types';

describe('errors: one code per meaning', function () {
  describe('the kind table', function () {
    it("lists every code: libxl's names and the package's own, each with a kind", function () {
      const kinds = new Set([
        'not-found',
        'invalid-argument',
        'unsupported',
        'io',
        'aborted',
        'closed',
        'permission',
        'timeout',
        'busy',
        'environment',
        'failed',
      ]);
      for (const name of Object.keys(ErrorCodes)) assert.ok(Object.hasOwn(XEN_ERROR_KINDS, name), name);
      // The package's own codes, as declared in XenErrorCode (src/core/errors.ts).
      const source = fs.readFileSync(path.resolve(__dirname, '../../../src/core/errors.ts'), 'utf8');
      const union = source.slice(source.indexOf('export type XenErrorCode'), source.indexOf('export type XenErrorKind'));
      const own = [...union.matchAll(/\| '([A-Z0-9_]+)'/g)].map((m) => m[1]);
      assert.ok(own.length >= 20, own.join(' '));
      for (const code of own) assert.ok(Object.hasOwn(XEN_ERROR_KINDS, code), code);
      assert.equal(Object.keys(XEN_ERROR_KINDS).length, Object.keys(ErrorCodes).length + own.length);
      for (const [code, kind] of Object.entries(XEN_ERROR_KINDS)) assert.ok(kinds.has(kind), `${code}: ${kind}`);
    });

    it('one kind per meaning, whichever layer reported it', function () {
      for (const code of ['ERROR_DOMAIN_NOTFOUND', 'ERROR_NOTFOUND', 'ERR_NOT_FOUND'] as XenErrorCode[])
        assert.equal(XEN_ERROR_KINDS[code], 'not-found', code);
      for (const code of ['ERR_INVALID_ARG', 'ERROR_INVAL', 'ERR_XLCFG_SYNTAX', 'ERR_XEN_VERSION'] as XenErrorCode[])
        assert.equal(XEN_ERROR_KINDS[code], 'invalid-argument', code);
      for (const code of ['ERR_UNSUPPORTED', 'ERROR_NI'] as XenErrorCode[])
        assert.equal(XEN_ERROR_KINDS[code], 'unsupported', code);
      for (const code of ['ERR_NOT_XEN', 'ERR_NOT_DOM0', 'ERR_NO_LIBXENLIGHT', 'ERR_XEN_ABI', 'ERR_ADDON_LOAD'] as XenErrorCode[])
        assert.equal(XEN_ERROR_KINDS[code], 'environment', code);
      assert.equal(XEN_ERROR_KINDS.ERR_STREAM, 'io');
      assert.equal(XEN_ERROR_KINDS.ERR_ABORTED, 'aborted');
      assert.equal(XEN_ERROR_KINDS.ERROR_ABORTED, 'aborted');
      assert.equal(XEN_ERROR_KINDS.ERR_CLOSED, 'closed');
      assert.equal(XEN_ERROR_KINDS.ERR_PERMISSION, 'permission');
      assert.equal(XEN_ERROR_KINDS.ERR_TIMEOUT, 'timeout');
      assert.equal(XEN_ERROR_KINDS.ERROR_DEVICE_EXISTS, 'busy');
      assert.equal(XEN_ERROR_KINDS.ERROR_FAIL, 'failed');
      assert.ok(!Object.hasOwn(XEN_ERROR_KINDS, 'ENOTSUP'));
    });

    it("a XenError's kind comes from its code; a code outside the table (ERROR_<n>) is 'failed'", function () {
      assert.equal(new XenError('x', { code: 'ERROR_DOMAIN_NOTFOUND', op: 'x' }).kind, 'not-found');
      assert.equal(new XenError('x', { code: 'ERR_NOT_FOUND', op: 'x' }).kind, 'not-found');
      assert.equal(new XenError('x', { code: 'ERROR_-99' as XenErrorCode, op: 'x' }).kind, 'failed');
      assert.equal(errorKind('toString'), 'failed');
    });
  });

  describe('argument errors (TypeScript layer)', function () {
    it('invalidArg: a TypeError that is also a XenError, code ERR_INVALID_ARG', function () {
      const e = invalidArg('set memory', 'memory must be a number');
      assert.ok(e instanceof TypeError);
      assert.ok(e instanceof XenTypeError);
      assert.ok(e instanceof XenError);
      assert.ok(!(e instanceof RangeError));
      assert.equal(e.code, 'ERR_INVALID_ARG');
      assert.equal(e.kind, 'invalid-argument');
      assert.equal(e.op, 'set memory');
      assert.deepEqual(e.details, []);
      assert.equal(e.message, 'set memory: memory must be a number');
      assert.equal(e.name, 'TypeError');
    });

    it('outOfRange: a RangeError that is also a XenError, code ERR_INVALID_ARG', function () {
      const e = outOfRange('set vcpus', 'count must be an integer from 1 to 4');
      assert.ok(e instanceof RangeError);
      assert.ok(e instanceof XenRangeError);
      assert.ok(e instanceof XenError);
      assert.ok(!(e instanceof TypeError));
      assert.equal(e.code, 'ERR_INVALID_ARG');
      assert.equal(e.kind, 'invalid-argument');
      assert.equal(e.op, 'set vcpus');
      assert.deepEqual(e.details, []);
      assert.equal(e.name, 'RangeError');
    });

    it('badNumber: a RangeError for a number (or bigint) out of range, a TypeError for anything else', function () {
      assert.ok(badNumber('op', 7, 'm') instanceof RangeError);
      assert.ok(badNumber('op', NaN, 'm') instanceof RangeError);
      assert.ok(badNumber('op', -1n, 'm') instanceof RangeError);
      assert.ok(badNumber('op', '7', 'm') instanceof TypeError);
      assert.ok(badNumber('op', undefined, 'm') instanceof TypeError);
    });

    it('instanceof XenError stays false for plain errors, and subclass checks are not widened', function () {
      assert.ok(!(new TypeError('x') instanceof XenError));
      assert.ok(!(new RangeError('x') instanceof XenError));
      assert.ok(!(new Error('x') instanceof XenError));
      assert.ok(!({} instanceof XenError));
      assert.ok(!(invalidArg('op', 'm') instanceof XenRangeError));
      assert.ok(new XenError('x', { code: 'ERR_STREAM', op: 'x' }) instanceof XenError);
    });

    it('API calls throw them: a CPU list with a CPU the host lacks is a RangeError, a wrong type a TypeError', function () {
      const { parseCpuList } = require('../../src/sched/cpulist') as typeof import('../../src/sched/cpulist');
      const layout = { nrCpus: 4, cpusOfNode: () => undefined };
      assert.throws(
        () => parseCpuList('9', layout, 'pin'),
        (e: unknown) => e instanceof RangeError && e instanceof XenError && e.code === 'ERR_INVALID_ARG' && e.op === 'pin',
      );
      assert.throws(
        () => parseCpuList({} as never, layout, 'pin'),
        (e: unknown) => e instanceof TypeError && e instanceof XenError && e.code === 'ERR_INVALID_ARG',
      );
    });
  });

  describe('files, consoles, listening sockets', function () {
    it('fsError: ENOENT is ERR_NOT_FOUND, EACCES ERR_PERMISSION, anything else ERR_STREAM, with the errno', function () {
      const fail = (code: string, errno: number) => Object.assign(new Error(code), { code, errno: -errno });
      const notFound = fsError('restore', fail('ENOENT', 2));
      assert.equal(notFound.code, 'ERR_NOT_FOUND');
      assert.equal(notFound.kind, 'not-found');
      assert.equal(notFound.errno, 2);
      assert.equal(fsError('save', fail('EACCES', 13)).code, 'ERR_PERMISSION');
      assert.equal(fsError('save', fail('EPERM', 1)).code, 'ERR_PERMISSION');
      const full = fsError('save', fail('ENOSPC', 28));
      assert.equal(full.code, 'ERR_STREAM');
      assert.equal(full.errno, 28);
      let real: unknown;
      try {
        fs.openSync('/no/such/dir/file', 'r');
      } catch (e) {
        real = e;
      }
      const e = fsError('restore', real);
      assert.equal(e.code, 'ERR_NOT_FOUND');
      assert.equal(e.errno, 2);
      assert.equal(e.cause, real);
    });

    it('serveMetrics: a port in use is ERR_STREAM with its errno and the cause', async function () {
      const busy = net.createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const port = (busy.address() as net.AddressInfo).port;
      try {
        await assert.rejects(serveMetrics({} as Host, { listen: `127.0.0.1:${port}` }), (e: unknown) => {
          assert.ok(e instanceof XenError, String(e));
          assert.equal(e.code, 'ERR_STREAM');
          assert.equal(e.kind, 'io');
          assert.equal(e.errno, 98); // EADDRINUSE
          assert.equal((e.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
          assert.match(e.message, /listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
          return true;
        });
      } finally {
        busy.close();
      }
    });

    it('serveMetrics: a port beyond 65535 is a RangeError, a malformed listen a TypeError', async function () {
      await assert.rejects(
        serveMetrics({} as Host, { listen: '127.0.0.1:70000' }),
        (e: unknown) => e instanceof RangeError && e instanceof XenError && e.code === 'ERR_INVALID_ARG',
      );
      await assert.rejects(
        serveMetrics({} as Host, { listen: 'no port' }),
        (e: unknown) => e instanceof TypeError && e instanceof XenError && e.code === 'ERR_INVALID_ARG',
      );
    });
  });

  describe('argument errors (the addon)', function () {
    // The xl.cfg parsers need no hypervisor: the addon loads wherever the Xen libraries are.
    type Raw = Record<string, (...a: unknown[]) => unknown>;
    let addon: Raw | undefined;
    before(function () {
      try {
        addon = loadAddon('unit test') as unknown as Raw;
      } catch (e) {
        console.log(`      (skipped: ${(e as Error).message.split('\n')[0]})`);
        this.skip();
      }
    });

    it("a wrong type is the XenTypeError, with the method's name as op", function () {
      assert.throws(
        () => addon!.xlcfgCpuid(false, 'host'),
        (e: unknown) => {
          assert.ok(e instanceof XenTypeError, String(e));
          assert.ok(e instanceof TypeError);
          assert.ok(e instanceof XenError);
          assert.equal(e.code, 'ERR_INVALID_ARG');
          assert.equal(e.kind, 'invalid-argument');
          assert.equal(e.op, 'xlcfgCpuid');
          assert.deepEqual(e.details, []);
          assert.equal(e.message, 'xlcfgCpuid: expected an array of strings');
          return true;
        },
      );
    });

    it('a number out of range is the XenRangeError', function () {
      assert.throws(
        () => addon!.xlcfgPci('x.cfg', '00:01.0', 2 ** 40, 0, 0, 0, 0),
        (e: unknown) => {
          assert.ok(e instanceof XenRangeError, String(e));
          assert.ok(e instanceof RangeError);
          assert.ok(e instanceof XenError);
          assert.equal(e.code, 'ERR_INVALID_ARG');
          assert.equal(e.op, 'xlcfgPci');
          return true;
        },
      );
    });

    it("init's own bad argument is a TypeError with code ERR_INVALID_ARG and op init", function () {
      assert.throws(
        () => addon!.init({}),
        (e: unknown) =>
          e instanceof TypeError && (e as XenTypeError).code === 'ERR_INVALID_ARG' && (e as XenTypeError).op === 'init',
      );
      assert.throws(
        () => addon!.init({ XenError, XenTypeError: 1 }),
        (e: unknown) => e instanceof TypeError && (e as XenTypeError).code === 'ERR_INVALID_ARG',
      );
      // The classes in use are the ones it had.
      assert.throws(() => addon!.xlcfgCpuid(false, 'host'), XenTypeError);
    });
  });
});
