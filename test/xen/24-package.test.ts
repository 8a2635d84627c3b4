// The npm tarball installed inside dom0, as a user would: no compiler on PATH, no network (the
// box has none; dependencies come from npm's cache), the prebuilt addon used, then the README's
// example and the `xenlight` command run against this hypervisor and agree with xl.
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { xl, xlList } from '../support/xl';
import { suiteXen } from '../support/xen-version';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

describe('the npm package installed in dom0', function () {
  this.timeout(300_000);
  let tmp = '';
  let project = '';
  let env: NodeJS.ProcessEnv = {};

  before(async function () {
    const prebuilds = path.join(ROOT, 'prebuilds', 'linux-x64');
    assert.ok(
      fs.existsSync(prebuilds) && fs.readdirSync(prebuilds).some((f) => f.endsWith('.node')),
      'no prebuild: `npm run build:prebuild` first (the unit tests of npm test build it)',
    );
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-pkg-'));
    // The host's npm cache: writable on the 4.17 box (the host's root under dom0's overlay);
    // shared read-only into the 4.20 box, where npm gets a copy it can write.
    let cache = path.join(os.homedir(), '.npm');
    try {
      fs.accessSync(cache, fs.constants.W_OK);
    } catch {
      const copy = path.join(tmp, 'npm-cache');
      fs.cpSync(cache, copy, { recursive: true });
      cache = copy;
    }
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp, '--loglevel=error'], {
      cwd: ROOT,
      env: { ...process.env, npm_config_cache: cache },
    });
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    // node, npm and sh only: nothing to compile with. On 4.20 the Node is Debian 13's own
    // (/usr/bin/node, a shared libnode), not the host's that the box puts first on PATH.
    fs.symlinkSync(suiteXen() === '4.20' ? '/usr/bin/node' : process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(
      fs.realpathSync(execFileSync('/bin/sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()),
      path.join(bin, 'npm'),
    );
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
    env = { HOME: process.env.HOME, PATH: bin, npm_config_cache: cache };
    project = path.join(tmp, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'uses-xenlight', version: '1.0.0', private: true }),
    );
    await run(
      path.join(bin, 'npm'),
      [
        'install',
        path.join(tmp, `${pkg.name}-${pkg.version}.tgz`),
        '--offline',
        '--no-audit',
        '--no-fund',
        '--foreground-scripts',
        '--loglevel=error',
      ],
      { cwd: project, env, timeout: 240_000 },
    );
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`installed with no compiler and no network: Xen ${suiteXen()}'s prebuild is what loads, nothing built`, async function () {
    const installed = path.join(project, 'node_modules', 'xenlight');
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'it was compiled');
    const loader = JSON.stringify(path.join(installed, 'dist', 'core', 'native.js'));
    const { stdout } = await run(path.join(env.PATH!, 'node'), ['-p', `require(${loader}).findAddon('probe').file`], {
      cwd: project,
      env,
    });
    assert.equal(stdout.trim(), path.join(installed, 'prebuilds', 'linux-x64', `xenlight.xen${suiteXen()}.glibc.node`));
  });

  it("the README's example runs on this hypervisor and lists what xl lists", async function () {
    const example = `
      const { Host, stateString, memoryMiB } = require('xenlight');
      (async () => {
        const host = await Host.open();   // plain JavaScript on Node 20: no \`await using\`
        try {
          const info = await host.info();
          console.log(\`Xen \${info.xenVersion}, \${info.cpus} CPUs, scheduler \${info.xenScheduler}\`);
          for (const d of await host.listDomains()) {
            console.log([d.name, d.domid, memoryMiB(d), d.vcpusOnline, stateString(d)].join(' '));
          }
        } finally {
          await host.close();
        }
      })().catch((e) => { console.error(e); process.exitCode = 1; });`;
    fs.writeFileSync(path.join(project, 'example.js'), example);
    const { stdout } = await run(path.join(env.PATH!, 'node'), ['example.js'], { cwd: project, env });
    const [head, ...rows] = stdout.trim().split('\n');
    assert.equal(
      head,
      `Xen ${xl('info', 'xen_version').trim()}, ${xl('info', 'nr_cpus').trim()} CPUs, scheduler ${xl('info', 'xen_scheduler').trim()}`,
    );
    assert.deepEqual(
      rows.map((r) => r.split(' ').slice(0, 4).join(' ')),
      xlList().map((d) => [d.name, d.id, d.mem, d.vcpus].join(' ')),
    );
  });

  it('its `xenlight` command (node_modules/.bin) prints what xl list prints', async function () {
    const { stdout } = await run(path.join(project, 'node_modules', '.bin', 'xenlight'), ['list'], { cwd: project, env });
    const cut = (t: string) =>
      t
        .trimEnd()
        .split('\n')
        .map((l) => l.slice(0, 58));
    assert.deepEqual(cut(stdout), cut(xl('list')));
  });
});
