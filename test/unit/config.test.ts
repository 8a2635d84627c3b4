// Checks on libxl JSON configs before they reach libxl's parser (which aborts on some input).
import { strict as assert } from 'node:assert';
import { checkDomainConfig } from '../../src/config';
import { XenError } from '../../src';

const ok = { c_info: { name: 'g', type: 'pv' }, b_info: { max_memkb: 1024, 'type.pv': {} }, disks: [{ vdev: 'xvda' }] };

describe('domain config checks', function () {
  it('accepts a plain libxl config', function () {
    assert.equal(checkDomainConfig(ok, 'op'), ok);
  });

  it('refuses two variants of one keyed union anywhere in the tree (libxl would abort)', function () {
    const nested = { ...ok, usbdevs: [{ 'type.hostdev': {}, 'type.other': {} }] };
    for (const bad of [{ ...ok, b_info: { 'type.pv': {}, 'type.hvm': {} } }, nested]) {
      assert.throws(() => checkDomainConfig(bad, 'op'), (e: unknown) =>
        e instanceof XenError && e.code === 'ERR_INVALID_ARG' && /two variants of "type"/.test(e.message));
    }
  });

  it('refuses non-objects, missing names, non-finite numbers and NUL characters', function () {
    for (const bad of [null, 1, 'x', [], {}, { c_info: { name: '' } }, { ...ok, b_info: { max_memkb: NaN } },
      { ...ok, b_info: { kernel: 'a\u0000b' } }]) {
      assert.throws(() => checkDomainConfig(bad, 'op'), (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
        JSON.stringify(bad));
    }
  });
});
