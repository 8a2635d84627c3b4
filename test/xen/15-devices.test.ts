// Devices of running PV guests: disks (raw file; qcow2 through QEMU's qdisk), a vif on xenbr0,
// PCI passthrough of the box's spare device, and what the platform refuses (PV USB) — each
// checked from inside the guest and against xl block-list / network-list / pci-list in dom0.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Domain, XenError } from '../../src';
import { guestRun } from '../support/guest';
import { useHost } from '../support/host';
import { isXenError, until, xl, xlBootPvGuest } from '../support/xl';

const xenstoreRead = (path: string) => {
  try {
    return execFileSync('xenstore-read', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
};

const xenstoreTree = (path: string) => {
  try {
    return execFileSync('xenstore-ls', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};

/** `xl block-list` rows. */
function xlBlockList(
  dom: string,
): { devid: number; be: number; state: number; evtch: number; ringRef: number; bePath: string }[] {
  return xl('block-list', dom)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => {
      const [devid, be, , state, evtch, ringRef, bePath] = l.trim().split(/\s+/);
      return { devid: +devid, be: +be, state: +state, evtch: +evtch, ringRef: +ringRef, bePath };
    });
}

/** `xl network-list` rows. */
function xlNetworkList(dom: string): { idx: number; be: number; mac: string; state: number; bePath: string }[] {
  return xl('network-list', dom)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => {
      const [idx, be, mac, , state, , , bePath] = l.trim().split(/\s+/);
      return { idx: +idx, be: +be, mac, state: +state, bePath };
    });
}

/** `xl pci-list` BDFs. */
const xlPciList = (dom: string) =>
  xl('pci-list', dom)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/)[1]);
const xlAssignable = () =>
  xl('pci-assignable-list')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Waits (in the guest) for a block device node to appear. */
const waitForNode = (node: string) => `for i in $(seq 1 20); do [ -b ${node} ] && break; sleep 0.5; done; [ -b ${node} ]`;

