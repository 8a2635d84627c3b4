// Device specs as xl's *-attach commands read them, and the disk-eject event, without Xen
// (test/xen/15-devices and 16-devices-hvm check the same calls against xl in the box).
import { strict as assert } from 'node:assert';
import { formatBdf, XenError } from '../../src';
import { parseDeviceSpec } from '../../src/devices/devices';
import { parseLibxlEvent } from '../../src/core/events';
import type { DeviceDisk, DeviceNic, DevicePci, DeviceUsbctrl, DeviceUsbdev } from '../../src/generated/libxl-types';

const invalid = (re?: RegExp) => (e: unknown) =>
  e instanceof XenError && e.code === 'ERR_INVALID_ARG' && (!re || re.test(e.message));

describe('device specs (xl block-/network-/pci-/usb*-attach)', function () {
  it('disk specs: positional and keyword forms, qcow2, CD-ROM', function () {
    const raw = parseDeviceSpec<DeviceDisk>('disk', '/img,raw,xvdb,rw', 'op');
    assert.deepEqual([raw.pdev_path, raw.format, raw.vdev, raw.readwrite], ['/img', 'raw', 'xvdb', 1]);
    const q = parseDeviceSpec<DeviceDisk>('disk', 'format=qcow2,vdev=xvdc,access=rw,target=/x.qcow2', 'op');
    assert.deepEqual([q.pdev_path, q.format, q.vdev], ['/x.qcow2', 'qcow2', 'xvdc']);
    // The spec xl's cd-eject builds: an empty CD-ROM drive.
    const empty = parseDeviceSpec<DeviceDisk>('disk', 'vdev=hdc,access=r,devtype=cdrom,target=', 'op');
    assert.deepEqual([empty.vdev, empty.format, empty.is_cdrom, empty.pdev_path ?? ''], ['hdc', 'empty', 1, '']);
  });

  it('vif, pci and usb specs', function () {
    const nic = parseDeviceSpec<DeviceNic>('nic', 'bridge=xenbr0,mac=00:16:3e:5a:77:02', 'op');
    assert.deepEqual([nic.bridge, nic.mac], ['xenbr0', '00:16:3e:5a:77:02']);
    const pci = parseDeviceSpec<DevicePci>('pci', '0000:00:04.1,permissive=1', 'op');
    assert.equal(formatBdf(pci), '0000:00:04.1');
    assert.equal(pci.permissive, true);
    const ctrl = parseDeviceSpec<DeviceUsbctrl>('usbctrl', 'type=devicemodel,version=2,ports=4', 'op');
    assert.deepEqual([ctrl.type, ctrl.version, ctrl.ports], ['devicemodel', 2, 4]);
    const dev = parseDeviceSpec<DeviceUsbdev>('usbdev', 'type=hostdev,hostbus=1,hostaddr=2', 'op');
    assert.deepEqual([dev['type.hostdev']?.hostbus, dev['type.hostdev']?.hostaddr], [1, 2]);
  });

  it('what xl only warns about is an error here; what xl refuses too', function () {
    // xl: "Invalid parameter `mac'." and a random MAC instead.
    assert.throws(() => parseDeviceSpec('nic', 'mac=zz:zz', 'op'), invalid(/Invalid parameter `mac'/));
    assert.throws(() => parseDeviceSpec('disk', '/img,raw,xvdb,rw,bogus=1', 'op'), invalid());
    assert.throws(() => parseDeviceSpec('pci', '00:zz.0', 'op'), invalid());
    assert.throws(() => parseDeviceSpec('usbctrl', 'type=floppy', 'op'), invalid());
    assert.throws(() => parseDeviceSpec('disk', '', 'op'), invalid(/non-empty string/));
    assert.throws(() => parseDeviceSpec('disk', 42 as unknown as string, 'op'), invalid());
  });
});

describe('device specs: what fuzzing found (test/unit/fuzz.test.ts)', function () {
  it('a disk spec with "=" then a newline is refused; libxlutil\'s disk lexer would exit the process', function () {
    // xlu_disk_parse: flex's "scanner jammed" and exit(2), which took node (and xl) down.
    for (const spec of ['x,=\n', '=\n', '/img,raw,xvda,w,=\nmore', 'phy:=\n']) {
      assert.throws(
        () => parseDeviceSpec('disk', spec, 'op'),
        invalid(/bad disk syntax: near `='.*flex scanner jammed/s),
        JSON.stringify(spec),
      );
    }
    // Where a rule takes the "=" in, the newline is ordinary (xl accepts these).
    assert.equal(parseDeviceSpec<DeviceDisk>('disk', 'vdev=xvda,target=/a,=\n', 'op').pdev_path, '/a,=');
    assert.equal(parseDeviceSpec<DeviceDisk>('disk', 'vdev=xvda,\ntarget=/b', 'op').pdev_path, '/b');
  });

  it("a NUL in a spec is refused naming the spec (was: the formatter's error, or cut short in C)", function () {
    for (const kind of ['disk', 'nic', 'pci', 'usbctrl', 'usbdev'] as const) {
      assert.throws(
        () => parseDeviceSpec(kind, 'a\0b', 'op'),
        invalid(/^op: bad \w+ spec "a\\u0000b": it contains a NUL character$/),
        kind,
      );
    }
  });
});

describe('the disk-eject event', function () {
  const json = JSON.stringify({
    domid: 7,
    for_user: 12,
    'type.disk_eject': { disk: { pdev_path: '', backend: 'qdisk', format: 'empty', removable: 1, is_cdrom: 1 } },
  });

  it('names the drive of its registration: libxl 4.17 leaves the vdev out', function () {
    const ev = parseLibxlEvent(json, (id) => (id === 12 ? 'hdc' : undefined));
    assert.deepEqual(ev, {
      type: 'disk-eject',
      domid: 7,
      uuid: '',
      vdev: 'hdc',
      disk: { pdev_path: '', backend: 'qdisk', format: 'empty', removable: 1, is_cdrom: 1, vdev: 'hdc' },
    });
  });

  it('keeps a vdev libxl does give', function () {
    const withVdev = JSON.parse(json);
    withVdev['type.disk_eject'].vdev = 'hdd';
    const ev = parseLibxlEvent(JSON.stringify(withVdev), () => 'hdc');
    assert.equal(ev?.type === 'disk-eject' && ev.vdev, 'hdd');
  });
});
