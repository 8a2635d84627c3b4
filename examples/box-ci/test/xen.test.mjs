// Tests that need real Xen, on a CI machine without it: Xen in a box boots once for the suite
// (software emulation, no KVM), and each test runs its commands as root in dom0.
//
//   npx xenlight box up      # optional: keep one box for several test runs
//   npm test                 # boots one here if none is up, and stops it at the end
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Box, pvGuestConfig } from 'xenlight/box';

describe('my Xen tooling, on Xen in a box', function () {
  /** @type {Box} */
  let box;

  before(async function () {
    box = await Box.up({ log: (m) => console.log(`    box: ${m}`) });
  });

  after(async function () {
    // Leave a box someone else started (`npx xenlight box up`) running.
    if (box && !box.reused) await box.down();
  });

  it('runs as root in dom0 of a real Xen', async function () {
    const { exitCode, output } = await box.exec(['sh', '-c', 'id -u; xl info | grep ^xen_version']);
    assert.equal(exitCode, 0, output);
    assert.match(output, /^0\nxen_version\s+: 4\.\d+/);
  });

  it('boots a PV guest that xl lists, and destroys it', async function () {
    // The host's files are dom0's (read-only); /xfer is a directory both can write.
    writeFileSync(join(box.xferDir, 'guest.cfg'), pvGuestConfig({ name: 'ci-guest' }));
    const created = await box.exec(['xl', 'create', '/xfer/guest.cfg']);
    assert.equal(created.exitCode, 0, created.output);
    try {
      const list = await box.exec(['xl', 'list', 'ci-guest']);
      assert.match(list.output, /^ci-guest\s+\d+\s+128\s+1\s/m);
    } finally {
      await box.exec(['xl', 'destroy', 'ci-guest']);
    }
    const gone = await box.exec(['xl', 'list', 'ci-guest']);
    assert.equal(gone.exitCode, 1);
  });

  it("runs Node in dom0 with the host's node, cwd and files", async function () {
    const r = await box.exec(['node', '-e', 'console.log(process.version, require("fs").existsSync("/proc/xen/capabilities"))']);
    assert.equal(r.output.trim(), `${process.version} true`);
  });

  it('cancels a command that overruns its time limit, and the box stays up', async function () {
    const r = await box.run(['sleep', '600'], { timeoutSeconds: 2 });
    assert.equal(r.exitCode, 124);
    assert.equal((await box.exec(['true'])).exitCode, 0);
  });
});
