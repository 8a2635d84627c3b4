// An HVM guest like xl.cfg(5)'s Windows example, created from its xl.cfg text through the API:
// a disk image, a CD-ROM image, a vif on xenbr0, VNC, a serial pty, ACPI.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { useHost } from '../support/host';
import { xlList, xlListLong } from '../support/xl';

const CFG = `# Modelled on the Windows HVM example in xl.cfg(5), sized for the box
type = "hvm"
name = "win-like"
memory = 128
vcpus = 1
vif = [ 'mac=00:16:3e:00:00:42,bridge=xenbr0' ]
disk = [ '/tmp/win-like.img,raw,hda,rw', '/tmp/win-like.iso,,hdc,cdrom' ]
vnc = 1
vnclisten = "127.0.0.1"
vncdisplay = 7
vncunused = 0
serial = 'pty'
acpi = 1
`;

/** The first bytes a VNC server sends: its protocol version. */
function rfbBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('data', (b) => {
      s.destroy();
      resolve(b.toString('latin1'));
    });
    s.once('error', reject);
    setTimeout(() => {
      s.destroy();
      reject(new Error('no VNC banner'));
    }, 10_000);
  });
}

describe('HVM guest from an xl.cfg like the Windows example', function () {
  this.timeout(180_000);
  const ctx = useHost();

  before(async function () {
    fs.closeSync(fs.openSync('/tmp/win-like.img', 'w'));
    fs.truncateSync('/tmp/win-like.img', 64 * 2 ** 20);
    fs.writeFileSync('/tmp/win-like.iso', Buffer.alloc(2 * 2 ** 20));
  });

  after(async function () {
    fs.rmSync('/tmp/win-like.img', { force: true });
    fs.rmSync('/tmp/win-like.iso', { force: true });
  });

  it('comes up with its VNC port listening, its disk, CD-ROM and vif as xl sees them, and a serial console', async function () {
    const dom = await ctx.host.createDomain(CFG, { path: '/tmp/win-like.cfg' });
    const row = xlList().find((r) => r.name === 'win-like');
    assert.equal(row?.id, dom.id);
    assert.match(await rfbBanner(5907), /^RFB 003\.00\d\n/);
    const cfg = xlListLong().find((d) => d.domid === dom.id)!.config as {
      disks: { vdev: string; is_cdrom?: number; pdev_path: string; format: string }[];
      nics: { mac: string; bridge: string }[];
      b_info: { 'type.hvm': { acpi?: string; vnc: { enable?: string; listen?: string; display?: number } } };
    };
    assert.deepEqual(
      cfg.disks.map((d) => [d.vdev, d.pdev_path, d.is_cdrom === 1]),
      [
        ['hda', '/tmp/win-like.img', false],
        ['hdc', '/tmp/win-like.iso', true],
      ],
    );
    assert.deepEqual(
      cfg.nics.map((n) => [n.mac, n.bridge]),
      [['00:16:3e:00:00:42', 'xenbr0']],
    );
    // The vif's backend is on the bridge.
    const bridged = execFileSync('ip', ['-o', 'link', 'show', 'master', 'xenbr0'], { encoding: 'utf8' });
    assert.match(bridged, new RegExp(`vif${dom.id}\\.0`));
    // The emulated serial port is a console the API opens.
    const serial = await dom.console({ type: 'serial' });
    serial.destroy();
    await dom.destroy();
    assert.ok(!xlList().some((r) => r.name === 'win-like'));
  });
});
