// Xen in a box itself: real PV and HVM guests with xl, the VNC server, a panicking guest.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Host } from '../../src';
import { GuestPanicError, hvmGuestConfig, pvGuestConfig, waitForConsole } from '../../src/box/guests';
import { useNoGuests } from '../support/host';
import { suiteXen } from '../support/xen-version';
import { xl, xlAsync, xlCreate, xlList } from '../support/xl';

/** `p`, or a failure after `ms` that says what did not come and what xl list shows then. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; xl list:\n${xl('list')}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setTimeout(10_000, () => sock.destroy(new Error('no VNC banner in 10 s')));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString('latin1'));
    });
    sock.once('error', reject);
  });
}

describe('Xen in a box', function () {
  this.timeout(120_000);
  useNoGuests();

  it(`is dom0 of Xen ${suiteXen()} with HAP (HVM-capable)`, function () {
    const caps = xl('info', 'virt_caps');
    assert.match(caps, /\bpv\b/);
    assert.match(caps, /\bhvm\b/);
    assert.match(caps, /\bhap\b/);
    assert.ok(xl('info', 'xen_version').startsWith(`${suiteXen()}.`), xl('info', 'xen_version'));
  });

  it(`dom0 runs Debian's Xen ${suiteXen()} tools: Debian ${suiteXen() === '4.20' ? '13 (trixie)' : '12 (bookworm)'}, credit2, passthrough, the checkout read-only`, function () {
    const codename = /^VERSION_CODENAME=(\w+)$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
    assert.equal(codename, suiteXen() === '4.20' ? 'trixie' : 'bookworm');
    assert.equal(execFileSync('sh', ['-c', 'command -v xl'], { encoding: 'utf8' }).trim(), `/usr/lib/xen-${suiteXen()}/bin/xl`);
    assert.equal(xl('info', 'xen_scheduler').trim(), 'credit2');
    // HVM (HAP from +npt), PV, and passthrough through the emulated IOMMU, on both versions.
    const caps = xl('info', 'virt_caps').trim().split(/\s+/);
    for (const c of ['pv', 'hvm', 'hvm_directio', 'pv_directio', 'gnttab-v1']) assert.ok(caps.includes(c), caps.join(' '));
    // The checkout is dom0's at its host path: the 4.20 box shares it read-only; the 4.17 box
    // shares the host's whole root, under dom0's tmpfs overlay (writes stay in dom0).
    const root = path.resolve(__dirname, '../../..');
    assert.ok(fs.existsSync(path.join(root, 'package.json')));
    const probe = path.join(root, '.dom0-write-probe');
    if (suiteXen() === '4.20') assert.throws(() => fs.writeFileSync(probe, ''), /EROFS/);
    else {
      fs.writeFileSync(probe, '');
      fs.rmSync(probe);
    }
  });

  it('boots a PV guest to its shell, shows it in xl list, destroys it', async function () {
    const id = await xlCreate(pvGuestConfig({ name: 'box-pv' }), 'box-pv');
    const row = xlList().find((r) => r.name === 'box-pv');
    assert.ok(row, 'box-pv in xl list');
    assert.equal(row.id, id);
    assert.equal(row.mem, 128);
    const console = await waitForConsole('box-pv', /\/ # /);
    assert.match(console, /xenlight-guest: up/);
    xl('destroy', 'box-pv');
    assert.ok(!xlList().some((r) => r.name === 'box-pv'));
  });

  it('boots an HVM guest whose VNC server answers in dom0', async function () {
    await xlCreate(hvmGuestConfig({ name: 'box-hvm', vncDisplay: 7 }), 'box-hvm');
    const row = xlList().find((r) => r.name === 'box-hvm');
    assert.ok(row, 'box-hvm in xl list');
    assert.match(await readBanner(5907), /^RFB 003\.00\d/);
    xl('destroy', 'box-hvm');
    assert.ok(!xlList().some((r) => r.name === 'box-hvm'));
  });

  it('reports a guest that panics instead of waiting for it, and libxl reports the crash', async function () {
    await using host = await Host.open();
    // No init in the initrd's place: the kernel panics at boot. Keep the domain to see why.
    const cfg = pvGuestConfig({ name: 'box-panic', cmdline: 'rdinit=/no/such/init panic=0', extra: ['on_crash = "preserve"'] });
    const events = host.events();
    const id = await xlCreate(cfg, 'box-panic');
    const t0 = Date.now();
    await assert.rejects(waitForConsole('box-panic', /\/ # /, 60_000), (e: unknown) => {
      assert.ok(e instanceof GuestPanicError, String(e));
      assert.match(e.message, /box-panic panicked: Kernel panic - not syncing/);
      return true;
    });
    assert.ok(Date.now() - t0 < 55_000, 'reported before the timeout');
    let ev = await within(events.next(), 20_000, 'shutdown event');
    while (ev.value && ev.value.domid !== id) ev = await within(events.next(), 20_000, 'shutdown event');
    assert.deepEqual(ev.value, { type: 'shutdown', domid: id, uuid: ev.value?.uuid, name: 'box-panic', reason: 'crash' });
    assert.equal(
      xlList()
        .find((r) => r.id === id)
        ?.state.slice(3, 5),
      'sc',
      'xl list shows it shut down, crashed',
    );
    await within(xlAsync('destroy', String(id)), 20_000, 'end of xl destroy');
    ev = await within(events.next(), 20_000, 'death event');
    assert.equal(ev.value?.type, 'death', 'xl destroy gives a death event');
    assert.equal(ev.value?.domid, id);
    await events.return?.();
  });
});
