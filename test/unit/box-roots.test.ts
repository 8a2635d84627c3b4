// The Xen 4.20 box's pieces that need no box: version parsing, the shares into its dom0, the
// mirror taken from the host's apt sources, and the init that mounts the shares.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BoxSetupError } from '../../src/box/errors';
import { parseXenVersion } from '../../src/box/roots';
import { DOM0_INIT, DOM0_INIT_SHARES, dom0AgentScript } from '../../src/box/scripts';
import { hostShares } from '../../src/box/session';

describe('box: Xen versions and the 4.20 root', function () {
  it('parseXenVersion: 4.17 by default, 4.20, and a clear error for others', function () {
    assert.equal(parseXenVersion(undefined), '4.17');
    assert.equal(parseXenVersion('4.20'), '4.20');
    assert.throws(
      () => parseXenVersion('4.19'),
      (e: unknown) => e instanceof BoxSetupError && /Xen 4\.17 or 4\.20/.test(e.message),
    );
  });

  it('hostShares: real paths, each once, none inside another', function () {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shares-'));
    try {
      fs.mkdirSync(path.join(tmp, 'co/.cache/testbed'), { recursive: true });
      fs.mkdirSync(path.join(tmp, 'other/node_modules'), { recursive: true });
      fs.symlinkSync(path.join(tmp, 'other/node_modules'), path.join(tmp, 'co/node_modules'));
      const s = hostShares([
        path.join(tmp, 'co'),
        path.join(tmp, 'co/node_modules'),
        path.join(tmp, 'co/.cache/testbed'),
        path.join(tmp, 'nope'),
      ]);
      assert.deepEqual(s, [
        { tag: 'share0', path: fs.realpathSync(path.join(tmp, 'co')) },
        { tag: 'share1', path: fs.realpathSync(path.join(tmp, 'other/node_modules')) },
      ]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("the 4.17 box's init and agent are as before; the 4.20 box's mount the shares and use 4.20's tools", function () {
    assert.doesNotMatch(DOM0_INIT, /shares/);
    // 4.17: the host's root read through (the checkout changes under a box that stays up); the
    // 4.20 box's finished root cached.
    assert.match(DOM0_INIT, /mount -t 9p -o ro,trans=virtio\S+ hostroot \/lower /);
    assert.match(DOM0_INIT_SHARES, /mount -t 9p -o ro,cache=loose,\S+ hostroot \/lower /);
    assert.match(DOM0_INIT_SHARES, /done < \/newroot\/xfer\/\.box\/shares/);
    assert.match(dom0AgentScript(), /PATH=\/usr\/lib\/xen-4\.17\/bin:/);
    assert.match(dom0AgentScript('4.20'), /PATH=\/usr\/lib\/xen-4\.20\/bin:/);
  });
});
