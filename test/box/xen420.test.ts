// The Xen 4.20 box (Debian 13's Xen, a trixie dom0 root built with mmdebstrap): it boots, xl is
// 4.20's, a PV guest runs, and the checkout's loader takes the 4.20 prebuild (built against the
// same root's libxenlight) and lists the same domains as xl. The whole integration suite runs in
// this box too (scripts/test.sh); these are the box's own checks.
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

  it('the loader takes the 4.20 prebuild (built in a chroot of this root); listDomains() matches xl list', async function () {
    // npm test's set-up builds prebuilds/linux-x64/xenlight.xen4.20.glibc.node (scripts/prebuild.mjs
    // --xen 4.20); the checkout's build/ is 4.17's, which this dom0 cannot load.
    const script = `
      const native = require(${JSON.stringify(path.join(ROOT, 'dist/core/native.js'))});
      const { Host } = require(${JSON.stringify(path.join(ROOT, 'dist'))});
      (async () => {
        console.log("file: " + native.findAddon("t").file);
        const host = await Host.open();
        const doms = await host.listDomains();
        console.log("api: " + doms.map((d) => d.domid + ":" + d.name).join(" "));
        await host.close();
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const r = await box.exec(
      [
        'sh',
        '-c',
        `node -e "$0" && echo "xl: $(xl list | tail -n +2 | awk '{print $2":"$1}' | tr '\\n' ' ' | sed 's/ $//')"`,
        script,
      ],
      { cwd: ROOT, timeoutSeconds: 120 },
    );
    assert.equal(r.exitCode, 0, r.output);
    assert.equal(
      /^file: (.*)$/m.exec(r.output)?.[1],
      path.join(ROOT, 'prebuilds/linux-x64/xenlight.xen4.20.glibc.node'),
      r.output,
    );
    const api = /^api: (.*)$/m.exec(r.output)?.[1];
    const xl = /^xl: (.*)$/m.exec(r.output)?.[1];
    assert.ok(api && api.includes('0:Domain-0'), r.output);
    assert.equal(api, xl);
  });
});
