// Configurations against the running libxl's Xen version: what only another version's libxl
// has is refused (libxl's JSON parser would silently drop it), naming the field.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkConfigVersion, typesVersionFor } from '../../src/core/domain-config';
import { libxlVersionFromMaps } from '../../src/core/native';
import { XenError } from '../../src';
import type { DomainConfig } from '../../src/generated/libxl-types';
import { VALUE_VERSIONS } from '../../src/generated/libxl-versions';

// Compiled tests live in out/test/unit.
const ROOT = path.resolve(__dirname, '../../..');

/** The generator's merged model, enough of it to build configurations from. */
type Type =
  | { kind: 'prim'; ts: string }
  | { kind: 'named'; ts: string; cname: string }
  | { kind: 'array'; elem: Type }
  | { kind: 'object'; members: Member[] };
type Member =
  | { kind: 'prop'; key: string; type: Type }
  | { kind: 'skip'; name: string }
  | { kind: 'keyed'; keyvar: string; options: { str: string; members: Member[] | null }[] };
type Item = { kind: 'enum'; name: string; values: { str: string }[] } | { kind: 'struct'; name: string; members: Member[] };
interface GenTypes {
  model(headers: Record<string, string>): { items: Item[] };
  readHeaders(dir: string): Record<string, string>;
}
const importEsm = new Function('p', 'return import(p)') as (p: string) => Promise<unknown>;

const base: DomainConfig = { c_info: { name: 'g', type: 'hvm' }, b_info: { max_memkb: 1024 } };

function refusal(config: DomainConfig, version: string): XenError {
  try {
    checkConfigVersion(config, version, 'create domain "g"');
  } catch (e) {
    assert.ok(e instanceof XenError, String(e));
    return e;
  }
  assert.fail(`accepted on Xen ${version}: ${JSON.stringify(config)}`);
}

