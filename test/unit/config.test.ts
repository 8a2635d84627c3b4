// Checks on libxl JSON configs before they reach libxl's parser (which aborts on some input).
import { strict as assert } from 'node:assert';
import { checkDomainConfig } from '../../src/core/domain-config';
import { XenError } from '../../src';

const ok = { c_info: { name: 'g', type: 'pv' }, b_info: { max_memkb: 1024, 'type.pv': {} }, disks: [{ vdev: 'xvda' }] };

describe('domain config checks', function () {
  it('accepts a plain libxl config', function () {
    assert.equal(checkDomainConfig(ok, 'op'), ok);
  });

  it('refuses two variants of one keyed union anywhere in the tree (libxl would abort)', function () {
    const nested = { ...ok, usbdevs: [{ 'type.hostdev': {}, 'type.other': {} }] };
    for (const bad of [{ ...ok, b_info: { 'type.pv': {}, 'type.hvm': {} } }, nested]) {
      assert.throws(
        () => checkDomainConfig(bad, 'op'),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && /two variants of "type"/.test(e.message),
      );
    }
  });

  it('refuses non-objects, missing names, non-finite numbers and NUL characters', function () {
    for (const bad of [
      null,
      1,
      'x',
      [],
      {},
      { c_info: { name: '' } },
      { ...ok, b_info: { max_memkb: NaN } },
      { ...ok, b_info: { kernel: 'a\u0000b' } },
    ]) {
      assert.throws(
        () => checkDomainConfig(bad, 'op'),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
        JSON.stringify(bad),
      );
    }
  });

  describe('what fuzzing found (test/unit/fuzz.test.ts)', function () {
    const refused = (config: unknown, re: RegExp) =>
      assert.throws(
        () => checkDomainConfig(config, 'op'),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && re.test(e.message),
      );

    it('deep nesting and cycles are refused with a XenError (were: RangeError, stack overflow)', function () {
      let deep: unknown = 1;
      for (let i = 0; i < 200_000; i++) deep = [deep];
      refused({ ...ok, x: deep }, /config\.x(\[0\])+ is nested more than 64 levels deep/);
      const cyclic: Record<string, unknown> = { ...ok, b_info: { ...ok.b_info } };
      (cyclic.b_info as Record<string, unknown>).again = cyclic;
      refused(cyclic, /^op: config\.b_info\.again contains itself \(a cycle\)$/);
    });

    it('BigInts and NUL characters in keys are refused (JSON.stringify would throw; C would cut the key)', function () {
      refused({ ...ok, b_info: { max_memkb: 1n } }, /config\.b_info\.max_memkb is a BigInt/);
      refused({ ...ok, b_info: { 'max\0memkb': 1 } }, /config\.b_info has a key with a NUL character/);
    });

    it('an object shared by several fields is checked once and accepted (parseXlConfig shares one CPU map)', function () {
      const map = Array.from({ length: 16384 }, (_, i) => i);
      const shared = { ...ok, b_info: { ...ok.b_info, vcpu_hard_affinity: Array<number[]>(8192).fill(map) } };
      const t0 = performance.now();
      assert.equal(checkDomainConfig(shared, 'op'), shared);
      assert.ok(performance.now() - t0 < 1000);
    });
  });
});
