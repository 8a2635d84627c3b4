// Devices of an HVM guest, served by its device model (QEMU): CD-ROM media and the eject event,
// USB controllers and the box's emulated USB keyboard passed through — checked against
// `xl list -l`, `xl block-list` and `xl usb-list` in the same dom0.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Domain, XenError } from '../../src';
import { hvmGuestConfig, waitForHvmIdle } from '../../src/box/guests';
import { IDLE_BOOT_CODE } from '../../src/box/images';
import { useHost } from '../support/host';
import { isXenError, sleep, until, xlAsync } from '../support/xl';

// xl runs asynchronously here: while it waits for libxl's device lock, which the API may hold
// for an operation of its own (the monitor answering an eject), Node's loop must keep running.

/** The guest's disks as `xl list -l` stores them (libxl's JSON, updated by cd-insert). */
async function xlDisks(domid: number): Promise<{ vdev: string; pdev_path?: string; format?: string; is_cdrom?: number }[]> {
  const rows = JSON.parse((await xlAsync('list', '-l')).stdout) as { domid: number; config: { disks?: { vdev: string }[] } }[];
  return rows.find((d) => d.domid === domid)?.config.disks ?? [];
}

/** `xl usb-list`: controllers with their ports' "Bus BBB Device DDD" (or ''). */
async function xlUsbList(dom: string): Promise<{ devid: number; type: string; version: number; ports: string[] }[]> {
  const out: { devid: number; type: string; version: number; ports: string[] }[] = [];
  for (const line of (await xlAsync('usb-list', dom)).stdout.split('\n')) {
    const ctrl = /^(\d+)\s+(\w+)\s+\d+\s+\d+\s+(\d+)\s+\d+/.exec(line);
    if (ctrl) out.push({ devid: +ctrl[1], type: ctrl[2], version: +ctrl[3], ports: [] });
    const port = /^\s+Port \d+:\s*(.*)$/.exec(line);
    if (port) out[out.length - 1].ports.push(port[1].trim());
  }
  return out;
}