describe('devices of running PV guests', function () {
  this.timeout(180_000);
  const ctx = useHost();
  /** A plain PV guest, created with passthrough enabled (for pci-attach). */
  let dom: Domain;
  /** A PV guest created with a qcow2 disk: libxl runs a QEMU for it, which serves qdisk disks. */
  let qdom: Domain;

  before(async function () {
    fs.rmSync('/tmp/devq-boot.qcow2', { force: true });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '/tmp/devq-boot.qcow2', '16M']);
    await Promise.all([
      xlBootPvGuest({ name: 'dev', memoryMiB: 96, extra: ['passthrough = "enabled"'] }),
      xlBootPvGuest({
        name: 'devq',
        memoryMiB: 96,
        extra: ['disk = [ "format=qcow2,vdev=xvdb,access=rw,target=/tmp/devq-boot.qcow2" ]'],
      }),
    ]);
    dom = await ctx.host.domain('dev');
    qdom = await ctx.host.domain('devq');
  });

  after(async function () {
    for (const f of ['/tmp/dev-raw.img', '/tmp/dev.qcow2', '/tmp/devq-boot.qcow2', '/tmp/slow-vif'])
      fs.rmSync(f, { force: true });
    try {
      execFileSync('ip', ['addr', 'del', '169.254.77.1/16', 'dev', 'xenbr0'], { stdio: 'ignore' });
    } catch {
      /* not there */
    }
    try {
      xl('pci-assignable-remove', '-r', '0000:00:01.0');
    } catch {
      /* not assignable */
    }
  });

  async function assertNoQdisk(before: string) {
    assert.deepEqual(await dom.disks.list(), []);
    assert.deepEqual(xlBlockList('dev'), []);
    assert.equal(xenstoreTree(`/local/domain/0/backend/qdisk/${dom.id}`), before);
    assert.equal(xenstoreTree(`/local/domain/${dom.id}/device/vbd`), '');
  }

  it('a raw file disk: attach, xl block-list agrees, the guest writes it, detach, dom0 reads what it wrote', async function () {
    fs.writeFileSync('/tmp/dev-raw.img', Buffer.alloc(16 * 2 ** 20));
    const st = await dom.disks.attach('/tmp/dev-raw.img,raw,xvdb,rw');
    assert.equal(st.vdev, 'xvdb');
    assert.equal(st.devid, 51728);
    const rows = xlBlockList('dev');
    assert.deepEqual(
      rows.map((r) => [r.devid, r.be, r.state, r.evtch, r.ringRef, r.bePath]),
      (await dom.disks.list()).map((d) => [d.devid, d.backendDomid, d.state, d.evtch, d.ringRef, d.backendPath]),
    );
    assert.equal(st.state, 4, 'connected');
    // The guest sees the disk and writes a pattern at sector 8.
    let r = await guestRun(dom, waitForNode('/dev/xvdb'));
    assert.equal(r.status, 0, r.out);
    r = await guestRun(dom, 'echo xenlight-wrote-this | dd of=/dev/xvdb bs=512 seek=8 conv=sync,fsync 2>/dev/null');
    assert.equal(r.status, 0, r.out);
    await dom.disks.detach('xvdb');
    assert.deepEqual(await dom.disks.list(), []);
    assert.deepEqual(xlBlockList('dev'), []);
    const sector = fs
      .readFileSync('/tmp/dev-raw.img')
      .subarray(8 * 512, 9 * 512)
      .toString('latin1');
    assert.match(sector, /^xenlight-wrote-this\n/);
    r = await guestRun(dom, '[ -b /dev/xvdb ]');
    assert.notEqual(r.status, 0, 'gone from the guest');
  });

  it('a qcow2 disk hot-attached to a guest with its QEMU: the guest writes it, qemu-img reads it back', async function () {
    fs.rmSync('/tmp/dev.qcow2', { force: true });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '/tmp/dev.qcow2', '32M']);
    const st = await qdom.disks.attach('format=qcow2,vdev=xvdc,access=rw,target=/tmp/dev.qcow2');
    assert.equal(st.config.backend, 'qdisk');
    assert.equal(st.config.pdev_path, '/tmp/dev.qcow2');
    assert.ok(st.state >= 2, `the backend took it (state ${st.state})`);
    let r = await guestRun(
      qdom,
      `${waitForNode('/dev/xvdc')} && ` +
        'echo qcow2-pattern | dd of=/dev/xvdc bs=512 seek=100 conv=sync,fsync 2>/dev/null && ' +
        'dd if=/dev/xvdc bs=512 skip=100 count=1 2>/dev/null | head -c 13',
    );
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /qcow2-pattern/);
    assert.deepEqual(
      xlBlockList('devq').map((x) => [x.devid, x.state]),
      [
        [51728, 4],
        [51744, 4],
      ],
    );
    await qdom.disks.detach('xvdc');
    assert.deepEqual(
      xlBlockList('devq').map((x) => x.devid),
      [51728],
    );
    // The data went into the qcow2 file: qemu-img converts it to raw and the pattern is there.
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '/tmp/dev.qcow2', '/tmp/dev-raw.img']);
    assert.match(
      fs
        .readFileSync('/tmp/dev-raw.img')
        .subarray(100 * 512, 101 * 512)
        .toString('latin1'),
      /^qcow2-pattern/,
    );
    assert.match(execFileSync('qemu-img', ['info', '/tmp/dev.qcow2'], { encoding: 'utf8' }), /file format: qcow2/);
    r = await guestRun(qdom, '[ -b /dev/xvdc ]');
    assert.notEqual(r.status, 0, 'gone from the guest');
  });

  it('a qcow2 disk whose QEMU removes its backend directory before libxl reads the state: the detach completes, nothing is left', async function () {
    // QEMU's backend deletes its own directory once Closed; seen on Xen 4.20 winning the race
    // against libxl's read of the state, which then fails the removal (ERROR_INVAL) and leaves
    // the frontend's nodes. Made certain here: QEMU is stopped, the directory removed for it.
    fs.rmSync('/tmp/dev.qcow2', { force: true });
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '/tmp/dev.qcow2', '32M']);
    const st = await qdom.disks.attach('format=qcow2,vdev=xvdc,access=rw,target=/tmp/dev.qcow2');
    const qemu = execFileSync('pgrep', ['-f', '--', `-xen-domid ${qdom.id} `], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
    assert.equal(qemu.length, 1, `one QEMU serves domain ${qdom.id}`);
    const front = `/local/domain/${qdom.id}/device/vbd/51744`;
    assert.notEqual(xenstoreTree(front), '');
    process.kill(qemu[0], 'SIGSTOP');
    try {
      const detached = qdom.disks.detach('xvdc');
      await until('libxl set the backend offline', () => xenstoreRead(`${st.backendPath}/online`) === '0', 10_000);
      execFileSync('xenstore-rm', [st.backendPath]);
      await detached;
    } finally {
      process.kill(qemu[0], 'SIGCONT');
    }
    assert.deepEqual(
      xlBlockList('devq').map((x) => x.devid),
      [51728],
    );
    assert.equal(xenstoreTree(front), '', 'no frontend nodes are left');
    assert.equal(xenstoreTree(`/libxl/${qdom.id}/device/vbd/51744`), '', 'no libxl nodes are left');
    // The guest goes on: the vdev attaches again.
    const again = await qdom.disks.attach('format=qcow2,vdev=xvdc,access=rw,target=/tmp/dev.qcow2');
    assert.equal(again.devid, 51744);
    await qdom.disks.detach('xvdc');
  });

  it('a qcow2 disk for a guest that no QEMU serves: a typed error, nothing left, and the next attach works', async function () {
    this.timeout(240_000);
    const before = xenstoreTree(`/local/domain/0/backend/qdisk/${dom.id}`);
    await assert.rejects(dom.disks.attach('format=qcow2,vdev=xvdc,access=rw,target=/tmp/dev.qcow2'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      // libxl does not wait for a QEMU backend: it returns at once and the disk stays
      // Initialising (what the API then reports) — or, when it got to look at the backend in
      // time (seen on a loaded machine), fails itself with its time-out on that backend path.
      if (e.code === 'ERR_NO_BACKEND') {
        assert.match(
          e.message,
          /no qdisk backend took xvdc within 15 s \(\/local\/domain\/0\/backend\/qdisk\/\d+\/51744 stayed Initialising\)/,
        );
      } else {
        assert.equal(e.code, 'ERROR_TIMEDOUT', `${e.message}\n${e.details.join('\n')}`);
        assert.ok(
          e.details.some((l) => /\/backend\/qdisk\/\d+\/51744/.test(l)),
          e.details.join('\n'),
        );
      }
      return true;
    });
    await assertNoQdisk(before);
    // No stale node blocks the vdev ("device already exists in xenstore" is what xl then gets).
    const st = await dom.disks.attach('/tmp/dev-raw.img,raw,xvdc,rw');
    assert.equal(st.state, 4);
    await dom.disks.detach('xvdc');
  });

  it('the same with a QEMU for dom0 (as xencommons starts one): libxl says yes, no backend comes — ERR_NO_BACKEND', async function () {
    this.timeout(240_000);
    // That QEMU serves dom0's own qdisk disks only, so libxl returns at once and nothing connects.
    execFileSync('/usr/libexec/xen-qemu-system-i386', [
      '-xen-domid',
      '0',
      '-xen-attach',
      '-name',
      'dom0',
      '-nographic',
      '-M',
      'xenpv',
      '-daemonize',
      '-monitor',
      'none',
      '-serial',
      'none',
      '-parallel',
      'none',
      '-nodefaults',
      '-no-user-config',
      '-pidfile',
      '/run/qemu-dom0.pid',
    ]);
    try {
      const before = xenstoreTree(`/local/domain/0/backend/qdisk/${dom.id}`);
      await assert.rejects(dom.disks.attach('format=qcow2,vdev=xvdc,access=rw,target=/tmp/dev.qcow2'), (e: unknown) => {
        assert.ok(e instanceof XenError, String(e));
        assert.equal(e.code, 'ERR_NO_BACKEND', `${e.message}\n${e.details.join('\n')}`);
        assert.match(
          e.message,
          /no qdisk backend took xvdc within 15 s \(\/local\/domain\/0\/backend\/qdisk\/\d+\/51744 stayed Initialising\)/,
        );
        return true;
      });
      await assertNoQdisk(before);
    } finally {
      process.kill(Number(fs.readFileSync('/run/qemu-dom0.pid', 'utf8')));
    }
  });

  it('a vif on xenbr0: attach, xl network-list agrees, ping over link-local addresses, detach', async function () {
    execFileSync('ip', ['addr', 'add', '169.254.77.1/16', 'dev', 'xenbr0']);
    const nic = await dom.nics.attach('bridge=xenbr0,mac=00:16:3e:5a:77:02');
    assert.equal(nic.mac, '00:16:3e:5a:77:02');
    assert.equal(nic.state, 4);
    const rows = xlNetworkList('dev');
    assert.deepEqual(
      rows.map((x) => [x.idx, x.be, x.mac, x.state, x.bePath]),
      (await dom.nics.list()).map((n) => [n.devid, n.backendDomid, n.mac, n.state, n.backendPath]),
    );
    // The backend joined the bridge (the vif-bridge hotplug script ran as our child).
    assert.match(
      execFileSync('ip', ['-o', 'link', 'show', 'master', 'xenbr0'], { encoding: 'utf8' }),
      new RegExp(`vif${dom.id}\\.${nic.devid}`),
    );
    const r = await guestRun(
      dom,
      'for i in $(seq 1 20); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.5; done; ' +
        'ip link set eth0 up && ip addr add 169.254.77.2/16 dev eth0',
    );
    assert.equal(r.status, 0, r.out);
    const ping = execFileSync('busybox', ['ping', '-c', '3', '-W', '5', '169.254.77.2'], { encoding: 'utf8' });
    assert.match(ping, /3 packets transmitted, 3 packets received/);
    await dom.nics.detach('00:16:3e:5a:77:02');
    assert.deepEqual(await dom.nics.list(), []);
    assert.equal(xlNetworkList('dev').length, 0);
    assert.doesNotMatch(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }), new RegExp(`vif${dom.id}\\.`));
  });

  it('an attach aborted while its hotplug script runs: ERR_ABORTED at once, no vif left', async function () {
    // A hotplug script that hangs on "online", as a broken network script would.
    fs.writeFileSync('/tmp/slow-vif', '#!/bin/sh\n[ "$1" = online ] && sleep 60\nexit 0\n', { mode: 0o755 });
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 2000);
    await assert.rejects(dom.nics.attach('bridge=xenbr0,script=/tmp/slow-vif', { signal: ac.signal }), isXenError('ERR_ABORTED'));
    // libxl's own limit for a hotplug script is 40 s: the abort, not that, ended it.
    assert.ok(Date.now() - started < 20_000, `settled after ${Date.now() - started} ms`);
    assert.deepEqual(await dom.nics.list(), []);
    assert.deepEqual(xlNetworkList('dev'), []);
    assert.equal(xenstoreTree(`/local/domain/0/backend/vif/${dom.id}`), '');
    // An already-aborted signal never reaches libxl.
    await assert.rejects(dom.nics.attach('bridge=xenbr0', { signal: AbortSignal.abort() }), isXenError('ERR_ABORTED'));
    assert.deepEqual(xlNetworkList('dev'), []);
  });

  it("PCI passthrough of the box's spare device: assignable, attach, the guest sees it, detach, give it back", async function () {
    const bdf = '0000:00:01.0'; // QEMU's edu device (1234:11e8), bound to no dom0 driver
    assert.deepEqual(await ctx.host.pci.assignable(), xlAssignable());
    await ctx.host.pci.makeAssignable(bdf);
    assert.deepEqual(await ctx.host.pci.assignable(), [bdf]);
    assert.deepEqual(xlAssignable(), [bdf]);
    assert.match(fs.readlinkSync(`/sys/bus/pci/devices/${bdf}/driver`), /pciback$/);
    // A guest created without passthrough cannot get it: libxl's exact refusal, nothing left.
    await assert.rejects(qdom.pci.attach(bdf), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.equal(e.code, 'ERROR_FAIL');
      assert.ok(
        e.details.some((l) => /xc_assign_device failed: Operation not supported/.test(l)),
        e.details.join('\n'),
      );
      return true;
    });
    assert.deepEqual(xlPciList('devq'), []);
    await dom.pci.attach(bdf);
    assert.deepEqual(
      (await dom.pci.list()).map((p) => p.bdf),
      [bdf],
    );
    assert.deepEqual(xlPciList('dev'), [bdf]);
    let r = await guestRun(
      dom,
      'for i in $(seq 1 20); do ls /sys/bus/pci/devices/*/vendor >/dev/null 2>&1 && break; sleep 0.5; done; ' +
        'cat /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device',
    );
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(r.out.trim().split(/\s+/), ['0x1234', '0x11e8']);
    await dom.pci.detach(bdf);
    assert.deepEqual(await dom.pci.list(), []);
    assert.deepEqual(xlPciList('dev'), []);
    r = await guestRun(dom, 'ls /sys/bus/pci/devices | wc -l');
    assert.equal(r.out.trim(), '0');
    await ctx.host.pci.removeAssignable(bdf, { rebind: true });
    assert.deepEqual(await ctx.host.pci.assignable(), []);
    assert.deepEqual(xlAssignable(), []);
  });

  it('PCI bad input: a BDF that does not exist, a device that is not assignable', async function () {
    await assert.rejects(ctx.host.pci.makeAssignable('0000:00:1e.7'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.equal(e.code, 'ERROR_FAIL');
      assert.equal(e.errno, 2);
      assert.match(e.message, /Couldn't lstat \/sys\/bus\/pci\/devices\/0000:00:1e\.7/);
      return true;
    });
    await assert.rejects(ctx.host.pci.makeAssignable('00:zz.0'), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(dom.pci.attach('0000:00:02.0'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.ok(
        e.details.some((l) => /PCI device 0:0:2\.0 is not assignable/.test(l)),
        e.details.join('\n'),
      );
      return true;
    });
    await assert.rejects(dom.pci.detach('0000:00:02.0'), isXenError('ERR_NOT_FOUND'));
    assert.deepEqual(xlPciList('dev'), []);
    assert.deepEqual(xlAssignable(), []);
  });

  it("PV USB: Linux has no PV USB backend — libxl's refusal, and no controller left (xl leaves one)", async function () {
    this.timeout(120_000);
    await assert.rejects(dom.usb.attachController('type=pv'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.equal(e.code, 'ERROR_TIMEDOUT');
      assert.ok(
        e.details.some((l) => new RegExp(`unable to add device with path /local/domain/0/backend/vusb/${dom.id}/0`).test(l)),
        e.details.join('\n'),
      );
      return true;
    });
    assert.deepEqual(await dom.usb.list(), []);
    assert.equal(xl('usb-list', 'dev').trim(), '');
    assert.equal(xenstoreTree(`/local/domain/0/backend/vusb/${dom.id}`), '');
  });

  it('bad input: clear XenErrors, nothing half-attached', async function () {
    const beforeVbd = xenstoreTree(`/local/domain/0/backend/vbd/${dom.id}`);
    const beforeVif = xenstoreTree(`/local/domain/0/backend/vif/${dom.id}`);
    await assert.rejects(dom.disks.attach('/tmp/dev-raw.img,raw,xvdb,rw,bogus=1'), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(dom.disks.attach('/no/such/file.img,raw,xvdd,rw'), isXenError('ERR_NOT_FOUND', /no such file/));
    await assert.rejects(dom.disks.attach(''), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(dom.disks.detach('xvdz'), isXenError('ERR_NOT_FOUND'));
    await assert.rejects(dom.nics.detach('00:16:3e:00:00:99'), isXenError('ERR_NOT_FOUND'));
    // xl warns "Invalid parameter `mac'." and goes on with a random MAC; the API refuses.
    await assert.rejects(dom.nics.attach('mac=zz:zz'), isXenError('ERR_INVALID_ARG', /Invalid parameter `mac'/));
    await assert.rejects(dom.pci.attach('0000:99:1f.7'), (e: unknown) => e instanceof XenError && /^ERROR_/.test(e.code));
    await assert.rejects(dom.usb.detachController(5), isXenError('ERR_NOT_FOUND'));
    // A vdev in use.
    fs.writeFileSync('/tmp/dev-raw.img', Buffer.alloc(4 * 2 ** 20));
    await dom.disks.attach('/tmp/dev-raw.img,raw,xvdb,rw');
    await assert.rejects(dom.disks.attach('/tmp/dev-raw.img,raw,xvdb,rw'), isXenError('ERR_INVALID_ARG', /in use/));
    await dom.disks.detach('xvdb');
    // A vif whose hotplug script fails (no such bridge): libxl's error, and no vif left.
    await assert.rejects(dom.nics.attach('bridge=nosuchbridge0'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.match(e.code, /^ERROR_/);
      return true;
    });
    assert.deepEqual(await dom.nics.list(), []);
    assert.deepEqual(xlNetworkList('dev'), []);
    assert.equal(xenstoreTree(`/local/domain/0/backend/vbd/${dom.id}`), beforeVbd);
    assert.equal(xenstoreTree(`/local/domain/0/backend/vif/${dom.id}`), beforeVif);
    // A domain that is gone.
    const gone = await ctx.host.domain('devq');
    await gone.destroy();
    await assert.rejects(gone.disks.list(), isXenError('ERROR_DOMAIN_NOTFOUND'));
    await assert.rejects(gone.nics.attach('bridge=xenbr0'), isXenError('ERROR_DOMAIN_NOTFOUND'));
  });
});