describe('domain config checks against the Xen version of libxl', function () {
  const only420: [DomainConfig, string][] = [
    [{ ...base, b_info: { llc_colors: [0, 1] } }, 'b_info.llc_colors'],
    [{ ...base, b_info: { bootloader_user: 'nobody' } }, 'b_info.bootloader_user'],
    [{ ...base, b_info: { 'type.hvm': { smbios: [{ key: 'oem', value: 'x' }] } } }, 'b_info.type.hvm.smbios'],
    [{ ...base, b_info: { 'type.hvm': { pirq: 'True' } } }, 'b_info.type.hvm.pirq'],
    [{ ...base, b_info: { arch_arm: { nr_spis: 32 } } }, 'b_info.arch_arm.nr_spis'],
    [{ ...base, disks: [{ vdev: 'xvda' }, { vdev: 'xvdb', grant_usage: 'True' }] }, 'disks[1].grant_usage'],
    [{ ...base, nics: [{ vlan: '10' }] }, 'nics[0].vlan'],
    [{ ...base, p9s: [{ tag: 't', max_files: 10 }] }, 'p9s[0].max_files'],
    [{ ...base, virtios: [{ type: 'virtio,device22' }] }, 'virtios'],
  ];

  it('refuses a field only Xen 4.20 has on Xen 4.17, naming its path', function () {
    for (const [config, where] of only420) {
      const e = refusal(config, '4.17');
      assert.equal(e.code, 'ERR_XEN_VERSION');
      assert.equal(e.op, 'create domain "g"');
      assert.equal(
        e.message,
        `create domain "g": ${where} needs Xen 4.20, but this host's libxl is Xen 4.17's, which would silently ignore it`,
      );
    }
  });

  it('refuses an enum value only Xen 4.20 has on Xen 4.17 (matched case-insensitively, as libxl does)', function () {
    for (const tee of ['ffa', 'FFA'] as const) {
      const e = refusal({ ...base, b_info: { tee: tee as 'ffa' } }, '4.17');
      assert.equal(e.code, 'ERR_XEN_VERSION');
      assert.match(e.message, new RegExp(`b_info\\.tee = "${tee}" \\(libxl_tee_type\\) needs Xen 4\\.20`));
    }
    checkConfigVersion({ ...base, b_info: { tee: 'optee' } }, '4.17', 'op');
    checkConfigVersion({ ...base, b_info: { tee: 'ffa' } }, '4.20', 'op');
  });

  it('accepts the same fields on Xen 4.20 and later', function () {
    for (const [config] of only420) {
      checkConfigVersion(config, '4.20', 'op');
      checkConfigVersion(config, '4.21', 'op');
    }
  });

  it('checks a version between two known ones as the older, and says so', function () {
    assert.equal(typesVersionFor('4.17'), '4.17');
    assert.equal(typesVersionFor('4.19'), '4.17');
    assert.equal(typesVersionFor('4.20'), '4.20');
    assert.equal(typesVersionFor('4.22'), '4.20');
    assert.equal(typesVersionFor('4.16'), '4.17');
    const e = refusal(only420[0][0], '4.19');
    assert.match(e.message, /b_info\.llc_colors needs Xen 4\.20, but this host's libxl is Xen 4\.19's \(checked as 4\.17's/);
  });

  it("accepts every field and enum value of Xen 4.17's libxl_domain_config on 4.17 and 4.20", async function () {
    const gen = (await importEsm(pathToFileURL(path.join(ROOT, 'scripts', 'gen-types.mjs')).href)) as GenTypes;
    const headers = gen.readHeaders(path.join(ROOT, 'scripts', 'libxl-headers'));
    const items = new Map(gen.model({ '4.17': headers['4.17'] }).items.map((it) => [it.name, it]));
    // Configurations with every member of every struct libxl_domain_config leads to; the k-th
    // takes the k-th variant of each keyed union and the k-th value of each enum (modulo).
    let widest = 0;
    const value = (type: Type, k: number): unknown => {
      if (type.kind === 'array') return [value(type.elem, k)];
      if (type.kind === 'object') return object(type.members, k);
      if (type.kind === 'prim') return type.ts === 'string' ? 'x' : type.ts === 'number' ? 1 : null;
      const it = items.get(type.cname)!;
      if (it.kind === 'struct') return object(it.members, k);
      widest = Math.max(widest, it.values.length);
      return it.values[k % it.values.length].str;
    };
    const object = (members: Member[], k: number): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const m of members) {
        if (m.kind === 'prop') out[m.key] = value(m.type, k);
        else if (m.kind === 'keyed') {
          widest = Math.max(widest, m.options.length);
          const o = m.options[k % m.options.length];
          out[`${m.keyvar}.${o.str}`] = o.members ? object(o.members, k) : {};
        }
      }
      return out;
    };
    const root = items.get('libxl_domain_config')!;
    assert.equal(root.kind, 'struct');
    let count = 0;
    for (let k = 0; k === 0 || k < widest; k++) {
      const config = object((root as { members: Member[] }).members, k) as DomainConfig;
      assert.ok(config.b_info && config.disks && config.c_info, 'the configuration has every member');
      for (const v of ['4.17', '4.20']) checkConfigVersion(config, v, 'op');
      count++;
    }
    assert.ok(count >= 4, `${count} configurations`);
    // And no value of a 4.17 enum is listed as missing from 4.17.
    for (const it of items.values()) {
      if (it.kind !== 'enum') continue;
      for (const v of it.values) {
        const versions = VALUE_VERSIONS[it.name]?.[v.str];
        assert.ok(!versions || versions.includes('4.17'), `${it.name} ${v.str}`);
      }
    }
  });

  it("finds the running libxl's version in /proc/self/maps", function () {
    const maps = [
      '7f0e1c000000-7f0e1c021000 r--p 00000000 fe:01 1311 /usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17.0',
      '7f0e1c200000-7f0e1c2a1000 r-xp 00021000 fe:01 1312 /usr/lib/x86_64-linux-gnu/libxenlight.so.4.20.0',
    ].join('\n');
    assert.equal(libxlVersionFromMaps(maps), '4.20');
    assert.equal(libxlVersionFromMaps('7f0e-7f0f r--p 0 fe:01 1 /usr/lib64/libxenlight.so.4.17'), '4.17');
    assert.equal(libxlVersionFromMaps('7f0e-7f0f r--p 0 fe:01 1 /usr/lib/libxlutil.so.4.17.0'), undefined);
  });
});