describe('devices of an HVM guest (through its device model)', function () {
  this.timeout(180_000);
  const ctx = useHost();
  let hvm: Domain;

  before(async function () {
    fs.writeFileSync('/tmp/cd1.iso', Buffer.alloc(2 ** 20, 1));
    fs.writeFileSync('/tmp/cd2.iso', Buffer.alloc(2 ** 20, 2));
    // A boot sector that idles (the box's idle CD code, which also says so on Xen's console):
    // with nothing to boot, SeaBIOS would reboot the guest every 60 s.
    const spin = Buffer.alloc(2 ** 20);
    spin.set(IDLE_BOOT_CODE);
    spin.set([0x55, 0xaa], 510);
    fs.writeFileSync('/tmp/spin.img', spin);
    // Created through the API, so xenlight's lifecycle monitor (xl's, for xl's guests) runs.
    hvm = await ctx.host.createDomain(
      hvmGuestConfig({
        name: 'hvmdev',
        boot: 'c',
        disks: ['/tmp/spin.img,raw,hda,rw', '/tmp/cd1.iso,raw,hdc,cdrom'],
      }),
    );
    // Media are changed once SeaBIOS is done with the drives, not while it probes them.
    await waitForHvmIdle(hvm.id);
  });

  after(async function () {
    for (const f of ['/tmp/cd1.iso', '/tmp/cd2.iso', '/tmp/spin.img']) fs.rmSync(f, { force: true });
  });

  it('CD-ROM: insert and eject media, as xl list -l and xl block-list see them', async function () {
    const drives = await hvm.disks.list();
    assert.deepEqual(
      drives.map((d) => [d.vdev, d.config.is_cdrom ?? 0]),
      [
        ['hda', 0],
        ['hdc', 1],
      ],
    );
    const drive = drives[1];
    assert.equal(drive.config.pdev_path, '/tmp/cd1.iso');
    const blk = (await xlAsync('block-list', 'hvmdev')).stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(
      blk.map((r) => [+r[0], r[6]]),
      drives.map((d) => [d.devid, d.backendPath]),
    );

    const cdrom = async () => (await xlDisks(hvm.id)).find((d) => d.vdev === 'hdc')!;
    await hvm.disks.insert('hdc', '/tmp/cd2.iso');
    const inserted = await cdrom();
    assert.deepEqual([inserted.pdev_path, inserted.format, inserted.is_cdrom], ['/tmp/cd2.iso', 'raw', 1]);
    await hvm.disks.eject('hdc');
    const empty = await cdrom();
    assert.ok(!empty.pdev_path, `no medium: ${JSON.stringify(empty)}`);
    assert.equal(empty.format, 'empty');
    await hvm.disks.insert('hdc', '/tmp/cd1.iso');
    assert.equal((await cdrom()).pdev_path, '/tmp/cd1.iso');
    // The API's own view (libxl's stored config) agrees.
    assert.equal((await hvm.config()).disks?.find((d) => d.vdev === 'hdc')?.pdev_path, '/tmp/cd1.iso');
  });

  it('the guest ejects the medium: a disk-eject event, and the monitor empties the drive (as xl does)', async function () {
    const ejects = hvm.disks.ejects('hdc');
    const next = ejects.next();
    // What QEMU writes when the guest's ATAPI driver ejects the disc.
    execFileSync('xenstore-write', [`/local/domain/${hvm.id}/device/vbd/5632/eject`, 'eject']);
    const ev = await Promise.race([next, sleep(10_000).then(() => undefined)]);
    assert.ok(ev && !ev.done, 'a disk-eject event');
    assert.equal(ev.value.type, 'disk-eject');
    assert.equal(ev.value.domid, hvm.id);
    assert.equal(ev.value.vdev, 'hdc');
    assert.equal(ev.value.disk.vdev, 'hdc');
    assert.equal(ev.value.disk.format, 'empty');
    await ejects.return!();
    const cdrom = async () => (await xlDisks(hvm.id)).find((d) => d.vdev === 'hdc')!;
    await until('the drive to be emptied', async () => (await cdrom()).format === 'empty', 10_000);
    assert.ok(!(await cdrom()).pdev_path);
  });

  it('CD-ROM bad input: no such drive, not a CD-ROM, a missing image, a bad vdev for events', async function () {
    await assert.rejects(hvm.disks.insert('hdd', '/tmp/cd2.iso'), isXenError('ERR_NOT_FOUND'));
    await assert.rejects(
      hvm.disks.insert('hdc', '/no/such.iso'),
      isXenError('ERR_NOT_FOUND', /cannot stat file: \/no\/such\.iso/),
    );
    // xl's target is a path: a "format:" prefix is part of the file name, for xl as for the API.
    await assert.rejects(
      hvm.disks.insert('hdc', 'raw:/tmp/cd2.iso'),
      isXenError('ERR_NOT_FOUND', /cannot stat file: raw:\/tmp\/cd2\.iso/),
    );
    await assert.rejects(xlAsync('cd-insert', 'hvmdev', 'hdc', 'raw:/tmp/cd2.iso'), /Cannot stat file: raw:\/tmp\/cd2\.iso/);
    await assert.rejects(hvm.disks.insert('hdc', ''), isXenError('ERR_INVALID_ARG'));
    assert.throws(() => ctx.host.events({ diskEjects: ['hdc'] }), isXenError('ERR_INVALID_ARG', /needs a domid/));
    assert.throws(() => ctx.host.events({ domid: hvm.id, diskEjects: ['../x'] }), isXenError('ERR_INVALID_ARG'));
  });

  it("USB: the box's devices on the host, a controller in the device model, the keyboard passed through", async function () {
    const devices = await ctx.host.usb.list();
    const kbd = devices.find((d) => d.vendorId === '0627' && d.product === 'QEMU USB Keyboard');
    assert.ok(kbd, JSON.stringify(devices));
    // libxl's defaults for an HVM guest: the device model's EHCI controller, 6 ports.
    const ctrl = await hvm.usb.attachController();
    assert.deepEqual([ctrl.type, ctrl.version, ctrl.ports], ['devicemodel', 2, 6]);
    const noPorts = ['', '', '', '', '', ''];
    assert.deepEqual(await xlUsbList('hvmdev'), [{ devid: ctrl.devid, type: 'devicemodel', version: 2, ports: noPorts }]);

    await hvm.usb.attachDevice(`hostbus=${kbd.hostbus},hostaddr=${kbd.hostaddr}`);
    const [withKbd] = await hvm.usb.list();
    assert.equal(withKbd.devices.length, 1);
    const dev = withKbd.devices[0];
    assert.equal(dev.ctrl, ctrl.devid);
    const bus = (n: number) => String(n).padStart(3, '0');
    const ports = [...noPorts];
    ports[dev.port! - 1] = `Bus ${bus(kbd.hostbus)} Device ${bus(kbd.hostaddr)}`;
    assert.deepEqual((await xlUsbList('hvmdev'))[0].ports, ports);

    // The same device twice: libxl refuses, the first stays.
    await assert.rejects(
      hvm.usb.attachDevice(`hostbus=${kbd.hostbus},hostaddr=${kbd.hostaddr}`),
      (e: unknown) => e instanceof XenError,
    );
    assert.equal((await hvm.usb.list())[0].devices.length, 1);

    await hvm.usb.detachDevice(ctrl.devid, dev.port!);
    assert.deepEqual((await xlUsbList('hvmdev'))[0].ports, noPorts);
    await hvm.usb.detachController(ctrl.devid);
    assert.deepEqual(await hvm.usb.list(), []);
    assert.deepEqual(await xlUsbList('hvmdev'), []);
  });

  it('USB bad input: a spec xl cannot read, a device the host does not have, a port with nothing on it', async function () {
    await assert.rejects(hvm.usb.attachController('type=floppy'), isXenError('ERR_INVALID_ARG'));
    // The device model's EHCI controller has 6 ports: libxl refuses 4, for xl as for the API.
    await assert.rejects(hvm.usb.attachController('type=devicemodel,version=2,ports=4'), (e: unknown) => {
      assert.ok(e instanceof XenError, String(e));
      assert.equal(e.code, 'ERROR_INVAL', e.details.join('\n'));
      return true;
    });
    await assert.rejects(xlAsync('usbctrl-attach', 'hvmdev', 'type=devicemodel', 'version=2', 'ports=4'));
    await assert.rejects(hvm.usb.attachDevice('hostbus=9,hostaddr=99'), (e: unknown) => e instanceof XenError);
    await assert.rejects(hvm.usb.detachDevice(0, 1), isXenError('ERR_NOT_FOUND'));
    assert.deepEqual(await xlUsbList('hvmdev'), []);
  });
});
