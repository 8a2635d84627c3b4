// The packed domain list the addon returns (native/domain/list.cc) and its unpacking.
import { strict as assert } from 'node:assert';
import { memoryMiB, stateString } from '../../src';
import { DEPRECATED_DOMAIN_INFO_NAMES, domainInfo, unpackDomainList } from '../../src/core/domain-info';

const U1 = '00000000-0000-0000-0000-000000000000';
const U2 = 'c8786c48-9796-4839-a24a-43d0e2887b17';

describe('domain list unpacking', function () {
  it('maps the 21 fields, enum codes and strings of each domain', function () {
    const f = new Float64Array([
      0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1572864, 0, 0, 1572864, 25.3e9, 1, 2, 0, 52, 2, 1, 7, 5, 0, 1, 0, 1, 0, 0, 3, 1024, 130048, 0,
      0, 131072, 4.5e9, 0, 1, 0, 52, 1, 0,
    ]);
    const [dom0, guest] = unpackDomainList([f, U1 + U2, 'Domain-0\0', [undefined, 'lbl']]);
    assert.deepEqual(
      { ...dom0 },
      {
        domid: 0,
        name: 'Domain-0',
        uuid: U1,
        ssidref: 0,
        running: true,
        blocked: false,
        paused: false,
        shutdown: false,
        dying: false,
        neverStop: true,
        shutdownReason: 'poweroff',
        outstandingMemoryKiB: 0,
        memoryKiB: 1572864,
        sharedMemoryKiB: 0,
        pagedMemoryKiB: 0,
        maxMemoryKiB: 1572864,
        cpuTimeNs: 25.3e9,
        vcpuMaxId: 1,
        vcpusOnline: 2,
        cpupoolId: 0,
        gpaddrBits: 52,
        domainType: 'pv',
      },
    );
    assert.equal(guest.domid, 7);
    assert.equal(guest.name, null, 'no name while the flag is 0');
    assert.equal(guest.uuid, U2);
    assert.equal(guest.shutdownReason, 'crash');
    assert.equal(guest.domainType, 'hvm');
    assert.equal(guest.ssidLabel, 'lbl');
    assert.equal(stateString(guest), '-b-sc-');
    assert.equal(memoryMiB(guest), 128);
  });

  it('keeps the libxl names of 0.x as non-enumerable getters (deprecated aliases)', function () {
    const f = new Float64Array([3, 0, 0, 1, 0, 1, 0, 0, 1, 2048, 4096, 0, 0, 8192, 7e9, 1, 2, 4, 52, 1, 1]);
    const [d] = unpackDomainList([f, U2, 'g\0', ['lbl']]);
    const old = d as unknown as Record<string, unknown>;
    for (const [was, now] of Object.entries(DEPRECATED_DOMAIN_INFO_NAMES)) {
      assert.equal(old[was], old[now], `${was} is ${now}`);
      assert.ok(!Object.keys(d).includes(was), `${was} is not enumerable`);
    }
    assert.deepEqual([d.current_memkb, d.cpu_time, d.vcpu_online, d.shutdown_reason, d.cpupool], [4096, 7e9, 2, 'reboot', 4]);
    assert.ok(!JSON.stringify(d).includes('memkb'), 'JSON shows only the new names');
    const built = domainInfo({ ...d, memoryKiB: 1 });
    assert.equal(built.current_memkb, 1, 'domainInfo() objects have the aliases too');
  });

  it('an empty list is empty', function () {
    assert.deepEqual(unpackDomainList([new Float64Array(0), '', '', []]), []);
  });
});
