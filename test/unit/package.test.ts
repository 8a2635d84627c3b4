// The npm package: what `npm pack` puts in the tarball (scripts/check-pack.mjs), that tarball
// installed into an empty project with no compiler on PATH (the prebuild is what loads), its
// CommonJS, ESM and TypeScript faces, and the API reference built with no TypeDoc warning.
import { strict as assert } from 'node:assert';
import { spawnSync, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../../..');
const onXen = fs.existsSync('/proc/xen/capabilities');

interface PackList {
  files: string[];
  size: number;
  unpackedSize: number;
  entryCount: number;
  filename: string;
}
interface CheckPack {
  checkPack(files: string[], pkg?: object, root?: string): string[];
  packList(opts?: { scripts?: boolean; root?: string }): PackList;
  readPackage(root?: string): Pkg;
  MAX_UNPACKED: number;
}
interface Pkg {
  name: string;
  version: string;
  scripts: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
}

async function checker(): Promise<CheckPack> {
  return (await import(pathToFileURL(path.join(ROOT, 'scripts', 'check-pack.mjs')).href)) as CheckPack;
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, ...opts }) as SpawnSyncReturns<string>;
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The prebuild for this host's Xen (scripts/prebuild.mjs), built once when binding.gyp or native/ is newer. */
function ensurePrebuild(): string {
  ok(run(process.execPath, ['scripts/prebuild.mjs', '--if-stale'], { cwd: ROOT, timeout: 600_000 }), 'npm run build:prebuild');
  const file = path.join(ROOT, 'prebuilds', 'linux-x64', 'xenlight.xen4.17.glibc.node');
  assert.ok(fs.existsSync(file), `no prebuild ${file}`);
  return file;
}

