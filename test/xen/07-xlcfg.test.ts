// parseXlConfig against the oracle: `xl -N create <file>` in the same dom0, fixture by fixture,
// with parseXlConfig following the box's xl (4.17 or 4.20). The xen420-* fixtures use what xl 4.20
// added or changed: each version's own behaviour is asserted on xl's JSON too.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseXlConfig, XenError, xlVersionOf } from '../../src';
import type { CpuLayout, XlVersion } from '../../src';
import { pvGuestConfig } from '../../src/box/guests';
import type { DomainConfig } from '../../src/generated/libxl-types';
import { useHost } from '../support/host';
import { destroyAllGuests, xlDryRun, xlList, xlListLong } from '../support/xl';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const GOOD = path.join(FIXTURES, 'xlcfg');
const BAD = path.join(FIXTURES, 'xlcfg-bad');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The xen420-* fixtures xl 4.17 refuses (a key or value it does not know where it checks): its message. */
const REFUSED_BY_417: Record<string, RegExp> = {
  'xen420-p9-types.cfg': /Unknown string `type' in 9pfs spec/,
  'xen420-tee-ffa.cfg': /Unknown tee "ffa" specified/,
  'xen420-disk-grant-usage.cfg': /config parsing error in disk specification: bad disk syntax: near `=1,target=\/dev\/null'/,
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What each xen420-* fixture gives where xl accepts it, asserted on xl's own JSON. */
const PER_VERSION: Record<string, (xl: Json, xen: XlVersion) => void> = {
  'xen420-pv-keys.cfg': (xl, xen) => {
    const b = xl.b_info;
    if (xen === '4.20') {
      assert.deepEqual(
        xl.virtios.map((v: Json) => [v.devid, v.type, v.backend_domname, v.transport, v.grant_usage]),
        [
          [0, 'virtio,device22', '0', 'mmio', 'True'],
          [1, 'virtio,device1a', 'dom0', undefined, undefined],
          [2, 'other', undefined, undefined, 'False'],
        ],
      );
      assert.deepEqual(b.llc_colors, [0, 1, 2, 3, 8, 10, 5]);
      assert.equal(b.bootloader_restrict, 'True');
      assert.equal(b.bootloader_user, 'xenbl');
      assert.deepEqual(b.arch_arm, { sve_vl: 'hw', nr_spis: 64 });
      assert.deepEqual(
        xl.nics.map((n: Json) => n.vlan),
        ['10', '20/30'],
      );
    } else {
      for (const k of ['llc_colors', 'bootloader_restrict', 'bootloader_user']) assert.equal(b[k], undefined, k);
      assert.equal(xl.virtios, undefined);
      assert.deepEqual(b.arch_arm, {});
      assert.deepEqual(
        xl.nics.map((n: Json) => n.vlan),
        [undefined, undefined],
      );
    }
  },
  'xen420-hvm-keys.cfg': (xl, xen) => {
    const hvm = xl.b_info['type.hvm'];
    if (xen === '4.20') {
      assert.equal(hvm.pirq, 'False');
      assert.deepEqual(hvm.smbios, [
        { key: 'bios_vendor', value: 'Xenlight' },
        { key: 'system_serial_number', value: ' ABC 123' },
        { key: 'oem', value: 'one' },
        { key: 'oem', value: 'two=three' },
        { key: 'bios_version', value: '1.0' },
      ]);
    } else {
      assert.equal(hvm.pirq, undefined);
      assert.equal(hvm.smbios, undefined);
    }
  },
  'xen420-split-pairs.cfg': (xl, xen) => {
    if (xen === '4.20') {
      assert.deepEqual(xl.channels, [{ name: 'org.x=y', 'connection.pty': {} }, { 'connection.socket': { path: '/run/a=b' } }]);
      assert.deepEqual(xl.p9s, [{ tag: 'a', security_model: 'none', path: '/srv/a=b' }, { tag: 'b' }]);
    } else {
      assert.deepEqual(xl.channels, [
        { devid: 0, name: 'org.x', 'connection.pty': {} },
        { devid: 1, 'connection.socket': { path: '/run/a' } },
      ]);
      assert.deepEqual(xl.p9s, [
        { tag: 'a', security_model: 'none', path: '/srv/a=b' },
        { tag: 'b', security_model: 'none', path: '/srv/a=b' },
      ]);
    }
  },
  'xen420-p9-types.cfg': (xl) => {
    assert.deepEqual(xl.p9s, [
      {
        tag: 'logs',
        type: 'xen_9pfsd',
        security_model: 'none',
        max_files: 100,
        max_open_files: 10,
        max_space: 1024,
        auto_delete: true,
        backend_domname: '0',
        path: '/var/log/xen/guests/xen420-p9-types',
      },
      { tag: 'q', type: 'qemu', path: '/srv/q', security_model: 'mapped' },
    ]);
  },
  'xen420-tee-ffa.cfg': (xl) => assert.equal(xl.b_info.tee, 'ffa'),
  'xen420-disk-grant-usage.cfg': (xl) => assert.equal(xl.disks[0].grant_usage, 'True'),
};

const cfgFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cfg'))
    .sort();

describe('xl.cfg parsing against xl -N create', function () {
  this.timeout(120_000);
  const ctx = useHost({ destroyGuests: false });
  let layout: CpuLayout;
  /** The box's xl: parseXlConfig follows it. */
  let xen: XlVersion;

  before(async function () {
    const info = await ctx.host.info();
    xen = xlVersionOf(info.xenMajor, info.xenMinor);
    const topo = await ctx.host.topology();
    layout = {
      nrCpus: info.maxCpuId + 1,
      cpusOfNode: (n) =>
        topo.nodes.some((x) => x.node === n) ? topo.cpus.filter((c) => c.node === n).map((c) => c.cpu) : undefined,
    };
  });

  it(`has at least 35 fixtures (${cfgFiles(GOOD).length})`, function () {
    assert.ok(cfgFiles(GOOD).length >= 35);
  });

  it('every xen420-* fixture has its per-version assertions', function () {
    assert.deepEqual(
      cfgFiles(GOOD).filter((f) => f.startsWith('xen420-')),
      Object.keys(PER_VERSION).sort(),
    );
    for (const f of Object.keys(REFUSED_BY_417)) assert.ok(f in PER_VERSION, f);
  });

  for (const f of cfgFiles(GOOD)) {
    it(`${f}: parseXlConfig deep-equals xl's JSON (or both refuse it, as xl 4.17 does some xen420-* ones)`, function () {
      const file = path.join(GOOD, f);
      const text = fs.readFileSync(file, 'utf8');
      const xl = xlDryRun({ file });
      if (xen === '4.17' && REFUSED_BY_417[f]) {
        assert.notEqual(xl.status, 0, `xl 4.17 accepted ${f}`);
        assert.match(xl.stderr, REFUSED_BY_417[f]);
        assert.throws(
          () => parseXlConfig(text, { path: file, cpuLayout: layout, xen }),
          (e: unknown) => {
            assert.ok(e instanceof XenError);
            assert.equal(e.code, 'ERR_INVALID_ARG');
            assert.match(e.message, REFUSED_BY_417[f]);
            // xl's own words, as it printed them.
            assert.ok(xl.stderr.includes(e.details.at(-1)!), `${e.details.at(-1)} in ${xl.stderr}`);
            return true;
          },
        );
        return;
      }
      assert.equal(xl.status, 0, `xl -N create ${f} failed: ${xl.stderr}`);
      const expected = JSON.parse(xl.stdout);
      PER_VERSION[f]?.(structuredClone(expected), xen);
      const { config } = parseXlConfig(text, { path: file, cpuLayout: layout, xen });
      if (!/^uuid\s*=/m.test(text)) {
        // Without a uuid key xl generates a random UUID (libxl_uuid_generate), and so do we:
        // both must be well-formed, and they differ; the rest must be equal.
        assert.match(expected.c_info.uuid, UUID);
        assert.match(config.c_info!.uuid!, UUID);
        assert.notEqual(config.c_info!.uuid, expected.c_info.uuid);
        delete expected.c_info.uuid;
        delete config.c_info!.uuid;
      }
      // deepStrictEqual ignores key order, which is all that may differ.
      assert.deepStrictEqual(config, expected);
    });
  }

  for (const f of cfgFiles(BAD)) {
    it(`${f}: xl and parseXlConfig both reject it, with the same message`, function () {
      const file = path.join(BAD, f);
      const xl = xlDryRun({ file });
      assert.notEqual(xl.status, 0, 'xl accepted it');
      const xlLine = xl.stderr.split('\n').find((l) => l.includes('config parsing error'));
      assert.ok(xlLine, `xl's message: ${xl.stderr}`);
      assert.throws(
        () => parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file, xen }),
        (e: unknown) => {
          assert.ok(e instanceof XenError);
          assert.equal(e.code, 'ERR_XLCFG_SYNTAX');
          assert.equal(e.message, xlLine);
          assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: config parsing error near `));
          return true;
        },
      );
    });
  }

  it('"a" + "b": a lexical error for xl 4.17 and for us, with the Python hint', function () {
    const file = path.join(os.tmpdir(), 'xlcfg-plus.cfg');
    fs.writeFileSync(file, 'name = "x"\nkernel = "a" + "b"\nmemory = 64\n');
    const xl = xlDryRun({ file });
    assert.notEqual(xl.status, 0);
    assert.match(xl.stderr, new RegExp(`${file}:2: config parsing error near \`\\+': lexical error`));
    assert.match(xl.stderr, /looks like it contains Python code/);
    assert.throws(
      () => parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file, xen }),
      (e: unknown) =>
        e instanceof XenError &&
        e.code === 'ERR_XLCFG_SYNTAX' &&
        e.message === `${file}:2: config parsing error near \`+': lexical error` &&
        e.details.some((l) => /looks like it contains Python code/.test(l)),
    );
  });

  it('an unknown key: xl says nothing and accepts the file; we accept it with a warning naming key and line', function () {
    const file = path.join(GOOD, 'unknown-key.cfg');
    const xl = xlDryRun({ file });
    assert.equal(xl.status, 0);
    assert.doesNotMatch(xl.stderr, /frobnicate/, 'xl ignores unknown keys silently');
    const { warnings } = parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file, xen });
    assert.deepEqual(warnings, [`${file}:4: warning: unknown key \`frobnicate' (xl ${xen} ignores it silently)`]);
  });

  it("4.20's keys: xl 4.17 ignores them silently, and we name them; xl 4.20 reads them, silently", function () {
    const file = path.join(GOOD, 'xen420-pv-keys.cfg');
    const xl = xlDryRun({ file });
    assert.equal(xl.status, 0);
    const keys = ['virtio', 'llc_colors', 'bootloader_restrict', 'bootloader_user', 'sve', 'nr_spis'];
    for (const k of keys) assert.doesNotMatch(xl.stderr, new RegExp(`\\b${k}\\b`), k);
    const { warnings } = parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file, xen });
    const unknown = warnings.filter((w) => w.includes('unknown key')).map((w) => /`(\w+)'/.exec(w)![1]);
    assert.deepEqual(unknown, xen === '4.17' ? keys : []);
    // vlan= in a vif: 4.17's parse_nic_config says "unrecognized argument", as we do.
    const vlan = ["unrecognized argument `vlan=10'", "unrecognized argument `vlan=20/30'"];
    for (const w of vlan) assert.equal(xl.stderr.includes(w), xen === '4.17', w);
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('unrecognized')),
      xen === '4.17' ? vlan : [],
    );
  });

  it("a configuration xl refuses (no kernel for PV) is refused with xl's message", function () {
    const file = path.join(os.tmpdir(), 'xlcfg-nokernel.cfg');
    fs.writeFileSync(file, 'name = "nokernel"\nmemory = 64\n');
    const xl = xlDryRun({ file });
    assert.notEqual(xl.status, 0);
    assert.match(xl.stderr, /Neither kernel nor bootloader specified/);
    assert.throws(
      () => parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file, xen }),
      (e: unknown) =>
        e instanceof XenError && e.code === 'ERR_INVALID_ARG' && /Neither kernel nor bootloader specified/.test(e.message),
    );
  });

  it('host.createDomain(xl.cfg text) creates the guest xl would (paused), then destroy', async function () {
    destroyAllGuests();
    const text = pvGuestConfig({ name: 'xlcfg-a', memoryMiB: 96 });
    const warnings: string[] = [];
    const dom = await ctx.host.createDomain(text, { paused: true, onWarning: (w) => warnings.push(w) });
    try {
      const row = xlList().find((r) => r.name === 'xlcfg-a');
      assert.ok(row, 'in xl list');
      assert.equal(row.id, dom.id);
      assert.equal(row.state[2], 'p', 'paused');
      const stored = xlListLong().find((e) => e.domid === dom.id)!.config as DomainConfig;
      assert.equal(stored.b_info?.max_memkb, 96 * 1024);
      assert.equal(stored.c_info?.name, 'xlcfg-a');
      assert.deepEqual(warnings, []);
    } finally {
      await dom.destroy();
    }
  });
});
