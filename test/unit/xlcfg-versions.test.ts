// parseXlConfig's xl 4.17 / xl 4.20 switch, without Xen: the same text parsed for each version
// differs in exactly what 4.20's parse_config_data() changed (git diff RELEASE-4.17.7
// RELEASE-4.20.4 -- tools/xl/xl_parse.c). test/xen/07-xlcfg checks the xen420-* fixtures against
// the box's own xl.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatXlConfig, parseXlConfig, XenError, xlKeys, xlVersionOf, XL_VERSIONS } from '../../src';
import { XL_KEYS } from '../../src/xlcfg';
import type { XlConfigOptions, XlVersion } from '../../src';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'xlcfg');
const UUID = 'uuid = "6f1d8e52-3c4b-4a5e-9b7f-0123456789ab"\n';

/** libxl's JSON, with 4.20's fields (src/generated has 4.17's types). */
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const parse = (text: string, xen: XlVersion, opts: XlConfigOptions = {}) =>
  parseXlConfig(UUID + text, { path: 'x.cfg', xen, ...opts }) as { config: Json; warnings: string[] };
const pv = (extra: string, xen: XlVersion) => parse(`name = "g"\nkernel = "/k"\n${extra}\n`, xen);
const hvm = (extra: string, xen: XlVersion) => parse(`name = "g"\ntype = "hvm"\n${extra}\n`, xen);
const fixture = (f: string) => fs.readFileSync(path.join(FIXTURES, f), 'utf8');

/** The paths ("a.b.0.c") where two JSON values differ. */
function diffPaths(a: unknown, b: unknown, at = ''): string[] {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b))
    return a === b ? [] : [at];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => diffPaths((a as never)[k], (b as never)[k], at ? `${at}.${k}` : k));
}