describe('npm package', function () {
  this.timeout(60_000);
  let prebuild = '';
  let pkg: Pkg;

  before(async function () {
    // Compiles only when the prebuild is older than the native sources (~30-50 s on 2 cores).
    this.timeout(600_000);
    prebuild = ensurePrebuild();
    pkg = (await checker()).readPackage(ROOT);
  });

  describe('the tarball (npm pack)', function () {
    it("holds the API, its types, the prebuild and the fallback build's sources, and nothing else", async function () {
      const { checkPack, packList, MAX_UNPACKED } = await checker();
      const pack = packList({ root: ROOT });
      assert.deepEqual(checkPack(pack.files, pkg, ROOT), []);
      assert.ok(pack.files.includes(`prebuilds/linux-x64/${path.basename(prebuild)}`));
      assert.ok(pack.unpackedSize < MAX_UNPACKED, `unpacked ${pack.unpackedSize} bytes`);
      assert.equal(pack.filename, `${pkg.name}-${pkg.version}.tgz`);
    });

    it('the check fails on a tarball with tests, builds, caches or source maps, or without the prebuild', async function () {
      const { checkPack, packList } = await checker();
      const good = packList({ root: ROOT }).files;
      const sneaked = [
        'out/test/unit/loader.test.js',
        'test/unit/loader.test.ts',
        'out/bench/stats.js',
        'bench/run.sh',
        '.cache/testbed/manifest.json',
        'build/Release/xenlight.node',
        'xenlight-0.1.0.tgz',
        '.ci/run',
        'node_modules/commander/index.js',
        'dist/index.js.map',
        'docs/api/index.html',
        'src/index.ts',
        'out/examples/demo.js',
        'scripts/setup.sh',
        'Makefile',
      ];
      for (const file of sneaked) {
        const problems = checkPack([...good, file], pkg, ROOT);
        assert.equal(problems.length, 1, `${file}: ${problems.join('; ')}`);
        assert.match(problems[0], new RegExp(`^(forbidden|unexpected) ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      }
      const without = (re: RegExp) =>
        checkPack(
          good.filter((f) => !re.test(f)),
          pkg,
          ROOT,
        );
      assert.match(without(/^prebuilds\//).join('\n'), /missing prebuilds\/linux-x64\/\*\.node/);
      assert.match(without(/^dist\/index\.d\.ts$/).join('\n'), /missing dist\/index\.d\.ts/);
      assert.match(without(/^native\/core\/context\.h$/).join('\n'), /missing native\/core\/context\.h/);
      assert.match(
        without(/^native\/monitor\/stats\.cc$/).join('\n'),
        /missing native\/monitor\/stats\.cc \(a source of xenlight\)/,
      );
      assert.match(without(/^binding\.gyp$/).join('\n'), /missing binding\.gyp/);
      assert.match(without(/^dist\/box\/box\.js$/).join('\n'), /missing dist\/box\/box\.js \(an entry point/);
      assert.match(without(/^dist\/cli\/main\.js$/).join('\n'), /missing dist\/cli\/main\.js/);
    });

    it("prepack compiles the TypeScript and builds every Xen version's prebuild (prebuildify: Node-API, stripped)", function () {
      assert.match(pkg.scripts.prepack, /npm run build:ts && npm run build:prebuild -- --all/);
      // scripts/install.js: the loader's choice, but a prebuild that lacks only Xen's libraries is kept.
      assert.equal(pkg.scripts.install, 'node scripts/install.js');
      // Not "prebuild": npm would run that before every `npm run build` as its pre-script.
      assert.equal(pkg.scripts.prebuild, undefined);
      const script = fs.readFileSync(path.join(ROOT, pkg.scripts['build:prebuild'].replace(/^node /, '')), 'utf8');
      for (const flag of ['--napi', '--strip', '--target']) assert.ok(script.includes(`'${flag}'`), flag);
      assert.match(path.relative(ROOT, prebuild), /^prebuilds\/linux-x64\/xenlight\.xen4\.17\.glibc\.node$/);
    });

    it("the prebuild is linked against Xen 4.17's libraries", function () {
      const r = spawnSync('readelf', ['-d', prebuild], { encoding: 'utf8' });
      if (r.error) return this.skip();
      const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      for (const lib of ['libxenlight.so.4.17', 'libxlutil.so.4.17', 'libxenctrl.so.4.17'])
        assert.ok(needed.includes(lib), `${lib} in ${needed.join(' ')}`);
      // Stripped (prebuildify --strip): no symbol table.
      assert.doesNotMatch(ok(run('readelf', ['-S', prebuild]), 'readelf -S'), /\.symtab\b/);
    });
  });

  describe('installed from the tarball, with no compiler on PATH', function () {
    let tmp = '';
    let project = '';
    let env: NodeJS.ProcessEnv = {};
    const installed = () => path.join(project, 'node_modules', 'xenlight');
    const node = (args: string[]) => run(process.execPath, args, { cwd: project, env });

    before(function () {
      this.timeout(120_000);
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-pack-'));
      ok(run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp, '--loglevel=error'], { cwd: ROOT }), 'npm pack');
      const tarball = path.join(tmp, `${pkg.name}-${pkg.version}.tgz`);
      assert.ok(fs.existsSync(tarball));
      // PATH is one directory holding node, npm and sh: no g++, cc, make or python3 to build with.
      const bin = path.join(tmp, 'bin');
      fs.mkdirSync(bin);
      const npmCli = fs.realpathSync(ok(run('/bin/sh', ['-c', 'command -v npm']), 'command -v npm').trim());
      fs.symlinkSync(process.execPath, path.join(bin, 'node'));
      fs.symlinkSync(npmCli, path.join(bin, 'npm'));
      fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
      env = { ...process.env, PATH: bin };
      // What a user's environment would not have: this checkout's prebuild override, npm settings of a parent `npm test`.
      // All of a parent npm's settings go (under `npm test --silent`, npm_config_loglevel=silent
      // made node-gyp print nothing at all).
      for (const k of Object.keys(env)) if (/^(XENLIGHT_PREBUILD$|npm_)/i.test(k)) delete env[k];
      project = path.join(tmp, 'project');
      fs.mkdirSync(project);
      fs.writeFileSync(
        path.join(project, 'package.json'),
        JSON.stringify({ name: 'uses-xenlight', version: '1.0.0', private: true }),
      );
      // The dependencies come from the npm cache (or the registry); the install script runs.
      ok(
        run(
          path.join(bin, 'npm'),
          [
            'install',
            tarball,
            '--ignore-scripts=false',
            '--prefer-offline',
            '--no-audit',
            '--no-fund',
            '--foreground-scripts',
            '--loglevel=error',
          ],
          { cwd: project, env, timeout: 110_000 },
        ),
        'npm install xenlight.tgz',
      );
    });
    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("npm install built nothing: the loader chose the prebuild of this host's Xen", function () {
      for (const tool of ['g++', 'c++', 'gcc', 'cc', 'make', 'python3']) {
        assert.notEqual(run('/bin/sh', ['-c', `command -v ${tool}`], { env }).status, 0, `${tool} is on PATH`);
      }
      assert.ok(!fs.existsSync(path.join(installed(), 'build')), 'node_modules/xenlight/build exists: it was compiled');
      const loader = JSON.stringify(path.join(installed(), 'dist/core/native.js'));
      const chosen = ok(
        node(['-p', `require(${loader}).addonFiles(${JSON.stringify(installed())}).candidates[0]`]),
        'addonFiles',
      ).trim();
      assert.equal(chosen, path.join(installed(), 'prebuilds', 'linux-x64', path.basename(prebuild)));
      for (const f of ['out', 'bench', '.cache', 'test']) assert.ok(!fs.existsSync(path.join(installed(), f)), f);
    });

    it("require('xenlight') works, the addon loads, and Host.open() off Xen rejects with ERR_NOT_XEN", function () {
      const out = ok(
        node([
          '-e',
          `
        const x = require('xenlight');
        const { loadAddon } = require(require('path').join(${JSON.stringify(installed())}, 'dist/core/native.js'));
        const addon = loadAddon('test');
        x.Host.open().then(async (h) => { await h.close(); console.log(JSON.stringify({ opened: true, v: addon.libxlVersion })); },
          (e) => console.log(JSON.stringify({ isXenError: e instanceof x.XenError, code: e.code, v: addon.libxlVersion })));
      `,
        ]),
        "require('xenlight')",
      );
      const r = JSON.parse(out.trim()) as { opened?: boolean; isXenError?: boolean; code?: string; v: number };
      assert.equal(typeof r.v, 'number');
      if (onXen) {
        assert.equal(r.opened, true);
      } else {
        assert.deepEqual(r, { isXenError: true, code: 'ERR_NOT_XEN', v: r.v });
      }
    });

    it("import { Host, XenError } from 'xenlight' (and 'xenlight/exporter', 'xenlight/box') works from ESM and CommonJS", function () {
      const out = ok(
        node([
          '--input-type=module',
          '-e',
          `
        import { Host, XenError, parseXlConfig } from 'xenlight';
        import * as box from 'xenlight/box';
        import { serveMetrics, XenCollector } from 'xenlight/exporter';
        import pkg from 'xenlight/package.json' with { type: 'json' };
        const code = await Host.open().then((h) => h.close().then(() => 'opened'), (e) => e instanceof XenError && e.code);
        console.log(JSON.stringify({ code, parse: typeof parseXlConfig, runInBox: typeof box.runInBox, exporter: [typeof serveMetrics, typeof XenCollector], version: pkg.version }));
      `,
        ]),
        'ESM import',
      );
      assert.deepEqual(JSON.parse(out.trim()), {
        code: onXen ? 'opened' : 'ERR_NOT_XEN',
        parse: 'function',
        runInBox: 'function',
        exporter: ['function', 'function'],
        version: pkg.version,
      });
      const cjs = ok(
        node([
          '-e',
          `const { Host } = require('xenlight'); const { serveMetrics, XenCollector } = require('xenlight/exporter'); const { runInBox } = require('xenlight/box');
        console.log([Host, serveMetrics, XenCollector, runInBox].map((f) => typeof f).join(' '));`,
        ]),
        'CommonJS require',
      );
      assert.equal(cjs.trim(), 'function function function function');
      // Deep imports stay private (the exports map).
      assert.notEqual(node(['-e', "require('xenlight/dist/core/native')"]).status, 0);
    });

    it('TypeScript finds the types of xenlight, xenlight/exporter and xenlight/box (CommonJS and ESM)', function () {
      const src = `import { Host, XenError, type XenErrorCode, type DeviceKind, type Topology } from 'xenlight';
import { runInBox, type BoxOptions } from 'xenlight/box';
import { serveMetrics, type ServeOptions } from 'xenlight/exporter';
const serve: ServeOptions = { listen: '127.0.0.1:9603' };
const code: XenErrorCode = 'ERR_XEN_ABI';
const kind: DeviceKind = 'disk';
const opts: BoxOptions = { command: ['true'] };
export const all = [Host.open, XenError, runInBox, code, kind, opts, serveMetrics, serve, (t: Topology) => t.nodes[0]?.distances] as const;
`;
      fs.writeFileSync(path.join(project, 'uses.ts'), src);
      fs.writeFileSync(path.join(project, 'uses-esm.mts'), src);
      fs.writeFileSync(
        path.join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'node16',
            moduleResolution: 'node16',
            target: 'ES2022',
            strict: true,
            noEmit: true,
            lib: ['ES2022', 'ESNext.Disposable', 'ESNext.AsyncIterable'],
            typeRoots: [path.join(ROOT, 'node_modules', '@types')],
            types: ['node'],
            skipLibCheck: true,
          },
          files: ['uses.ts', 'uses-esm.mts'],
        }),
      );
      const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      ok(node([tsc, '-p', path.join(project, 'tsconfig.json')]), 'tsc');
    });

    it('without the prebuild the install would have to compile, and cannot here', function () {
      const moved = path.join(tmp, 'prebuilds-aside');
      fs.renameSync(path.join(installed(), 'prebuilds'), moved);
      try {
        const r = run(path.join(env.PATH!, 'npm'), ['rebuild', 'xenlight', '--ignore-scripts=false', '--foreground-scripts'], {
          cwd: project,
          env,
        });
        assert.notEqual(r.status, 0, 'npm rebuild without a prebuild succeeded with no compiler on PATH');
        assert.match(r.stdout + r.stderr, /gyp/);
      } finally {
        fs.rmSync(path.join(installed(), 'build'), { recursive: true, force: true });
        fs.renameSync(moved, path.join(installed(), 'prebuilds'));
      }
    });

    /** Runs `npm rebuild xenlight` and then `probe` in a private mount namespace whose library directory `change`s. */
    function inNamespace(change: string, probe: string): SpawnSyncReturns<string> {
      const libdir = '/usr/lib/x86_64-linux-gnu';
      const dir = fs.mkdtempSync(path.join(tmp, 'ns-'));
      fs.mkdirSync(path.join(dir, 'upper'));
      fs.mkdirSync(path.join(dir, 'work'));
      const script =
        `set -e; /usr/bin/mount -t overlay overlay -o lowerdir=${libdir},upperdir=${dir}/upper,workdir=${dir}/work ${libdir}; ` +
        `cd ${libdir}; ${change}; cd ${project}; ` +
        'set +e; npm rebuild xenlight --ignore-scripts=false --foreground-scripts --loglevel=error 2>&1; echo "rebuild=$?"; exec node -e "$0"';
      return run('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, probe], {
        env,
        timeout: 90_000,
      });
    }
    const nsWhy = () =>
      process.getuid?.() !== 0
        ? 'not root'
        : !fs.existsSync('/usr/lib/x86_64-linux-gnu/libxenlight.so.4.17')
          ? 'no libxenlight.so.4.17 here'
          : run('/usr/bin/unshare', ['--mount', '--propagation', 'private', 'true']).status !== 0
            ? 'unshare --mount fails here'
            : '';

    it("on a machine without Xen's libraries, install keeps the prebuild (nothing compiled) and require works", function () {
      this.timeout(120_000);
      const why = nsWhy();
      if (why) {
        console.log(`      (skipped: ${why})`);
        this.skip();
      }
      const r = inNamespace(
        '/bin/rm libxenlight.so.4.17*',
        `
        const x = require('xenlight');
        const { loadAddon } = require(require('path').join(${JSON.stringify(installed())}, 'dist/core/native.js'));
        let load; try { loadAddon('probe'); load = 'loaded'; } catch (e) { load = e.code; }
        x.Host.open().then(() => console.log('opened'), (e) => console.log(JSON.stringify({ load, open: e.code })));`,
      );
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^rebuild=0$/m);
      assert.match(r.stdout, /kept the prebuilt binaries \(for Xen 4\.17(, [\d.]+)*\); they need Xen's libraries/);
      assert.doesNotMatch(r.stdout, /building from source/);
      assert.ok(!fs.existsSync(path.join(installed(), 'build')), 'it compiled');
      const probe = JSON.parse(r.stdout.trim().split('\n').pop()!) as { load: string; open: string };
      assert.deepEqual(probe, { load: 'ERR_NO_LIBXENLIGHT', open: onXen ? 'ERR_NO_LIBXENLIGHT' : 'ERR_NOT_XEN' });
    });

    it('on a host with another Xen version, install builds from source (and says why)', function () {
      this.timeout(120_000);
      const why = nsWhy();
      if (why) {
        console.log(`      (skipped: ${why})`);
        this.skip();
      }
      const r = inNamespace(
        '/bin/cp libxenlight.so.4.17.0 libxenlight.so.4.19.0; /bin/ln -s libxenlight.so.4.19.0 libxenlight.so.4.19; ' +
          '/bin/rm libxenlight.so.4.17*',
        'console.log("probe")',
      );
      try {
        // No compiler on PATH: the source build must be what was tried, and what failed.
        assert.match(r.stdout, /^rebuild=[1-9]\d*$/m, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          /xenlight: building from source \(install: this xenlight has prebuilds for Xen 4\.17(, [\d.]+)* \(linux-x64\) and no local build; this host has Xen 4\.19's libxenlight: build it from source/,
        );
      } finally {
        fs.rmSync(path.join(installed(), 'build'), { recursive: true, force: true });
      }
    });
  });

  describe('the API reference (TypeDoc)', function () {
    it('typedoc.json documents each public module of the exports map', function () {
      const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'typedoc.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as {
        entryPoints: string[];
      };
      for (const [subpath, target] of Object.entries(pkg.exports)) {
        if (subpath === './package.json') continue;
        const js = typeof target === 'string' ? target : target.default;
        const ts = path.posix
          .normalize(js)
          .replace(/^dist\//, 'src/')
          .replace(/\.js$/, '.ts');
        assert.ok(config.entryPoints.includes(ts), `${subpath} (${ts}) is not in typedoc.json's entryPoints`);
        assert.ok(fs.existsSync(path.join(ROOT, ts)), ts);
        const dts = typeof target === 'string' ? undefined : target.types;
        assert.equal(dts, js.replace(/\.js$/, '.d.ts'), `${subpath}: types next to the code`);
      }
    });

    it('builds with no warnings (npm run docs:check)', function () {
      assert.equal(pkg.scripts['docs:check'], 'typedoc --emit none --treatWarningsAsErrors');
      const r = run(
        process.execPath,
        [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none', '--treatWarningsAsErrors'],
        { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      );
      const out = `${r.stdout}${r.stderr}`;
      assert.doesNotMatch(out, /warning|error\]/i, out);
      assert.equal(r.status, 0, out);
    });
  });
});
