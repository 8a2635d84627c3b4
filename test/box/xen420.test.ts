// The Xen 4.20 box (Debian 13's Xen, a trixie dom0 root built with mmdebstrap): it boots, xl is
// 4.20's, a PV guest runs, and the addon built in that dom0 against 4.20's libxenlight loads and
// lists the same domains as xl. The checkout is shared read-only into dom0, so the build goes to
// a copy of the package in dom0's /tmp; the checkout's build/ (the 4.17 build) is not touched.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Box } from '../../src/box/box';

// The package's directory (out/test/box → the checkout), which dom0 sees at the same path.
const ROOT = path.resolve(__dirname, '../../..');

describe('Xen 4.20 box (Debian 13 dom0)', function () {
  this.timeout(900_000);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-box420-test-'));
  let box: Box;

  before(async function () {
    box = await Box.up({ xen: '4.20', stateDir, bootTimeoutSeconds: 600, log: (m) => process.stderr.write(`box: ${m}\n`) });
    process.stderr.write(`box: Xen 4.20 box up in ${box.bootSeconds.toFixed(1)} s\n`);
  });

  after(async function () {
    await Box.down({ stateDir });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('xl info: Xen 4.20, HVM and PV, passthrough (the IOMMU), credit2', async function () {
    assert.equal(box.xen, '4.20');
    const r = await box.exec(['xl', 'info']);
    assert.equal(r.exitCode, 0, r.output);
    const info = Object.fromEntries(
      r.output
        .split('\n')
        .map((l) => /^(\w+)\s*:\s*(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => !!m)
        .map((m) => [m[1], m[2].trim()]),
    );
    assert.equal(info.xen_major, '4');
    assert.equal(info.xen_minor, '20');
    assert.equal(info.xen_scheduler, 'credit2');
    // As on 4.17 in the box: HVM (HAP from +npt), PV, and passthrough through the emulated IOMMU.
    const caps = info.virt_caps.split(/\s+/);
    for (const c of ['pv', 'hvm', 'hvm_directio', 'pv_directio', 'gnttab-v1'])
      assert.ok(caps.includes(c), `virt_caps: ${info.virt_caps}`);
  });

  it("dom0 runs the trixie root: xl is 4.20's, the checkout is at its host path, read-only", async function () {
    const r = await box.exec(
      [
        'sh',
        '-c',
        'command -v xl; . /etc/os-release; echo "$VERSION_CODENAME"; test -f package.json && echo checkout; touch x 2>/dev/null || echo read-only; xl list',
      ],
      { cwd: ROOT },
    );
    assert.equal(r.exitCode, 0, r.output);
    const lines = r.output.split('\n');
    assert.deepEqual(lines.slice(0, 4), ['/usr/lib/xen-4.20/bin/xl', 'trixie', 'checkout', 'read-only']);
    assert.match(r.output, /^Domain-0\s+0\s+1536\s+2\s/m);
  });

  it("a PV guest (the box helpers' kernel and initrd, from the trixie root) boots to its shell", async function () {
    const script = `
      const g = require(${JSON.stringify(path.join(ROOT, 'dist/box/guests.js'))});
      const { execFileSync } = require('node:child_process');
      require('node:fs').writeFileSync('/tmp/pv420.cfg', g.pvGuestConfig({ name: 'pv420' }));
      execFileSync('xl', ['create', '/tmp/pv420.cfg'], { stdio: 'inherit' });
      g.waitForConsole('pv420', /xenlight-guest: up/).then(() => {
        console.log(execFileSync('xl', ['list', 'pv420'], { encoding: 'utf8' }));
        execFileSync('xl', ['destroy', 'pv420']);
        console.log('pv420 ok');
      }, (e) => { console.error(String(e)); process.exit(1); });
    `;
    const r = await box.exec(['node', '-e', script], { cwd: ROOT, timeoutSeconds: 240 });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /^pv420\s+\d+\s+128\s+1\s/m);
    assert.match(r.output, /pv420 ok/);
  });

  it("the addon, built in dom0 against 4.20's libxenlight, loads; listDomains() matches xl list", async function () {
    // A copy of the package in dom0's /tmp (the checkout is read-only there); node_modules is
    // the checkout's. node-gyp takes Node's headers from the root's libnode-dev (--nodedir=/usr).
    const q = (s: string) => `'${s}'`;
    const build = [
      'set -e',
      'rm -rf /tmp/x420 && mkdir -p /tmp/x420',
      `cp -r ${q(ROOT)}/package.json ${q(ROOT)}/binding.gyp ${q(ROOT)}/native ${q(ROOT)}/dist /tmp/x420/`,
      `ln -s ${q(fs.realpathSync(path.join(ROOT, 'node_modules')))} /tmp/x420/node_modules`,
      'cd /tmp/x420',
      `node ${q(path.join(ROOT, 'node_modules/node-gyp/bin/node-gyp.js'))} rebuild --nodedir=/usr -j 2 > /tmp/x420/gyp.log 2>&1 || { tail -40 /tmp/x420/gyp.log; exit 1; }`,
      'ldd build/Release/xenlight.node | grep -o "libxenlight.so[.0-9]*"',
      `node -e '
        const { Host } = require("/tmp/x420/dist");
        (async () => {
          const host = await Host.open();
          const doms = await host.listDomains();
          console.log("api: " + doms.map((d) => d.domid + ":" + d.name).join(" "));
          await host.close();
        })().catch((e) => { console.error(e); process.exit(1); });
      '`,
      'echo "xl: $(xl list | tail -n +2 | awk "{print \\$2\\":\\"\\$1}" | tr "\\n" " " | sed "s/ $//")"',
    ].join('\n');
    const built = path.join(ROOT, 'build/Release/xenlight.node');
    const before = fs.existsSync(built) ? fs.statSync(built).mtimeMs : undefined;
    const t0 = Date.now();
    const r = await box.exec(['sh', '-c', build], { cwd: ROOT, timeoutSeconds: 840 });
    process.stderr.write(`box: addon built and checked in dom0 in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /^libxenlight\.so\.4\.20$/m);
    const api = /^api: (.*)$/m.exec(r.output)?.[1];
    const xl = /^xl: (.*)$/m.exec(r.output)?.[1];
    assert.ok(api && api.includes('0:Domain-0'), r.output);
    assert.equal(api, xl);
    assert.equal(
      fs.existsSync(built) ? fs.statSync(built).mtimeMs : undefined,
      before,
      "the checkout's build (4.17's) is untouched",
    );
  });
});