/** The refusal's message, without the file name. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof XenError, String(e));
    assert.equal(e.code, 'ERR_INVALID_ARG');
    return e.message.replace(/^x\.cfg: /, '');
  }
  assert.fail('accepted');
}

describe('xl.cfg: xl 4.17 or xl 4.20 (opts.xen)', function () {
  it("defaults to 4.17's xl, refuses a version it does not follow; xlVersionOf maps a host's Xen", function () {
    const text = 'name = "g"\nkernel = "/k"\nchannel = [ "connection=pty" ]\n';
    assert.deepEqual(parseXlConfig(UUID + text).config, parse(text, '4.17').config);
    assert.notDeepEqual(parseXlConfig(UUID + text).config, parse(text, '4.20').config);
    assert.deepEqual(XL_VERSIONS, ['4.17', '4.20']);
    for (const bad of ['4.18', '4.2', 4.2, null])
      assert.throws(
        () => parseXlConfig(text, { xen: bad as never }),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && /xen is one of '4\.17', '4\.20'/.test(e.message),
      );
    assert.deepEqual(
      [
        [4, 17],
        [4, 19],
        [4, 20],
        [4, 21],
        [5, 0],
        [3, 4],
      ].map(([a, b]) => xlVersionOf(a, b)),
      ['4.17', '4.17', '4.20', '4.20', '4.20', '4.17'],
    );
  });

  it("xlKeys: 4.20 reads 4.17's keys and eight more", function () {
    assert.equal(xlKeys(), XL_KEYS);
    assert.equal(xlKeys('4.17'), XL_KEYS);
    const added = [...xlKeys('4.20')].filter((k) => !XL_KEYS.has(k)).sort();
    assert.deepEqual(added, [
      'bootloader_restrict',
      'bootloader_user',
      'hvm_pirq',
      'llc_colors',
      'nr_spis',
      'smbios',
      'sve',
      'virtio',
    ]);
    assert.deepEqual(
      [...XL_KEYS].filter((k) => !xlKeys('4.20').has(k)),
      [],
    );
  });

  it('xen420-pv-keys.cfg: 4.20 adds virtios, LLC colours, the bootloader keys, sve, nr_spis and vif vlans; 4.17 names them as unknown', function () {
    const [a, b] = (['4.17', '4.20'] as const).map((v) => parse(fixture('xen420-pv-keys.cfg'), v));
    assert.deepEqual(diffPaths(a.config, b.config), [
      'b_info.arch_arm.nr_spis',
      'b_info.arch_arm.sve_vl',
      'b_info.bootloader_restrict',
      'b_info.bootloader_user',
      'b_info.llc_colors',
      'nics.0.vlan',
      'nics.1.vlan',
      'virtios',
    ]);
    const { b_info: bi, nics, virtios } = b.config;
    assert.deepEqual(bi.llc_colors, [0, 1, 2, 3, 8, 10, 5], '" 10 - 12" is 10 (sscanf stops at the blank), "5-" is 5');
    assert.deepEqual(bi.arch_arm, { sve_vl: 'hw', nr_spis: 64 });
    assert.deepEqual([bi.bootloader_restrict, bi.bootloader_user], ['True', 'xenbl']);
    assert.deepEqual(
      nics.map((n: { vlan?: string }) => n.vlan),
      ['10', '20/30'],
    );
    assert.deepEqual(virtios, [
      { devid: 0, backend_domname: '0', type: 'virtio,device22', transport: 'mmio', grant_usage: 'True' },
      { devid: 1, type: 'virtio,device1a', backend_domname: 'dom0' },
      { devid: 2, type: 'other', grant_usage: 'False' },
    ]);
    assert.deepEqual(b.warnings, []);
    assert.deepEqual(a.warnings, [
      "unrecognized argument `vlan=10'",
      "unrecognized argument `vlan=20/30'",
      ...['virtio', 'llc_colors', 'bootloader_restrict', 'bootloader_user', 'sve', 'nr_spis'].map(
        (k, i) => `x.cfg:${i + 7}: warning: unknown key \`${k}' (xl 4.17 ignores it silently)`,
      ),
    ]);
  });

  it('xen420-hvm-keys.cfg: 4.20 adds hvm_pirq and smbios, and no longer says "got a tsc mode string"', function () {
    const [a, b] = (['4.17', '4.20'] as const).map((v) => parse(fixture('xen420-hvm-keys.cfg'), v));
    assert.deepEqual(diffPaths(a.config, b.config), ['b_info.type.hvm.pirq', 'b_info.type.hvm.smbios']);
    assert.equal(a.warnings[0], 'got a tsc mode string: "native"');
    assert.deepEqual(b.warnings, []);
  });

  it("xen420-split-pairs.cfg: 4.20's channels have no devid and keep what follows a second '='; a p9 entry inherits nothing", function () {
    const [a, b] = (['4.17', '4.20'] as const).map((v) => parse(fixture('xen420-split-pairs.cfg'), v).config);
    assert.deepEqual(diffPaths(a, b), [
      'channels.0.devid',
      'channels.0.name',
      'channels.1.connection.socket.path',
      'channels.1.devid',
      'p9s.1.path',
      'p9s.1.security_model',
    ]);
    assert.deepEqual(a.channels, [
      { devid: 0, name: 'org.x', 'connection.pty': {} },
      { devid: 1, 'connection.socket': { path: '/run/a' } },
    ]);
    assert.deepEqual(b.channels, [{ name: 'org.x=y', 'connection.pty': {} }, { 'connection.socket': { path: '/run/a=b' } }]);
  });

  it("the fixtures without 4.20's keys give the same config for both, but for channels and pvgrub's directory", function () {
    for (const f of fs.readdirSync(FIXTURES).filter((f) => !f.startsWith('xen420-'))) {
      const text = fixture(f).replace(/^uuid\s*=.*$/m, '');
      const opts = { cpuLayout: { nrCpus: 8, cpusOfNode: (n: number) => (n === 0 ? [0, 1, 2, 3] : undefined) } };
      let a;
      try {
        a = parse(text, '4.17', opts).config;
      } catch (e) {
        // A fixture that needs more of the host: the same refusal from both.
        assert.throws(() => parse(text, '4.20', opts), { message: (e as Error).message });
        continue;
      }
      const b = parse(text, '4.20', opts).config;
      const diff = diffPaths(a, b).filter((p) => !/^channels\.\d+\.devid$/.test(p));
      assert.deepEqual(diff, /firmware = "pvgrub/.test(text) ? ['b_info.kernel'] : [], f);
    }
  });

  it('firmware = "pvgrub64": the pvgrub image under each version\'s XENFIRMWAREDIR', function () {
    for (const xen of ['4.17', '4.20'] as const) {
      for (const type of ['pv', 'pvh']) {
        const { config } = parse(`name = "g"\ntype = "${type}"\nfirmware = "pvgrub64"\n`, xen);
        assert.equal(config.b_info?.kernel, `/usr/lib/xen-${xen}/boot/pvgrub64.bin`);
      }
    }
  });

  it('tee = "ffa": a value 4.20 knows', function () {
    assert.equal(
      refusal(() => pv('tee = "ffa"', '4.17')),
      'Unknown tee "ffa" specified',
    );
    assert.equal(pv('tee = "FFA"', '4.20').config.b_info?.tee, 'ffa' as never);
    assert.equal(
      refusal(() => pv('tee = "tz"', '4.20')),
      'Unknown tee "tz" specified',
    );
  });

  it("p9 in 4.20: type, limits, auto-delete, no required field, xen_9pfsd's default path, 4.20's messages", function () {
    assert.equal(
      refusal(() => parse(fixture('xen420-p9-types.cfg'), '4.17')),
      "Unknown string `type' in 9pfs spec",
    );
    assert.deepEqual(parse(fixture('xen420-p9-types.cfg'), '4.20').config.p9s, [
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
    ] as never);
    assert.equal(
      refusal(() => pv('p9 = [ "tag=a" ]', '4.17')),
      '9pfs spec missing required field!',
    );
    assert.deepEqual(pv('p9 = [ "tag=a", "security_model=none" ]', '4.20').config.p9s, [
      { tag: 'a' },
      { security_model: 'none' },
    ]);
    assert.equal(
      refusal(() => pv('p9 = [ "tag=a", ",," ]', '4.20')),
      'p9 spec ",," without a key=value: xl 4.20 crashes on it',
    );
    assert.equal(
      refusal(() => pv('p9 = [ "tag=a,path" ]', '4.20')),
      'failed to parse 9pfs configuration: path',
    );
    assert.equal(
      refusal(() => pv('p9 = [ "tag=a,path=" ]', '4.20')),
      'failed to parse 9pfs configuration: path=',
    );
    assert.equal(
      refusal(() => pv('p9 = [ "tag=a,foo=1" ]', '4.20')),
      "Unknown 9pfs parameter 'foo'",
    );
    assert.equal(
      refusal(() => pv('p9 = [ "type=xen" ]', '4.20')),
      'failed to parse 9pfs type: xen',
    );
    assert.equal(
      refusal(() => pv('p9 = [ "max-files=x" ]', '4.20')),
      'xl: failed to convert "x" to number',
    );
    // A path given wins over the default; max-* land in an int.
    assert.deepEqual(pv('p9 = [ "type=xen_9pfsd, path = /p ,max-space=4294967295" ]', '4.20').config.p9s, [
      { type: 'xen_9pfsd', path: '/p', max_space: -1 },
    ] as never);
  });

  it("virtio in 4.20: the type's comma, the keys, and what xl refuses", function () {
    assert.deepEqual(pv('virtio = [ "type=virtio,mmio , transport=MMIO" ]', '4.20').config.virtios as unknown, [
      { devid: 0, type: 'virtio,mmio ', transport: 'mmio' },
    ]);
    assert.equal(
      refusal(() => pv('virtio = [ "foo=1" ]', '4.20')),
      'Unknown string "foo=1" in virtio spec',
    );
    assert.match(
      refusal(() => pv('virtio = [ "transport=pci" ]', '4.20')),
      /^unknown virtio transport "pci" \(xl 4\.20 exits/,
    );
    assert.match(
      refusal(() => pv('virtio = [ "backend=0,type=virtio" ]', '4.20')),
      /type=virtio needs a ",<device>" part \(xl 4\.20 crashes/,
    );
    const one = pv('virtio = "type=x"', '4.20');
    assert.equal(one.config.virtios, undefined);
    assert.deepEqual(one.warnings, ["x.cfg:4: warning: parameter `virtio' is a single value but should be a list"]);
  });

  it("llc_colors in 4.20: ranges as sscanf reads them, and xl's refusals", function () {
    assert.deepEqual(
      pv('llc_colors = [ "+2-3", " 7", "0x9", "4-4" ]', '4.20').config.b_info?.llc_colors as unknown,
      [2, 3, 7, 0, 4],
    );
    assert.equal(
      refusal(() => pv('llc_colors = [ "x" ]', '4.20')),
      'xl: Invalid LLC color range: x',
    );
    assert.equal(
      refusal(() => pv('llc_colors = [ "5-3" ]', '4.20')),
      'xl: Start LLC color is greater than end: 5-3',
    );
    assert.match(
      refusal(() => pv('llc_colors = [ "0-4294967295" ]', '4.20')),
      /more than 65536 LLC colors/,
    );
    assert.equal(pv('llc_colors = [ ]', '4.20').config.b_info?.llc_colors, undefined);
  });

  it("smbios in 4.20 (HVM): key=value, types case-insensitive, at most 99 oem strings, xl's refusals", function () {
    assert.deepEqual(hvm('smbios = [ "OEM=a=b", "bios_vendor= x " ]', '4.20').config.b_info?.['type.hvm']?.smbios as unknown, [
      { key: 'oem', value: 'a=b' },
      { key: 'bios_vendor', value: ' x ' },
    ]);
    assert.equal(
      refusal(() => hvm('smbios = [ "oem" ]', '4.20')),
      `xl: failed to split "oem" at '='`,
    );
    assert.equal(
      refusal(() => hvm('smbios = [ "oem=" ]', '4.20')),
      'xl: empty value not allowed for smbios "oem="',
    );
    assert.equal(
      refusal(() => hvm('smbios = [ "cpu=1" ]', '4.20')),
      "xl: unknown smbios type 'cpu'",
    );
    assert.equal(
      refusal(() => hvm('smbios = "oem=1"', '4.20')),
      'xl: Unable to parse smbios options.',
    );
    const oems = (n: number) => `smbios = [ ${Array.from({ length: n }, (_, i) => `"oem=${i}"`).join(', ')} ]`;
    assert.equal(hvm(oems(99), '4.20').config.b_info?.['type.hvm']?.smbios?.length, 99);
    assert.equal(
      refusal(() => hvm(oems(100), '4.20')),
      'xl: smbios limited to 99 oem strings',
    );
    // Not read for a PV guest.
    assert.deepEqual(diffPaths(pv('smbios = [ "oem" ]', '4.20').config, pv('', '4.20').config), []);
  });

  it("bootloader_restrict: the file's, else xl.conf's (globals.bootloaderRestrict); hvm_pirq for HVM only", function () {
    const g = (text: string, bootloaderRestrict?: boolean) =>
      parse(`name = "g"\nbootloader = "pygrub"\n${text}\n`, '4.20', { globals: { bootloaderRestrict } }).config.b_info
        ?.bootloader_restrict;
    assert.equal(g(''), undefined);
    assert.equal(g('', true), 'True');
    assert.equal(g('', false), 'False');
    assert.equal(g('bootloader_restrict = 0', true), 'False');
    assert.equal(
      parse('name = "g"\nbootloader = "pygrub"\n', '4.17', { globals: { bootloaderRestrict: true } }).config.b_info
        ?.bootloader_restrict,
      undefined,
    );
    assert.equal(hvm('hvm_pirq = 1', '4.20').config.b_info?.['type.hvm']?.pirq, 'True');
    assert.deepEqual(diffPaths(pv('hvm_pirq = 1', '4.20').config, pv('', '4.20').config), []);
  });

  it('vif vlan=: a string for 4.20, "unrecognized argument" for 4.17', function () {
    assert.deepEqual(pv('vif = [ "vlan=1/2t" ]', '4.20').config.nics, [{ devid: 0, vlan: '1/2t' }] as never);
    const old = pv('vif = [ "vlan=1/2t" ]', '4.17');
    assert.deepEqual(old.config.nics, [{ devid: 0 }]);
    assert.deepEqual(old.warnings, ["unrecognized argument `vlan=1/2t'"]);
  });

  it("formatXlConfig: 4.20's fields only for xen '4.20'; what 4.20 parsed comes back", function () {
    const { config } = parse(fixture('xen420-pv-keys.cfg'), '4.20');
    assert.throws(
      () => formatXlConfig(config),
      (e: unknown) => e instanceof XenError && /cannot express config\.virtios/.test(e.message),
    );
    const text = formatXlConfig(config, { xen: '4.20' });
    assert.match(text, /^virtio = \[ "backend=0,type=virtio,device22,transport=mmio,grant_usage=1", /m);
    assert.deepEqual(parseXlConfig(text, { xen: '4.20' }).config, config);
    const ch = parse('name = "g"\nkernel = "/k"\nchannel = [ "connection=pty" ]\n', '4.20').config;
    assert.throws(() => formatXlConfig(ch), /channels\[0\] with devid -1/);
    const bad = { ...config, virtios: [{ devid: 0, type: 'virtio' }] } as never;
    assert.throws(() => formatXlConfig(bad, { xen: '4.20' }), /virtios\[0\]\.type "virtio"/);
    assert.throws(() => formatXlConfig(config, { xen: '4.19' as never }), /xen is '4\.17' or '4\.20'/);
  });

  it("iomem: a hex number beyond 64 bits is ULLONG_MAX, as glibc's sscanf stores it; it round-trips (a fuzz counterexample of 2026-12-07)", function () {
    const text = `name = "x"\nkernel = "/boot/vmlinuz"\niomem = [ "${'fe'.repeat(150)}000,2", "f0000,10@e0000" ]\n`;
    for (const xen of XL_VERSIONS) {
      const { config } = parseXlConfig(text, { xen });
      assert.deepEqual(config.b_info?.iomem, [
        { start: 2 ** 64, number: 2 },
        { start: 0xf0000, number: 0x10, gfn: 0xe0000 },
      ]);
      assert.deepEqual(parseXlConfig(formatXlConfig(config, { xen }), { xen }).config.b_info?.iomem, config.b_info?.iomem);
    }
  });
});
