// xl.cfg syntax, warnings and the formatXlConfig round trip, without Xen. The expected error
// messages are the ones xl 4.17 printed for the same files in the box (test/xen/07-xlcfg
// checks every fixture against xl itself).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { formatXlConfig, parseXlConfig, quoteXlString, XenError, XL_VERSIONS } from '../../src';
import type { CpuLayout } from '../../src';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const layout: CpuLayout = { nrCpus: 8, cpusOfNode: (n) => (n === 0 ? [0, 1, 2, 3] : n === 1 ? [4, 5, 6, 7] : undefined) };

const parse = (text: string) => parseXlConfig(text, { path: 'x.cfg', cpuLayout: layout });
const pv = (extra: string) => parse(`name = "g"\nkernel = "/k"\n${extra}\n`);

function syntaxError(text: string): string {
  try {
    parse(text);
  } catch (e) {
    assert.ok(e instanceof XenError, String(e));
    assert.equal(e.code, 'ERR_XLCFG_SYNTAX');
    return e.message;
  }
  assert.fail('parsed');
}

describe('xl.cfg syntax (libxlutil 4.17)', function () {
  // [fixture, xl 4.17's message for it as x.cfg]
  const xlMessages: [string, string][] = [
    ['string-plus', "x.cfg:1: config parsing error near `+': lexical error"],
    ['missing-equals', "x.cfg:3: config parsing error near `64': syntax error, unexpected NUMBER, expecting += or '='"],
    ['unterminated', 'x.cfg:2: config parsing error near `"/k\': lexical error'],
    ['bad-escape', 'x.cfg:2: config parsing error near `"/k\\q"\': invalid character after backlash in quoted string'],
    [
      'bad-hex-escape',
      'x.cfg:3: config parsing error near `"\\x4"\': invalid digit after backslash hexnumerical character escape in quoted string',
    ],
    ['list-plus-string', 'x.cfg:4: config parsing error near `"b"\': can\'t add [list] to "string" or vice versa'],
    ['uppercase-key', "x.cfg:4: config parsing error near `Memory': lexical error"],
    ['unclosed-list', "x.cfg:4: config parsing error near `': syntax error, unexpected $end, expecting ']'"],
    ['double-equals', "x.cfg:4: config parsing error near `=': syntax error, unexpected '=', expecting STRING or NUMBER or '['"],
    ['two-on-a-line', "x.cfg:3: config parsing error near `vcpus': syntax error, unexpected IDENT, expecting $end"],
    ['python', "x.cfg:1: config parsing error near `os': syntax error, unexpected IDENT, expecting += or '='"],
    [
      'stray-bracket',
      "x.cfg:4: config parsing error near `]': syntax error, unexpected ']', expecting $end or IDENT or NEWLINE or ';'",
    ],
    ['extra-bracket', "x.cfg:3: config parsing error near `]': syntax error, unexpected ']', expecting $end"],
    [
      'value-missing',
      "x.cfg:2: config parsing error near <newline>: syntax error, unexpected NEWLINE, expecting STRING or NUMBER or '['",
    ],
    ['comment-at-eof', "x.cfg:2: config parsing error near `#': lexical error"],
    ['two-values', "x.cfg:3: config parsing error near `3': syntax error, unexpected NUMBER, expecting $end"],
  ];
  for (const [name, message] of xlMessages) {
    it(`${name}.cfg: xl's message, file and line`, function () {
      assert.equal(syntaxError(fs.readFileSync(path.join(FIXTURES, 'xlcfg-bad', `${name}.cfg`), 'utf8')), message);
    });
  }

  it('a negative number is a lexical error (xl: "near `-3600\': lexical error"); quoted, it is a number', function () {
    assert.equal(
      syntaxError('name = "g"\nrtc_timeoffset = -3600\n'),
      "x.cfg:2: config parsing error near `-3600': lexical error",
    );
    assert.equal(pv('rtc_timeoffset = "-3600"').config.b_info?.rtc_timeoffset, 2 ** 32 - 3600);
  });

  it('"a" + "b" is refused, with libxlutil\'s Python hint in the details', function () {
    assert.throws(
      () => parse('name = "a" + "b"\n'),
      (e: unknown) =>
        e instanceof XenError &&
        e.code === 'ERR_XLCFG_SYNTAX' &&
        /near `\+': lexical error/.test(e.message) &&
        e.details.some((l) => /Python/.test(l)),
    );
  });

  it('numbers: decimal, hex and (strtol base 0) octal; quoted or not', function () {
    const b = pv('memory = 0x80\nmaxmem = "010"\nvcpus = 3').config.b_info!;
    assert.equal(b.target_memkb, 128 * 1024);
    assert.equal(b.max_memkb, 8 * 1024);
    assert.equal(b.max_vcpus, 3);
  });

  it('escapes as libxlutil dequotes them: named ones kept, numeric ones checked and dropped', function () {
    const { config } = parse(fs.readFileSync(path.join(FIXTURES, 'xlcfg', 'escapes.cfg'), 'utf8'));
    assert.equal(config.b_info?.cmdline, 'a\tb "quoted" it\'s back\\slash A bell\x07 nl\n');
    assert.equal(config.b_info?.ramdisk, '/boot/intrd');
    assert.match(syntaxError('name = "\\x41"\n'), /invalid digit after backslash hexnumerical character escape/);
  });

  it('lists over several lines with comments and trailing commas; ";" separators', function () {
    const { config } = parse(fs.readFileSync(path.join(FIXTURES, 'xlcfg', 'multiline-comments.cfg'), 'utf8'));
    assert.equal(config.disks?.length, 2);
    assert.deepEqual(
      config.nics?.map((n) => n.bridge),
      ['xenbr0', 'xenbr1'],
    );
    assert.equal(config.b_info?.target_memkb, 96 * 1024);
    assert.deepEqual(pv('vif = [ ]').config.nics, undefined);
  });

  it('+= appends to strings and lists, and starts a value that was not there', function () {
    const { config } = parse(fs.readFileSync(path.join(FIXTURES, 'xlcfg', 'plus-equals.cfg'), 'utf8'));
    assert.equal(config.b_info?.cmdline, 'console=hvc0 quiet loglevel=3');
    assert.deepEqual(
      config.disks?.map((d) => d.vdev),
      ['xvda', 'xvdb'],
    );
    assert.deepEqual(
      config.nics?.map((n) => n.bridge),
      ['xenbr0'],
    );
  });

  it('the last assignment of a key wins', function () {
    assert.equal(pv('memory = 64\nmemory = 96').config.b_info?.target_memkb, 96 * 1024);
  });

  it("a comment on the last line without a newline is a lexical error, as in flex's rules", function () {
    assert.equal(syntaxError('name = "g" # c'), "x.cfg:1: config parsing error near `#': lexical error");
  });
});

describe('xl.cfg keys (parse_config_data 4.17)', function () {
  it('an unknown key is a warning naming the key and its line (xl 4.17 is silent)', function () {
    assert.deepEqual(pv('\nfrobnicate = 1').warnings, [
      "x.cfg:4: warning: unknown key `frobnicate' (xl 4.17 ignores it silently)",
    ]);
  });

  it("libxlutil's warnings: a list for a number, += on a number", function () {
    const r = pv('memory = [ 1 ]\nvcpus += 2');
    assert.deepEqual(r.warnings, [
      "x.cfg:3: warning: parameter `memory' is a list but should be a single value",
      "x.cfg:4: warning: can't use += with numbers for parameter `vcpus'",
    ]);
    assert.equal(r.config.b_info?.target_memkb, undefined);
    assert.equal(r.config.b_info?.max_vcpus, undefined);
  });

  it("what xl refuses is refused with xl's message (ERR_INVALID_ARG)", function () {
    for (const [text, re] of [
      ['name = "g"\nmemory = 64\n', /Neither kernel nor bootloader specified/],
      ['kernel = "/k"\n', /Domain name must be specified/],
      ['name = "g"\nkernel = "/k"\non_crash = "explode"\n', /Unknown on_crash action "explode" specified/],
      ['name = "g"\nkernel = "/k"\nvcpus = 4\nmaxvcpus = 2\n', /maxvcpus < vcpus/],
      ['name = "g"\nkernel = "/k"\ndisk = [ "phy:/dev/x" ]\n', /no vdev specified/],
      ['name = "g"\nkernel = "/k"\nvif = [ "rate=10Qb/s" ]\n', /invalid rate/],
      ['name = "g"\nkernel = "/k"\npci = [ "zz:00.0" ]\n', /unable to parse PCI_SPEC_STRING `zz:00.0'/],
      ['name = "g"\ntype = "hvm"\ntimer_mode = "sometimes"\n', /invalid value "sometimes" for "timer_mode"/],
    ] as [string, RegExp][]) {
      assert.throws(
        () => parse(text),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && re.test(e.message),
        text,
      );
    }
  });

  it('CPU lists: "all" and "node:" need the host layout; numbers do not', function () {
    assert.throws(
      () => parseXlConfig('name = "g"\nkernel = "/k"\nvcpus = 1\ncpus = "all"\n'),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && /cpuLayout/.test(e.message),
    );
    const b = pv('vcpus = 2\ncpus = "all,^1"\ncpus_soft = "node:1"').config.b_info!;
    assert.deepEqual(b.vcpu_hard_affinity, [
      [0, 2, 3, 4, 5, 6, 7],
      [0, 2, 3, 4, 5, 6, 7],
    ]);
    assert.deepEqual(b.vcpu_soft_affinity, [
      [4, 5, 6, 7],
      [4, 5, 6, 7],
    ]);
    assert.equal(b.numa_placement, 'False');
  });

  it('vnuma, vsnd and vdispl are refused as not implemented (ERR_UNSUPPORTED), not silently dropped', function () {
    assert.throws(
      () => pv('vnuma = [ [ "pnode=0", "size=64", "vcpus=0" ] ]'),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_UNSUPPORTED',
    );
  });

  it('without a uuid key, a fresh random UUID each time (as xl)', function () {
    const a = pv('').config.c_info!.uuid!;
    const b = pv('').config.c_info!.uuid!;
    assert.match(a, /^[0-9a-f-]{36}$/);
    assert.notEqual(a, b);
  });
});

// ---------------------------------------------------------------- round trip

const word = fc.stringMatching(/^[a-z0-9][a-z0-9._/-]{0,12}$/);
// Strings with everything xl.cfg strings can hold: quotes, backslashes, tabs, newlines, UTF-8.
const text = fc.string({ unit: fc.constantFrom(...'abcXYZ019 _-/.:=,\'"\\\t\n\r\x07é€'.split('')), maxLength: 16 });
const num = (min: number, max: number) => fc.integer({ min, max });
/** A number as xl.cfg may write it: decimal, hex, or quoted. */
const numText = (n: number) => fc.constantFrom(String(n), `0x${n.toString(16)}`, `"${n}"`);
const bool = fc.constantFrom('0', '1');
const actions = fc.constantFrom(
  'destroy',
  'restart',
  'rename-restart',
  'preserve',
  'coredump-destroy',
  'coredump-restart',
  'soft-reset',
);
const mac = fc
  .array(num(0, 255), { minLength: 6, maxLength: 6 })
  .map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));

const diskSpec = fc
  .record({
    vdev: fc.constantFrom('xvda', 'xvdb', 'hda', 'hdc', 'sdb'),
    kind: fc.constantFrom('phy', 'file', 'qcow2', 'keyword', 'cdrom', 'empty-cdrom'),
    target: fc.stringMatching(/^\/[a-z0-9._/-]{1,20}$/),
    rw: fc.boolean(),
    discard: fc.constantFrom('', 'discard', 'no-discard'),
  })
  .map(({ vdev, kind, target, rw, discard }) => {
    switch (kind) {
      case 'phy':
        return `phy:${target},${vdev},${rw ? 'w' : 'r'}`;
      case 'file':
        return `file:${target},${vdev},${rw ? 'w' : 'r'}`;
      case 'qcow2':
        return `tap:qcow2:${target},${vdev},${rw ? 'w' : 'r'}`;
      case 'keyword':
        return `vdev=${vdev}, format=raw, access=${rw ? 'rw' : 'ro'}${discard ? `, ${discard}` : ''}, target=${target}`;
      case 'cdrom':
        return `${target},raw,${vdev}:cdrom,r`;
      default:
        return `vdev=${vdev}, devtype=cdrom`;
    }
  });

const vifSpec = fc
  .record({
    mac: fc.option(mac),
    bridge: fc.option(word),
    ip: fc.option(fc.constantFrom('10.0.0.1', '10.0.0.1 10.0.0.2')),
    model: fc.option(fc.constantFrom('e1000', 'rtl8139')),
    type: fc.option(fc.constantFrom('vif', 'ioemu')),
    rate: fc.option(fc.constantFrom('10Mb/s', '1MB/s@20ms', '100Kb/s@500ms', '5Gb/s', '7B/s@3us')),
    mtu: fc.option(num(68, 9000)),
    trusted: fc.option(fc.constantFrom('trusted', 'untrusted')),
    vifname: fc.option(word),
  })
  .map((v) =>
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => (k === 'trusted' ? x : `${k}=${x}`))
      .join(', '),
  );

const pciSpec = fc
  .record({
    bus: num(0, 255),
    dev: num(0, 31),
    func: fc.option(num(0, 7)),
    slot: fc.option(num(1, 31)),
    permissive: fc.option(bool),
    seize: fc.option(bool),
  })
  .map((p) =>
    [
      `${p.bus.toString(16).padStart(2, '0')}:${p.dev.toString(16).padStart(2, '0')}.${p.func ?? '*'}${p.slot !== null ? `@${p.slot.toString(16)}` : ''}`,
      ...(p.permissive !== null ? [`permissive=${p.permissive}`] : []),
      ...(p.seize !== null ? [`seize=${p.seize}`] : []),
    ].join(','),
  );

/** An xl.cfg file as settings: [key, value text] pairs. */
const xlCfg = fc
  .record({
    type: fc.constantFrom('pv', 'pvh', 'hvm'),
    name: text.filter((s) => s.length > 0),
    uuid: fc.option(fc.uuid()),
    memory: fc.option(num(1, 1 << 20)),
    maxmem: fc.option(num(1, 1 << 20)),
    vcpus: fc.option(num(1, 8)),
    extraVcpus: num(0, 3),
    cpus: fc.option(
      fc.oneof(
        fc.constantFrom('all', '0-3', 'node:1', 'all,^0', '1,3'),
        fc.array(fc.constantFrom('0', '1-2', '7'), { minLength: 1, maxLength: 4 }),
      ),
    ),
    cpusSoft: fc.option(fc.constantFrom('2', 'nodes:0-1,^3')),
    sched: fc.option(fc.record({ cpu_weight: num(1, 65535), cap: num(0, 800), extratime: bool })),
    on: fc.record({ on_poweroff: fc.option(actions), on_reboot: fc.option(actions), on_crash: fc.option(actions) }),
    cmdline: fc.option(text),
    root: fc.option(text),
    extra: fc.option(text),
    ramdisk: fc.option(text),
    pool: fc.option(word),
    disks: fc.option(fc.array(diskSpec, { maxLength: 4 })),
    vifs: fc.option(fc.array(vifSpec, { maxLength: 4 })),
    pcis: fc.option(fc.array(pciSpec, { maxLength: 3 })),
    pciPermissive: fc.option(bool),
    bools: fc.record({
      acpi: fc.option(bool),
      localtime: fc.option(bool),
      nomigrate: fc.option(bool),
      hap: fc.option(bool),
      vpmu: fc.option(bool),
    }),
    hvm: fc.record({
      vnc: fc.option(bool),
      vnclisten: fc.option(fc.constantFrom('127.0.0.1', '0.0.0.0')),
      vncdisplay: fc.option(num(0, 99)),
      serial: fc.option(
        fc.oneof(fc.constantFrom('pty', 'none'), fc.array(fc.constantFrom('pty', 'file:/tmp/s'), { minLength: 1, maxLength: 2 })),
      ),
      boot: fc.option(fc.constantFrom('c', 'dc', 'n')),
      stdvga: fc.option(bool),
      videoram: fc.option(num(8, 64)),
      viridian: fc.option(fc.oneof(bool, fc.constantFrom(['defaults'], ['all'], ['base', '!freq']))),
      usbdevice: fc.option(fc.constantFrom('tablet', 'mouse')),
      soundhw: fc.option(fc.constantFrom('hda', 'ac97')),
      device_model_version: fc.option(fc.constantFrom('qemu-xen', 'qemu-xen-traditional')),
      tsc_mode: fc.option(fc.constantFrom('default', 'native', 'always_emulate')),
    }),
    vfb: fc.option(
      fc.array(fc.constantFrom('vnc=1,vncdisplay=3', 'sdl=1,opengl=0', 'vnc=0', ''), { minLength: 1, maxLength: 2 }),
    ),
    channels: fc.option(
      fc.array(fc.constantFrom('name=a,connection=pty', 'name=b, connection=socket, path=/run/x.sock'), { maxLength: 2 }),
    ),
    usbctrl: fc.option(fc.array(fc.constantFrom('type=qusb,version=2,ports=4', 'version=3', ''), { maxLength: 2 })),
    usbdev: fc.option(fc.array(fc.constantFrom('type=hostdev,hostbus=1,hostaddr=2', 'controller=0,port=1'), { maxLength: 2 })),
    ioports: fc.option(fc.array(fc.constantFrom('3f8-3ff', '2f8', '0x60-0x64'), { minLength: 1, maxLength: 2 })),
    irqs: fc.option(fc.array(fc.constantFrom('7', '10'), { minLength: 1, maxLength: 2 })),
    sep: fc.constantFrom('\n', ' ;\n', '\n# comment\n', ';'),
  })
  .chain((c) => {
    const lines: fc.Arbitrary<string>[] = [];
    const add = (k: string, v: fc.Arbitrary<string> | string) =>
      lines.push(typeof v === 'string' ? fc.constant(`${k} = ${v}`) : v.map((x) => `${k} = ${x}`));
    const list = (items: string[]) => `[ ${items.map(quoteXlString).join(',\n  ')}${items.length ? ',' : ''} ]`;
    add('type', quoteXlString(c.type));
    add('name', quoteXlString(c.name));
    if (c.uuid) add('uuid', quoteXlString(c.uuid));
    if (c.type !== 'hvm') add('kernel', quoteXlString('/boot/vmlinuz'));
    if (c.memory !== null) add('memory', numText(c.memory));
    if (c.maxmem !== null) add('maxmem', numText(c.maxmem));
    if (c.vcpus !== null) {
      add('vcpus', numText(c.vcpus));
      add('maxvcpus', numText(c.vcpus + c.extraVcpus));
      if (c.cpus !== null) add('cpus', typeof c.cpus === 'string' ? quoteXlString(c.cpus) : list(c.cpus));
      if (c.cpusSoft !== null) add('cpus_soft', quoteXlString(c.cpusSoft));
    }
    if (c.sched) for (const [k, v] of Object.entries(c.sched)) add(k, String(v));
    for (const [k, v] of Object.entries(c.on)) if (v !== null) add(k, quoteXlString(v));
    for (const k of ['cmdline', 'root', 'extra', 'ramdisk', 'pool'] as const) if (c[k] !== null) add(k, quoteXlString(c[k]!));
    if (c.disks) add('disk', list(c.disks));
    if (c.vifs) add('vif', list(c.vifs));
    if (c.pciPermissive !== null) add('pci_permissive', c.pciPermissive);
    if (c.pcis) add('pci', list(c.pcis));
    for (const [k, v] of Object.entries(c.bools)) if (v !== null) add(k, v);
    if (c.ioports) add('ioports', list(c.ioports));
    if (c.irqs) add('irqs', list(c.irqs));
    if (c.channels) add('channel', list(c.channels));
    if (c.type === 'hvm') {
      for (const [k, v] of Object.entries(c.hvm)) {
        if (v === null) continue;
        if (Array.isArray(v)) add(k, list(v));
        else add(k, /^\d+$/.test(String(v)) ? String(v) : quoteXlString(String(v)));
      }
      if (c.usbctrl) add('usbctrl', list(c.usbctrl));
      if (c.usbdev) add('usbdev', list(c.usbdev));
    } else if (c.type === 'pv' && c.vfb) add('vfb', list(c.vfb));
    return fc.tuple(...lines).map((ls) => ls.join(c.sep) + '\n');
  });

describe('formatXlConfig', function () {
  it("round-trips every fixture, for xl 4.17 and for xl 4.20 (each fixture that version's xl accepts)", function () {
    // xl 4.17 refuses these; the disk one goes to the addon's libxlutil, which is the host's:
    // 4.20's reads grant_usage=, 4.17's does not (whatever opts.xen says).
    const refused: Record<string, RegExp> = {
      'xen420-p9-types.cfg': /Unknown string `type' in 9pfs spec/,
      'xen420-tee-ffa.cfg': /Unknown tee "ffa" specified/,
      'xen420-disk-grant-usage.cfg': /disk specification: bad disk syntax/,
    };
    let trips = 0;
    for (const f of fs.readdirSync(path.join(FIXTURES, 'xlcfg'))) {
      const text = fs.readFileSync(path.join(FIXTURES, 'xlcfg', f), 'utf8');
      for (const xen of ['4.17', '4.20'] as const) {
        const p = (t: string) => parseXlConfig(t, { path: 'x.cfg', cpuLayout: layout, xen });
        let config;
        try {
          config = p(text).config;
        } catch (e) {
          const hostDisk = f === 'xen420-disk-grant-usage.cfg';
          assert.ok(xen === '4.17' || hostDisk, `${f} (${xen}): ${String(e)}`);
          assert.match((e as Error).message, refused[f] ?? /^$/, `${f} (${xen})`);
          continue;
        }
        assert.ok(xen === '4.20' || !refused[f] || f === 'xen420-disk-grant-usage.cfg', `${f}: xl 4.17 refuses it`);
        assert.deepStrictEqual(p(formatXlConfig(config, { xen })).config, config, `${f} (${xen})`);
        trips++;
      }
    }
    assert.ok(trips >= 2 * 48, `${trips} round trips`);
  });

  it('round-trips generated xl.cfg files (fast-check): parse → format → parse gives the same config', function () {
    this.timeout(60_000);
    fc.assert(
      fc.property(xlCfg, (cfgText) => {
        const first = parse(cfgText).config;
        const text = formatXlConfig(first);
        const again = parse(text).config;
        // Without a uuid key the parser generates one (as xl): the formatted text carries it.
        assert.deepStrictEqual(again, first, `${cfgText}\n--- formatted ---\n${text}`);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what xl.cfg cannot express instead of writing something else', function () {
    const base = pv('').config;
    for (const [bad, re] of [
      [{ ...base, b_info: { ...base.b_info, target_memkb: 1000, max_memkb: 1000 } }, /whole MiB/],
      [{ ...base, c_info: { ...base.c_info, domid: 5 } }, /c_info\.domid/],
      [{ ...base, disks: [{ vdev: 'xvda', pdev_path: '/x', format: 'raw', removable: 1, readwrite: 1 }] }, /removable/],
    ] as [object, RegExp][]) {
      assert.throws(
        () => formatXlConfig(bad as never),
        (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && re.test(e.message),
      );
    }
  });

  it('quotes strings with the escapes libxlutil understands', function () {
    assert.equal(quoteXlString('a"b\\c\n\t\'d'), '"a\\"b\\\\c\\n\\t\'d"');
    assert.equal(pv(`cmdline = ${quoteXlString('x"\\\n\r\t\x07\b\f\v\'é')}`).config.b_info?.cmdline, 'x"\\\n\r\t\x07\b\f\v\'é');
  });
});

// ---------------------------------------------------------------- fuzzing's findings (test/unit/fuzz.test.ts)

describe('xl.cfg: what fuzzing found', function () {
  const fast = <T>(fn: () => T): T => {
    const t0 = performance.now();
    const r = fn();
    assert.ok(performance.now() - t0 < 1000, `took ${(performance.now() - t0).toFixed(0)} ms`);
    return r;
  };
  const refused = (text: string, re: RegExp) =>
    assert.throws(
      () => fast(() => parse(text)),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && re.test(e.message),
    );
  const roundTrips = (text: string) => {
    const { config } = parse(text);
    assert.deepStrictEqual(parse(formatXlConfig(config)).config, config, formatXlConfig(config));
    return config;
  };

  it('a \\r, U+2028 or U+2029 in a comment or a string is what flex\'s "." takes (was: a lexical error)', function () {
    assert.equal(parse('# a CRLF comment\r\nname = "g"\nkernel = "/k"\n').config.c_info?.name, 'g');
    assert.equal(pv('cmdline = "a\u2028b\rc" # \u2029\n').config.b_info?.cmdline, 'a\u2028b\rc');
    assert.equal(
      syntaxError('name = "a\\\r"\n'),
      'x.cfg:1: config parsing error near `"a\\\r"\': invalid character after backlash in quoted string',
    );
  });

  it('a NUL in a quoted string is a syntax error (xl aborts on an assertion; it was accepted)', function () {
    assert.equal(syntaxError('name = "g\0h"\n'), 'x.cfg:1: config parsing error near `"g\': NUL character in quoted string');
    assert.equal(
      syntaxError("name = 'g'\nkernel = '/k\0'\n"),
      "x.cfg:2: config parsing error near `'/k': NUL character in quoted string",
    );
  });

  it("xl's messages: yytext up to a NUL, a bad character at the end, a non-ASCII one (a lexical error: it was accepted)", function () {
    assert.equal(syntaxError('x\0yz = 1\n'), "x.cfg:1: config parsing error near `': lexical error");
    assert.equal(
      syntaxError('na}'),
      "x.cfg:1: config parsing error near `}': syntax error, unexpected $end, expecting += or '='",
    );
    assert.equal(syntaxError('name = "g" é'), "x.cfg:1: config parsing error near `é': lexical error");
    assert.equal(syntaxError('name = "g"\n€'), "x.cfg:2: config parsing error near `€': lexical error");
    // An ASCII bad character at the very end stays no error, as in xl.
    assert.equal(parse('name = "g"\nkernel = "/k"\nmemory = 64\n}').config.b_info?.target_memkb, 64 * 1024);
  });

  it('nesting: bison\'s 10000-entry stack ("memory exhausted" where xl says it; was: a RangeError)', function () {
    const nest = (n: number, open = '[') => pv(`x = ${open.repeat(n)}${']'.repeat(n)}`);
    assert.equal(fast(() => nest(4996)).warnings.length, 1); // the unknown key
    assert.throws(
      () => nest(4997),
      (e: unknown) =>
        e instanceof XenError &&
        e.code === 'ERR_XLCFG_SYNTAX' &&
        e.message === "x.cfg:3: config parsing error near `]': memory exhausted",
    );
    assert.doesNotThrow(() => nest(1999, '[1,'));
    assert.throws(() => nest(2000, '[1,'), /x\.cfg:3: config parsing error near `\[': memory exhausted/);
    assert.throws(
      () => fast(() => nest(200_000)),
      (e: unknown) => e instanceof XenError && /memory exhausted/.test(e.message),
    );
  });

  it('CPU numbers beyond 2^53 and ranges up to 2^64 - 2 take no time (were: endless loops)', function () {
    const b = fast(() => pv('vcpus = 2\ncpus = "9007199254740993"\ncpus_soft = "0-18446744073709551614"')).config.b_info!;
    assert.deepEqual(b.vcpu_hard_affinity, [[], []]);
    assert.deepEqual(b.vcpu_soft_affinity, [
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3, 4, 5, 6, 7],
    ]);
    // Without a layout, the bits no host can have (Xen has at most 16383 CPUs) are dropped.
    const noLayout = fast(() => parseXlConfig('name = "g"\nkernel = "/k"\nvcpus = 1\ncpus = "16380-18446744073709551614"\n'))
      .config.b_info!;
    assert.deepEqual(noLayout.vcpu_hard_affinity, [[16380, 16381, 16382, 16383]]);
  });

  it('vCPUs: more than Xen\'s 8192 are refused, and "maxvcpus < vcpus" comes first (were: endless loops)', function () {
    refused('name = "g"\nkernel = "/k"\nvcpus = 2147483647\n', /2147483647 vCPUs \(vcpus\): Xen gives a domain at most 8192/);
    refused('name = "g"\nkernel = "/k"\nvcpus = 2\nmaxvcpus = 100000\ncpus = "all"\n', /100000 vCPUs \(maxvcpus\)/);
    refused('name = "g"\nkernel = "/k"\nvcpus = 4294967297\n', /maxvcpus < vcpus/);
    const b = fast(() => pv('vcpus = 8192\ncpus = "all"')).config.b_info!;
    assert.equal(b.avail_vcpus?.length, 8192);
    assert.equal(b.vcpu_hard_affinity?.length, 8192);
  });

  it('bootloader_args = "" (or blanks) is refused: xl 4.17 crashes on it (was: accepted)', function () {
    refused('name = "g"\nbootloader = "pygrub"\nbootloader_args = ""\n', /"bootloader_args" is a string without an argument/);
    refused('name = "g"\nbootloader = "pygrub"\nbootloader_args = " \\t "\n', /bootloader_args/);
    assert.deepEqual(parse('name = "g"\nbootloader = "pygrub"\nbootloader_args = "-q  --x"\n').config.b_info?.bootloader_args, [
      '-q',
      '--x',
    ]);
  });

  it('formatXlConfig writes what the parser gives: negative numbers, empty and missing affinity maps, bare CPUID leaves', function () {
    assert.equal(
      roundTrips('name = "g"\nkernel = "/k"\nvmtrace_buf_kb = "-1"\nrtc_timeoffset = "-3600"\n').b_info?.vmtrace_buf_kb,
      -1,
    );
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\nvcpus = 2\ncpus = [ ]\n').b_info?.numa_placement, 'False');
    assert.deepEqual(roundTrips('name = "g"\nkernel = "/k"\nvcpus = 2\ncpus = "^0"\n').b_info?.vcpu_hard_affinity, [[], []]);
    assert.deepEqual(
      roundTrips('name = "g"\nkernel = "/k"\nvcpus = 3\ncpus = [ "1", "" ]\ncpus_soft = "2"\n').b_info?.vcpu_hard_affinity,
      [[1], []],
    );
    const cpuid = roundTrips('name = "g"\nkernel = "/k"\ncpuid = [ "0x1:", "7,0:eax=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1" ]\n').b_info
      ?.cpuid;
    assert.deepEqual((cpuid as { cpuid?: unknown[] } | undefined)?.cpuid?.[0], { leaf: 1 });
  });

  it('formatXlConfig writes what the parser gives: vfbs of HVM/PVH guests, an empty target, devid 4294967295, a target ending in ","', function () {
    assert.equal(roundTrips('name = "g"\ntype = "hvm"\nvfb = [ "vnc=1" ]\n').vfbs?.length, 1);
    assert.equal(roundTrips('name = "g"\ntype = "pvh"\nkernel = "/k"\nvfb = [ "sdl=1" ]\n').vfbs?.length, 1);
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\ndisk = [ ",,xvda" ]\n').disks?.[0].pdev_path, '');
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\nvif = [ "devid=4294967295" ]\n').nics?.[0].devid, -1);
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\ndisk = [ "vdev=xvda,target=/a,," ]\n').disks?.[0].pdev_path, '/a,');
  });

  it('formatXlConfig writes what the parser gives: a PCI device by name, format "empty" with a target, spaces starting a vif value', function () {
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\npci = [ "name=gpu0,vslot=3,permissive=1" ]\n').pcidevs?.[0].name, 'gpu0');
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\ndisk = [ "/x,empty,xvda" ]\n').disks?.[0].format, 'empty');
    assert.equal(roundTrips('name = "g"\nkernel = "/k"\nvif = [ "script=  vif-x, bridge= br" ]\n').nics?.[0].script, '  vif-x');
    // A channel's values lose their blanks in xl: those are refused.
    const { config } = parse('name = "g"\nkernel = "/k"\nchannel = [ "name=a,connection=pty" ]\n');
    assert.throws(
      () => formatXlConfig({ ...config, channels: [{ ...config.channels![0], name: ' a' }] }),
      /blanks around a channel name/,
    );
    // Found by the fuzzer: in 4.17 "path = = /x" gives an empty path, which "path=" cannot say (xl
    // refuses a pair with nothing after '='); it is written "path= ". And 4.17 cuts a value at a second '='.
    for (const xen of XL_VERSIONS) {
      const p = (t: string) => parseXlConfig(t, { path: 'x.cfg', cpuLayout: layout, xen });
      const empty = p('name = "g"\nkernel = "/k"\nchannel = [ "connection=socket ,path = = /run/a" ]\n').config;
      // 4.17 (strtok) keeps the piece between the first two '=', 4.20 all after the first.
      assert.deepEqual(empty.channels?.[0]['connection.socket'], { path: xen === '4.17' ? '' : '= /run/a' }, xen);
      assert.deepStrictEqual(p(formatXlConfig(empty, { xen })).config, empty, xen);
    }
    const sock = parse('name = "g"\nkernel = "/k"\nchannel = [ "connection=socket,path=/run/a" ]\n').config;
    const withEq = { ...sock, channels: [{ ...sock.channels![0], 'connection.socket': { path: '/run/a=b' } }] };
    assert.throws(() => formatXlConfig(withEq, { xen: '4.17' }), /a "=" in a channel path \(xl 4\.17 cuts the value there\)/);
    assert.match(
      formatXlConfig({ ...withEq, channels: [{ ...withEq.channels[0], devid: undefined }] }, { xen: '4.20' }),
      /path=\/run\/a=b/,
    );
  });

  it('"__proto__", "constructor" and the like are no shutdown action, vga or vkb key (were: Object.prototype\'s members)', function () {
    refused('name = "g"\nkernel = "/k"\non_watchdog = "__proto__"\n', /Unknown on_watchdog action "__proto__" specified/);
    refused('name = "g"\nkernel = "/k"\non_crash = "constructor"\n', /Unknown on_crash action "constructor"/);
    refused('name = "g"\ntype = "hvm"\nvga = "toString"\n', /Unknown vga "toString" specified/);
    refused(
      'name = "g"\nkernel = "/k"\nvkb = [ "backend-type=qemu,constructor=1" ]\n',
      /Unknown string "constructor=1" in vkb spec/,
    );
  });

  it("an I/O port range that ends before it starts is xl's 32-bit wrap-around, and formatXlConfig writes it back", function () {
    // xl 4.17 compares the start with itself, not with the end: "3f8-2ff" is 2^32 - 248 ports.
    const config = roundTrips('name = "g"\nkernel = "/k"\nioports = [ "3f8-2ff", "ffff0000-ffff" ]\n');
    assert.deepEqual(config.b_info?.ioports, [
      { first: 0x3f8, number: 2 ** 32 - 248 },
      { first: 0xffff0000, number: 0x20000 },
    ]);
  });

  it('formatXlConfig refuses a disk target with a newline (target= stops there) instead of writing another disk', function () {
    const { config } = parse('name = "g"\nkernel = "/k"\ndisk = [ "\\r\\n/img,,xvda" ]\n');
    assert.equal(config.disks?.[0].pdev_path, '\r\n/img');
    assert.throws(
      () => formatXlConfig(config),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG' && /a newline in the target/.test(e.message),
    );
  });

  it('a disk spec with "=" then a newline is refused; libxlutil\'s lexer would exit the process ("flex scanner jammed")', function () {
    refused('name = "g"\nkernel = "/k"\ndisk = [ "/img,xvda,=\\n" ]\n', /bad disk syntax: near `='.*flex scanner jammed/s);
    // The same bytes where no rule leaves "=" at the start of a token are xl's business as usual.
    assert.equal(parse('name = "g"\nkernel = "/k"\ndisk = [ "vdev=xvda,target=/a,=\\n" ]\n').config.disks?.[0].pdev_path, '/a,=');
  });
});
