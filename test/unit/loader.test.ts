// Loading on a machine that is not a Xen dom0 (the test host itself, outside the box).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

describe('loader outside dom0', function () {
  const onXen = fs.existsSync('/proc/xen/capabilities');

  it('require() works and exports the API', function () {
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
    await assert.rejects(
      Host.open({ logLevel: 'loud' as never }),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
    );
  });

  it('a missing Xen library is named, with the package that has it', function () {
    const { loadError } = require('../../src/core/native') as typeof import('../../src/core/native');
    const e = loadError('open', new Error('libxenlight.so.4.17: cannot open shared object file: No such file or directory'));
    assert.equal(e.code, 'ERR_NO_LIBXENLIGHT');
    assert.match(e.message, /^open: libxenlight\.so\.4\.17 is not installed/);
    assert.match(e.message, /apt-get install libxenmisc4\.17/);
    assert.ok(e.cause instanceof Error);
    const other = loadError('open', new Error('invalid ELF header'));
    assert.equal(other.code, 'ERR_ADDON_LOAD');
    assert.match(other.message, /npm rebuild xenlight/);
  });

  it('libxenlight of another Xen version than the build is ERR_XEN_ABI, with the rebuild command', function () {
    const { loadError } = require('../../src/core/native') as typeof import('../../src/core/native');
    const dlerr = new Error('libxenlight.so.4.17: cannot open shared object file: No such file or directory');
    const e = loadError('open', dlerr, () => [
      'libc.so.6',
      'libxenlight.so',
      'libxenlight.so.4.19',
      'libxenlight.so.4.19.0',
      'libxenctrl.so.4.19',
    ]);
    assert.equal(e.code, 'ERR_XEN_ABI');
    assert.equal(
      e.message,
      "open: this xenlight was built for Xen 4.17; this host has Xen 4.19's libxenlight: rebuild " +
        'from source: npm rebuild xenlight --build-from-source (needs libxen-dev, g++, make, python3)',
    );
    assert.equal(e.cause, dlerr);
    // Only the library the linker named counts: another Xen's libxenctrl does not make libxenlight's absence an ABI case.
    assert.equal(loadError('open', dlerr, () => ['libxenctrl.so.4.19', 'libxenlight.so.4.17x']).code, 'ERR_NO_LIBXENLIGHT');
    // Two other versions are both named.
    assert.match(
      loadError('open', dlerr, () => ['libxenlight.so.4.20.0', 'libxenlight.so.4.19.0']).message,
      /this host has Xen 4\.19's and Xen 4\.20's libxenlight/,
    );
    // A library with a plain soname number (libxenstore.so.4) is named by its soname.
    const store = loadError(
      'open',
      new Error('libxenstore.so.4: cannot open shared object file: No such file or directory'),
      () => ['libxenstore.so.3.0', 'libxenstore.so.3'],
    );
    assert.equal(store.code, 'ERR_XEN_ABI');
    assert.match(store.message, /built against libxenstore\.so\.4; this host has libxenstore\.so\.3: rebuild from source/);
    // A library that is there but no longer has a symbol the addon links against.
    const sym = loadError('open', new Error('/x/xenlight.node: undefined symbol: libxl_domain_create_new'), () => []);
    assert.equal(sym.code, 'ERR_XEN_ABI');
    assert.match(sym.message, /lack libxl_domain_create_new.*npm rebuild xenlight --build-from-source/);
  });

  it("a library that is there but unusable is ERR_NO_LIBXENLIGHT with the linker's reason", function () {
    const { loadError } = require('../../src/core/native') as typeof import('../../src/core/native');
    const e = loadError('open', new Error('/usr/lib/x86_64-linux-gnu/libxenlight.so.4.17: file too short'), () => [
      'libxenlight.so.4.19',
    ]);
    assert.equal(e.code, 'ERR_NO_LIBXENLIGHT');
    assert.match(e.message, /^open: libxenlight\.so\.4\.17 could not be loaded \(file too short\)/);
  });

  it("the default library lookup lists the linker's directories", function () {
    const { libraryDirs, listLibraries } = require('../../src/core/native') as typeof import('../../src/core/native');
    const dirs = libraryDirs({ LD_LIBRARY_PATH: '/opt/xen/lib::/usr/lib64' });
    assert.equal(dirs[0], '/opt/xen/lib');
    assert.ok(dirs.includes('/usr/lib/x86_64-linux-gnu') || process.arch !== 'x64');
    assert.equal(dirs.filter((d) => d === '/usr/lib64').length, 1);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-libs-'));
    try {
      fs.writeFileSync(path.join(tmp, 'libxenlight.so.4.19.0'), '');
      assert.deepEqual(listLibraries([tmp, path.join(tmp, 'absent')]), ['libxenlight.so.4.19.0']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  describe("choosing the addon file: a local build, then the prebuild of the host's Xen", function () {
    const { addonFiles, findAddon, hostXenVersions, prebuildName } =
      require('../../src/core/native') as typeof import('../../src/core/native');
    let root = '';
    const dir = () => path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    beforeEach(function () {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-root-'));
      fs.mkdirSync(dir(), { recursive: true });
      for (const v of ['4.17', '4.20']) fs.writeFileSync(path.join(dir(), prebuildName(v)), 'not an ELF file');
      fs.writeFileSync(path.join(dir(), 'xenlight.glibc.node'), 'an old name: never chosen');
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("reads the host's Xen versions from libxenlight's sonames, newest first", function () {
      assert.deepEqual(
        hostXenVersions(() => [
          'libxenlight.so',
          'libxenlight.so.4.17',
          'libxenlight.so.4.17.0',
          'libxenlight.so.4.20.0',
          'libxenctrl.so.4.19',
        ]),
        ['4.20', '4.17'],
      );
      assert.deepEqual(
        hostXenVersions(() => ['libxenlight.so.4.17x']),
        [],
      );
    });

    it('takes the prebuild whose soname the host has; a local build comes first', function () {
      const on420 = addonFiles(root, () => ['libxenlight.so.4.20.0'], 'glibc');
      assert.deepEqual(on420.candidates, [path.join(dir(), 'xenlight.xen4.20.glibc.node')]);
      assert.deepEqual(on420.prebuilt, ['4.17', '4.20']);
      assert.deepEqual(on420.host, ['4.20']);
      assert.deepEqual(addonFiles(root, () => ['libxenlight.so.4.17'], 'glibc').candidates, [
        path.join(dir(), 'xenlight.xen4.17.glibc.node'),
      ]);
      // musl (Alpine) takes no glibc prebuild.
      assert.deepEqual(addonFiles(root, () => ['libxenlight.so.4.17'], 'musl').candidates, []);
      fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
      fs.writeFileSync(path.join(root, 'build', 'Release', 'xenlight.node'), '');
      assert.deepEqual(addonFiles(root, () => ['libxenlight.so.4.20'], 'glibc').candidates, [
        path.join(root, 'build', 'Release', 'xenlight.node'),
        path.join(dir(), 'xenlight.xen4.20.glibc.node'),
      ]);
    });

    it('a host whose Xen has no prebuild: ERR_XEN_ABI naming the versions there are, and how to build', function () {
      const { error } = findAddon('open', root, () => ['libxenlight.so.4.19.0']);
      assert.equal(error?.code, 'ERR_XEN_ABI');
      assert.match(
        error!.message,
        /^open: this xenlight has prebuilds for Xen 4\.17, 4\.20 \(linux-x64\) and no local build; this host has Xen 4\.19's libxenlight: build it from source: npm rebuild xenlight --build-from-source/,
      );
      const none = findAddon('open', root, () => []).error;
      assert.equal(none?.code, 'ERR_NO_LIBXENLIGHT');
      assert.match(none!.message, /apt-get install libxenmisc4\.20/);
    });

    it("a prebuild that does not load is the loader's error, classified", function () {
      const { error } = findAddon('open', root, () => ['libxenlight.so.4.20.0']);
      assert.equal(error?.code, 'ERR_ADDON_LOAD');
      assert.match(error!.message, /xenlight\.xen4\.20\.glibc\.node/);
    });
  });

  describe('the real addon with the Xen libraries changed in a private mount namespace', function () {
    // The library directory gets an overlay inside `unshare --mount` only (the host's stays as it
    // is); node then loads the addon there through loadAddon() and prints the XenError.
    this.timeout(30_000);
    const libdir = '/usr/lib/x86_64-linux-gnu';
    const native = path.resolve(__dirname, '../../src/core/native.js');
    let tmp = '';

    before(function () {
      const why =
        process.getuid?.() !== 0
          ? 'not root'
          : process.arch !== 'x64' || !fs.existsSync(`${libdir}/libxenlight.so.4.17`)
            ? `no ${libdir}/libxenlight.so.4.17`
            : spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status !== 0
              ? 'unshare --mount fails here'
              : '';
      if (why) {
        console.log(`      (skipped: ${why})`);
        this.skip();
      }
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-ns-'));
    });
    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** Runs `shell` on the overlaid library directory, then loadAddon(); returns the XenError's code and message. */
    function loadWith(name: string, shell: string): { code: string; message: string } {
      const dir = path.join(tmp, name);
      fs.mkdirSync(path.join(dir, 'upper'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'work'));
      const probe =
        `try { require(${JSON.stringify(native)}).loadAddon('open'); console.log(JSON.stringify({ code: 'loaded' })); } ` +
        'catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }';
      const script =
        `set -e; mount -t overlay overlay -o lowerdir=${libdir},upperdir=${dir}/upper,workdir=${dir}/work ${libdir}; ` +
        `cd ${libdir}; ${shell}; exec node -e "$0"`;
      const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, probe], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.status, 0, `unshare: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { code: string; message: string };
    }

    it('without libxenlight.so.4.17 it is ERR_NO_LIBXENLIGHT', function () {
      const r = loadWith('missing', 'rm libxenlight.so.4.17*');
      assert.equal(r.code, 'ERR_NO_LIBXENLIGHT', r.message);
      assert.match(r.message, /^open: libxenlight\.so\.4\.17 is not installed/);
      // The host's own library directory was not touched.
      assert.ok(fs.existsSync(`${libdir}/libxenlight.so.4.17`));
    });

    it("with Xen 4.19's libxenlight instead of 4.17's it is ERR_XEN_ABI", function () {
      const r = loadWith(
        'other',
        'cp libxenlight.so.4.17.0 libxenlight.so.4.19.0; ln -s libxenlight.so.4.19.0 libxenlight.so.4.19; rm libxenlight.so.4.17*',
      );
      assert.equal(r.code, 'ERR_XEN_ABI', r.message);
      assert.match(
        r.message,
        /built for Xen 4\.17; this host has Xen 4\.19's libxenlight: rebuild from source: npm rebuild xenlight --build-from-source/,
      );
    });
  });
});
