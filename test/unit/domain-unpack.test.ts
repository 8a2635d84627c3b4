// The packed domain list the addon returns (native/domain/list.cc) and its unpacking.
import { strict as assert } from 'node:assert';
import { memoryMiB, stateString } from '../../src';
import { unpackDomainList } from '../../src/core/domain-info';

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
        never_stop: true,
        shutdown_reason: 'poweroff',
        outstanding_memkb: 0,
        current_memkb: 1572864,
        shared_memkb: 0,
        paged_memkb: 0,
        max_memkb: 1572864,
        cpu_time: 25.3e9,
        vcpu_max_id: 1,
        vcpu_online: 2,
        cpupool: 0,
        gpaddr_bits: 52,
        domain_type: 'pv',
      },
    );
    assert.equal(guest.domid, 7);
    assert.equal(guest.name, null, 'no name while the flag is 0');
    assert.equal(guest.uuid, U2);
    assert.equal(guest.shutdown_reason, 'crash');
    assert.equal(guest.domain_type, 'hvm');
    assert.equal(guest.ssid_label, 'lbl');
    assert.equal(stateString(guest), '-b-sc-');
    assert.equal(memoryMiB(guest), 128);
  });

  it('an empty list is empty', function () {
    assert.deepEqual(unpackDomainList([new Float64Array(0), '', '', []]), []);
  });
});
