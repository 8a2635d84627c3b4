// Loading on a machine that is not a Xen dom0 (the test host itself, outside the box).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
// eslint-disable-next-line @typescript-eslint/no-require-imports

describe('loader outside dom0', function () {
  const onXen = fs.existsSync('/proc/xen/capabilities');

  it('require() works and exports the API', function () {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const x = require('../../src');
    assert.equal(typeof x.Host.open, 'function');
    assert.equal(typeof x.XenError, 'function');
  });

  it('Host.open() off Xen rejects with a XenError that says what is missing', async function () {
    const { Host, XenError } = require('../../src') as typeof import('../../src');
    if (onXen) {
      // Unit tests run on a real dom0 with XENLIGHT_TEST_HOST=real: there, open() works.
      await (await Host.open()).close();
      return;
    }
    await assert.rejects(Host.open(), (e: unknown) => {
      assert.ok(e instanceof XenError);
      assert.equal(e.code, 'ERR_NOT_XEN');
      assert.match(e.message, /not running on Xen/);
      assert.match(e.message, /npm run testbed/);
      return true;
    });
  });

  it('bad options are rejected before anything is loaded', async function () {
    const { Host, XenError } = require('../../src') as typeof import('../../src');
    await assert.rejects(Host.open({ logLevel: 'loud' as never }), (e: unknown) =>
      e instanceof XenError && e.code === 'ERR_INVALID_ARG');
  });

  it('a missing Xen library is named, with the package that has it', function () {
    const { loadError } = require('../../src/native') as typeof import('../../src/native');
    const e = loadError('open', new Error('libxenlight.so.4.17: cannot open shared object file: No such file or directory'));
    assert.equal(e.code, 'ERR_NO_LIBXENLIGHT');
    assert.match(e.message, /^open: libxenlight\.so\.4\.17 is not installed/);
    assert.match(e.message, /apt-get install libxenmisc4\.17/);
    assert.ok(e.cause instanceof Error);
    const other = loadError('open', new Error('invalid ELF header'));
    assert.equal(other.code, 'ERR_ADDON_LOAD');
    assert.match(other.message, /npm rebuild xenlight/);
  });
});
