// Fuzzing of every parser (issue #10): the xl.cfg parser and its formatter, the device spec
// parsers (disk, vif, pci, usbctrl, usbdev through libxlutil in process), CPU lists and the
// libxl config check. Property-based (fast-check: arbitrary strings with NUL bytes and
// Unicode, huge numbers, deep nesting, long lines) and mutations of the fixture corpus (byte
// flips, insertions, deletions, splices of two fixtures, truncations). Each input must be
// accepted or refused with a typed XenError whose message names the input's problem, within
// 100 ms for inputs up to 4 KiB; what is accepted must round-trip through formatXlConfig.
// The native parsers run in this process: a crash there ends mocha, which fails `npm test`.
//
// The run is random: its seed is printed with the counts (fast-check also prints the seed and
// the shrunk input of a failure); XENLIGHT_FUZZ_SEED=<n> replays it. XENLIGHT_FUZZ_SCALE=<x>
// multiplies every numRuns (e.g. 10 for a longer local run).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { formatCpuList, formatXlConfig, parseCpuList, parseXlConfig, quoteXlString, XenError } from '../../src';
import { parseDeviceSpec } from '../../src/devices/devices';
import { XL_KEYS } from '../../src/xlcfg';
import type { CpuLayout, DeviceKind, XenErrorCode } from '../../src';
import { checkDomainConfig } from '../../src/core/domain-config';
import type { DomainConfig } from '../../src/generated/libxl-types';
import { parseXlSyntax } from '../../src/xlcfg/syntax';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const SEED =
  process.env.XENLIGHT_FUZZ_SEED !== undefined ? Number(process.env.XENLIGHT_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const SCALE = Number(process.env.XENLIGHT_FUZZ_SCALE ?? 1);
/** XENLIGHT_FUZZ_VERBOSE=1: also what formatXlConfig refused to write, and how often. */
const VERBOSE = !!process.env.XENLIGHT_FUZZ_VERBOSE;
const formatRefusals = new Map<string, number>();
/** A single input of up to 4 KiB that takes longer than this is a hang. */
const HANG_MS = 100;
const SMALL = 4096;

const layout: CpuLayout = { nrCpus: 8, cpusOfNode: (n) => (n === 0 ? [0, 1, 2, 3] : n === 1 ? [4, 5, 6, 7] : undefined) };

// ---------------------------------------------------------------- bookkeeping

interface Tally {
  inputs: number;
  accepted: number;
  rejected: number;
  /** Accepted inputs whose config went through formatXlConfig and back unchanged. */
  roundTrips: number;
  slowestMs: number;
}
const tallies = new Map<string, Tally>();
let slowestSmall = { ms: 0, parser: '', bytes: 0 };

function tally(parser: string): Tally {
  let t = tallies.get(parser);
  if (!t) tallies.set(parser, (t = { inputs: 0, accepted: 0, rejected: 0, roundTrips: 0, slowestMs: 0 }));
  return t;
}

const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

/** assert.ok with a message built only when it fails (the inputs are shown in full then). */
function ensure(cond: unknown, message: () => string): asserts cond {
  if (!cond) assert.fail(message());
}

function same(actual: unknown, expected: unknown, message: () => string): void {
  try {
    assert.deepStrictEqual(actual, expected);
  } catch (e) {
    assert.fail(`${message()}\n${(e as Error).message}`);
  }
}
const show = (s: string) => (s.length > 300 ? `${JSON.stringify(s.slice(0, 300))}… (${s.length} characters)` : JSON.stringify(s));

/**
 * Calls the parser once on one input, timed. A slow call is timed again (best of three more)
 * so that a garbage collection or the JIT is not taken for a hang.
 */
function timed<T>(parser: string, bytes: number, fn: () => T, what: () => string): { value?: T; error?: unknown } {
  const t = tally(parser);
  t.inputs++;
  let value: T | undefined;
  let error: unknown;
  let failed = false;
  const t0 = performance.now();
  try {
    value = fn();
  } catch (e) {
    error = e;
    failed = true;
  }
  let ms = performance.now() - t0;
  // Above a few ms, time it again, so that the slowest times reported are the parser's.
  for (let i = 0; i < 3 && ms > 5; i++) {
    const t1 = performance.now();
    try {
      fn();
    } catch {
      // the same outcome as above
    }
    ms = Math.min(ms, performance.now() - t1);
  }
  // Inputs beyond 4 KiB may take longer, in proportion (twice that): not quadratically.
  const limit = bytes <= SMALL ? HANG_MS : (2 * HANG_MS * bytes) / SMALL;
  ensure(
    ms <= limit,
    () => `hang: ${parser} took ${ms.toFixed(1)} ms (limit ${limit.toFixed(0)} ms) on a ${bytes}-byte input: ${what()}`,
  );
  t.slowestMs = Math.max(t.slowestMs, ms);
  if (bytes <= SMALL && ms > slowestSmall.ms) slowestSmall = { ms, parser, bytes };
  if (failed) t.rejected++;
  else t.accepted++;
  return failed ? { error } : { value };
}

/** A refusal: a XenError with one of `codes`, whose message starts with `prefix` and says more. */
function typedRefusal(parser: string, error: unknown, codes: readonly XenErrorCode[], prefix: RegExp, what: () => string): void {
  if (!(error instanceof XenError)) {
    const stack = error instanceof Error ? error.stack : String(error);
    assert.fail(`${parser}: not a XenError for ${what()}:\n${stack}`);
  }
  ensure(
    codes.includes(error.code),
    () => `${parser}: code ${error.code} (expected one of ${codes.join(', ')}) for ${what()}: ${error.message}`,
  );
  const m = prefix.exec(error.message);
  ensure(
    m && error.message.length > m[0].length + 3,
    () => `${parser}: the message does not name the problem for ${what()}: ${JSON.stringify(error.message)}`,
  );
}

let propertyIndex = 0;
/** fc.assert with this run's seed (one per property) and a scaled number of runs. */
function check<T>(arb: fc.Arbitrary<T>, numRuns: number, body: (x: T) => void): void {
  fc.assert(fc.property(arb, body), { seed: SEED + propertyIndex++, numRuns: Math.max(1, Math.round(numRuns * SCALE)) });
}

// ---------------------------------------------------------------- the corpus

const corpusFiles = ['xlcfg', 'xlcfg-bad'].flatMap((dir) =>
  fs
    .readdirSync(path.join(FIXTURES, dir))
    .sort()
    .map((f) => ({ name: `${dir}/${f}`, bytes: fs.readFileSync(path.join(FIXTURES, dir, f)) })),
);

/** The device spec strings of the fixtures (the items of their disk, vif, pci and usb lists). */
const SPEC_KEYS: Record<DeviceKind, string> = { disk: 'disk', nic: 'vif', pci: 'pci', usbctrl: 'usbctrl', usbdev: 'usbdev' };
const specCorpus: Record<DeviceKind, string[]> = { disk: [], nic: [], pci: [], usbctrl: [], usbdev: [] };
for (const f of corpusFiles) {
  const { settings } = parseXlSyntax(f.bytes.toString('utf8'), f.name);
  for (const [kind, key] of Object.entries(SPEC_KEYS) as [DeviceKind, string][]) {
    for (const s of settings) {
      if (s.name === key && s.value.kind === 'list') {
        for (const it of s.value.items) if (it.kind === 'string' && it.value) specCorpus[kind].push(it.value);
      }
    }
  }
}
specCorpus.usbdev.push('type=hostdev,hostbus=1,hostaddr=2', 'hostbus=3,hostaddr=4,controller=0,port=1');
specCorpus.usbctrl.push('type=qusb,version=2,ports=4', 'type=devicemodel,version=3');

const CPU_CORPUS = [
  '0',
  '0-3',
  '1,3,5-6',
  'all',
  'all,^1',
  'node:1',
  'nodes:0-1,^nodes:0',
  '0-7,^2-5',
  ' 2 , 1 ',
  '^1',
  'node:0,^0',
];

// ---------------------------------------------------------------- mutations

/** Bytes worth inserting: xl.cfg's tokens, its quirks, and the bytes no parser expects. */
const INTERESTING = [
  '=',
  '+=',
  '[',
  ']',
  ',',
  ';',
  '"',
  "'",
  '\\',
  '#',
  '\n',
  '\r\n',
  '\t',
  ' ',
  '0x',
  '-',
  '^',
  ':',
  '@',
  '.',
  '*',
  '\0',
  '\xff',
  '\x80',
  '9999999999999999999999',
  '18446744073709551615',
  '4294967296',
  '-1',
  '[[[[[[[[',
  ']]]]',
  '\\x41',
  '\\012',
  'name = "g"\n',
  'kernel = "/k"\n',
  'type = "hvm"\n',
  'vcpus = 8192\n',
  'cpus = "0-18446744073709551614"\n',
  '=\n',
  'target=',
  'vdev=',
  'é',
  '€',
  '😀',
  '\u2028',
].map((s) => (Buffer.from(s, 'latin1').length === s.length ? Buffer.from(s, 'latin1') : Buffer.from(s, 'utf8')));

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; what: number; random: number[] }
  | { op: 'delete'; at: number; len: number }
  | { op: 'splice'; at: number; other: number; from: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; at: number; len: number; times: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    what: fc.nat(),
    random: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ op: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('repeat' as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 16 }),
    times: fc.integer({ min: 2, max: 64 }),
  }),
);

/** Applies byte mutations; `others` are the inputs a splice takes its tail from. */
function mutate(input: Buffer, ms: Mutation[], others: Buffer[]): Buffer {
  let b = Buffer.from(input);
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    switch (m.op) {
      case 'flip':
        if (b.length) b[m.at % b.length] ^= 1 << m.bit;
        break;
      case 'insert': {
        const ins = m.random.length && m.what % 3 === 0 ? Buffer.from(m.random) : INTERESTING[m.what % INTERESTING.length];
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'splice': {
        const o = others[m.other % others.length];
        b = Buffer.concat([b.subarray(0, at), o.subarray(m.from % (o.length + 1))]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'repeat': {
        const piece = b.subarray(at, at + m.len);
        b = Buffer.concat([b.subarray(0, at), ...Array<Buffer>(m.times).fill(piece), b.subarray(at + m.len)]);
        break;
      }
    }
  }
  return b;
}

/** Text for the parsers: UTF-8 when the bytes are valid UTF-8, else one character per byte. */
function text(b: Buffer): string {
  const utf8 = b.toString('utf8');
  return Buffer.from(utf8, 'utf8').equals(b) ? utf8 : b.toString('latin1');
}

const corpusBuffers = corpusFiles.map((f) => f.bytes);
const mutatedFixture = fc
  .tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 5 }))
  .map(([i, ms]) => text(mutate(corpusBuffers[i % corpusBuffers.length], ms, corpusBuffers)));
const mutatedFrom = (corpus: string[]) => {
  const bufs = corpus.map((s) => Buffer.from(s, 'utf8'));
  return fc
    .tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([i, ms]) => text(mutate(bufs[i % bufs.length], ms, bufs)));
};

// ---------------------------------------------------------------- generators

/** Any string: every code point (NUL, lone surrogates, astral ones), or every byte value. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 200 }),
  fc.string({ maxLength: 200 }),
);

/** Strings made of a parser's own tokens, so that they get past its first checks. */
const soup = (tokens: string[], maxLength = 40) =>
  fc
    .array(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...tokens) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
      ),
      { maxLength },
    )
    .map((ts) => ts.join(''));

const XL_TOKENS = [
  'name',
  'kernel',
  'type',
  'memory',
  'vcpus',
  'cpus',
  'disk',
  'vif',
  'x',
  'a.b_9',
  ' = ',
  '=',
  '+=',
  '+',
  '[',
  ']',
  ',',
  ';',
  '\n',
  '\n',
  '# c\n',
  '#',
  ' ',
  '\t',
  '\r',
  '"s"',
  "'s'",
  '"a\\tb"',
  '"\\x41"',
  '"\\0"',
  '"\\012"',
  '"\\0123"',
  '"\\q"',
  '"',
  "'",
  '0',
  '12',
  '0x1f',
  '0xz',
  '9a',
  '-1',
  '"-1"',
  '99999999999999999999',
  '(',
  ')',
  ':',
  '.',
  'Name',
  'é',
  '€',
  '😀',
  '\0',
  '"\0"',
  '[[[[',
  ']]]]',
  '"hvm"',
  '"pv"',
  '"pvh"',
  '"/k"',
  '"g"',
  '"all"',
  '"0-3"',
];

/** A number as xl.cfg may write it, sane or not. */
const numberText = fc.oneof(
  fc.nat(64).map(String),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map((n) => (n < 0 ? `"${n}"` : String(n))),
  fc.bigInt({ min: 0n, max: 2n ** 70n }).map((n) => String(n)),
  fc.bigInt({ min: 0n, max: 2n ** 70n }).map((n) => `0x${n.toString(16)}`),
  fc.nat().map((n) => `0${n.toString(8)}`),
  fc.integer({ min: 1, max: 400 }).map((n) => '9'.repeat(n)),
  fc.constantFrom(
    '"4294967295"',
    '"9223372036854775808"',
    '"-9223372036854775809"',
    '"0x"',
    '" 7"',
    '"7 "',
    '"+7"',
    '8192',
    '8193',
    '"-4294967295"',
  ),
);

const SPEC_STRINGS = [
  'phy:/dev/x,xvda,w',
  'vdev=xvda,target=/x',
  'target=',
  ',,,',
  'format=qcow2',
  'x,=\n',
  'vdev=hdc,devtype=cdrom',
  'bridge=x,rate=1Gb/s',
  'mac=00:16:3e:00:00:01',
  'rate=99999999999999999999Gb/s',
  'rate=1B/s@0us',
  'devid=4294967295',
  'mtu=99999999999',
  '00:01.0',
  '0000:00:1f.7@1f,permissive=1',
  'all',
  'type=qusb,ports=2147483648',
  'hostbus=999,hostaddr=-1',
  'backend-type=qemu,width=4294967296',
  'connection=socket',
  'name=x,connection=pty',
  'backend=0',
  'tag=t,security_model=none,path=/p',
  '0x1:eax=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1',
  'host,sse=0',
  '3f8-3ff',
  '7',
  '1,2@3',
  'strategy=host,policy=relaxed',
  'lmce',
  'base',
  '!freq',
  'all',
  '0-3',
  'node:1',
  '^1',
  '0-18446744073709551614',
  'nodes:0-255',
  'hvm',
  'pv',
  'pvh',
  'generate',
  'none',
  'destroy',
  'qemu-xen',
  'pty',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'backend-type=qemu,constructor=1',
  '3f8-2ff',
  'ffffffff',
  'fe000,2@ffffffffffffffff',
];

const stringText = fc.oneof(
  fc.constantFrom(...SPEC_STRINGS).map(quoteXlString),
  soup(SPEC_STRINGS.concat([',', '=', ':', '@', '^', '-', ' ']), 6).map((s) => quoteXlString(s.replace(/\0/g, ''))),
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => quoteXlString(s.replace(/\0/g, ''))),
);

const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 3, arbitrary: numberText },
    { weight: 4, arbitrary: stringText },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[ ${items.join(', ')} ]`) },
  ),
})).value;

/** An xl.cfg file of known keys (and some unknown ones) with values of any kind. */
const structuredCfg = fc
  .tuple(
    fc.constantFrom('name = "g"\nkernel = "/k"\n', 'name = "g"\ntype = "hvm"\n', 'name = "g"\ntype = "pvh"\nkernel = "/k"\n', ''),
    fc.array(
      fc.tuple(
        fc.oneof(
          { weight: 9, arbitrary: fc.constantFrom(...XL_KEYS) },
          { weight: 1, arbitrary: fc.constantFrom('frobnicate', 'vnuma', 'a.b') },
        ),
        fc.constantFrom(' = ', ' = ', ' += '),
        valueText,
      ),
      { minLength: 1, maxLength: 8 },
    ),
    fc.constantFrom('\n', ';', ' ;\n', '\n# comment\n'),
  )
  .map(([head, lines, sep]) => head + lines.map(([k, op, v]) => k + op + v).join(sep) + '\n');

/** Deep nesting and long lines (beyond 4 KiB too: those are timed but not held to 100 ms). */
const bigCfg = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 1, max: 6000 }),
      fc.constantFrom('[', '[1,', '[\n', '["a",\n', '[1\n,\n'),
      fc.constantFrom(']', '1]', '', ']\n'),
    )
    .map(([n, open, close]) => `name = "g"\nkernel = "/k"\ndisk = ${open.repeat(n)}${close.repeat(n)}\n`),
  fc
    .tuple(fc.integer({ min: 1, max: 1 << 16 }), fc.constantFrom('x', '\\n', '\\"', ',', 'é'))
    .map(([n, c]) => `name = "g"\nkernel = "/k"\ncmdline = "${c.repeat(n)}"\n`),
  fc
    .tuple(
      fc.integer({ min: 1, max: 2000 }),
      fc.constantFrom('"phy:/dev/x,xvda,w"', '"bridge=b"', '0', '"0-3"'),
      fc.constantFrom('disk', 'vif', 'cpus', 'irqs'),
    )
    .map(([n, item, key]) => `name = "g"\nkernel = "/k"\nvcpus = 4\n${key} = [ ${Array<string>(n).fill(item).join(', ')} ]\n`),
  fc.integer({ min: 1, max: 4000 }).map((n) => `name = "g"\nkernel = "/k"\n${'memory = 1\n'.repeat(n)}`),
  fc.integer({ min: 1, max: 4000 }).map((n) => `name = "g"\nkernel = "/k"\n${'cmdline += "x"\n'.repeat(n)}`),
);

// ---------------------------------------------------------------- the checks

const XLCFG_CODES: XenErrorCode[] = ['ERR_XLCFG_SYNTAX', 'ERR_INVALID_ARG', 'ERR_UNSUPPORTED'];

/** parseXlConfig on one text; an accepted config must be plain JSON, pass checkDomainConfig and round-trip. */
function fuzzXlConfig(parser: string, cfgText: string): void {
  const what = () => show(cfgText);
  const r = timed(parser, bytesOf(cfgText), () => parseXlConfig(cfgText, { path: 'x.cfg', cpuLayout: layout }), what);
  if (r.error !== undefined) {
    typedRefusal(parser, r.error, XLCFG_CODES, /^(x\.cfg:|parse xl\.cfg: )/, what);
    return;
  }
  const { config, warnings } = r.value!;
  ensure(Array.isArray(warnings) && warnings.every((w) => typeof w === 'string'), () => `${parser}: warnings for ${what()}`);
  same(JSON.parse(JSON.stringify(config)), config, () => `${parser}: the config is not plain JSON for ${what()}`);
  // Safe for libxl's JSON parser (xl allows an empty name, which createDomain refuses).
  checkDomainConfig(config.c_info?.name ? config : { ...config, c_info: { ...config.c_info, name: 'x' } }, 'fuzz');
  roundTrip(parser, config, what);
}

/** formatXlConfig either refuses (ERR_INVALID_ARG) or writes text that parses to the same config. */
function roundTrip(parser: string, config: DomainConfig, what: () => string): boolean {
  let formatted: string;
  try {
    formatted = formatXlConfig(config);
  } catch (e) {
    typedRefusal(`${parser} (format)`, e, ['ERR_INVALID_ARG'], /^format xl\.cfg: /, what);
    if (VERBOSE) {
      const reason = (e as Error).message.replace(/\d+/g, 'N');
      formatRefusals.set(reason, (formatRefusals.get(reason) ?? 0) + 1);
    }
    return false;
  }
  let again: DomainConfig;
  try {
    again = parseXlConfig(formatted, { path: 'x.cfg', cpuLayout: layout }).config;
  } catch (e) {
    assert.fail(
      `${parser}: formatXlConfig wrote text that does not parse (${(e as Error).message}) for ${what()}:\n${formatted}`,
    );
  }
  same(again, config, () => `${parser}: the round trip changed the config of ${what()}; formatted:\n${formatted}`);
  tally(parser).roundTrips++;
  return true;
}

const BASE = parseXlConfig('name = "g"\nkernel = "/k"\nuuid = "6f1d8e52-3c4b-4a5e-9b7f-0123456789ab"\n').config;
const FIELD: Record<DeviceKind, 'disks' | 'nics' | 'pcidevs' | 'usbctrls' | 'usbdevs'> = {
  disk: 'disks',
  nic: 'nics',
  pci: 'pcidevs',
  usbctrl: 'usbctrls',
  usbdev: 'usbdevs',
};
const PARSER_NAME: Record<DeviceKind, string> = {
  disk: 'disk spec',
  nic: 'vif spec',
  pci: 'pci spec',
  usbctrl: 'usbctrl spec',
  usbdev: 'usbdev spec',
};

/** parseDeviceSpec on one spec; an accepted device must round-trip in a config's device list. */
function fuzzSpec(kind: DeviceKind, spec: string): void {
  const parser = PARSER_NAME[kind];
  const what = () => show(spec);
  const r = timed(parser, bytesOf(spec), () => parseDeviceSpec<object>(kind, spec, 'fuzz-attach'), what);
  if (r.error !== undefined) {
    typedRefusal(parser, r.error, ['ERR_INVALID_ARG'], /^fuzz-attach: /, what);
    return;
  }
  const device = r.value!;
  ensure(typeof device === 'object' && device !== null, () => `${parser}: not an object for ${what()}`);
  const config = { ...BASE, [FIELD[kind]]: [device] } as DomainConfig;
  // A PV guest with PCI devices gets e820_host from xl.
  if (kind === 'pci') config.b_info = { ...BASE.b_info, 'type.pv': { e820_host: 'True' } } as DomainConfig['b_info'];
  roundTrip(parser, config, what);
}

const cpuLayoutBig: CpuLayout = {
  nrCpus: 256,
  cpusOfNode: (n) => (n < 4 ? Array.from({ length: 64 }, (_, i) => n * 64 + i) : undefined),
};

function fuzzCpuList(spec: string | number[], lay: CpuLayout): void {
  const parser = 'cpu list';
  const what = () => (typeof spec === 'string' ? show(spec) : JSON.stringify(spec));
  const bytes = typeof spec === 'string' ? bytesOf(spec) : JSON.stringify(spec).length;
  const r = timed(parser, bytes, () => parseCpuList(spec, lay, 'fuzz-pin'), what);
  if (r.error !== undefined) {
    typedRefusal(parser, r.error, ['ERR_INVALID_ARG'], /^fuzz-pin: /, what);
    return;
  }
  const cpus = r.value!;
  ensure(
    cpus.every((c, i) => Number.isInteger(c) && c >= 0 && c < lay.nrCpus && (i === 0 || c > cpus[i - 1])),
    () => `${parser}: ${what()} gave ${JSON.stringify(cpus)}`,
  );
  if (cpus.length) {
    const printed = formatCpuList(cpus, lay.nrCpus);
    same(parseCpuList(printed, lay), cpus, () => `${parser}: ${what()} printed as ${printed}`);
  }
}

function fuzzDomainConfig(config: unknown, bytes: number, what: () => string): void {
  const parser = 'domain config check';
  const r = timed(parser, bytes, () => checkDomainConfig(config, 'fuzz-create'), what);
  if (r.error !== undefined) {
    typedRefusal(parser, r.error, ['ERR_INVALID_ARG'], /^fuzz-create: /, what);
    return;
  }
  assert.equal(r.value, config);
  // What passes reaches libxl as JSON: it must be expressible as JSON.
  try {
    JSON.stringify(config);
  } catch (e) {
    assert.fail(`${parser}: accepted what JSON cannot hold (${(e as Error).message}): ${what()}`);
  }
}

// ---------------------------------------------------------------- the runs

describe('fuzzing the parsers (issue #10)', function () {
  this.timeout(120_000);

  after(function () {
    let total = 0;
    for (const [parser, t] of [...tallies].sort((a, b) => a[0].localeCompare(b[0]))) {
      total += t.inputs;
      console.log(
        `  fuzz ${parser}: ${t.inputs} inputs (${t.accepted} accepted${t.roundTrips ? `, ${t.roundTrips} round-tripped` : ''}, ` +
          `${t.rejected} refused with a XenError), slowest ${t.slowestMs.toFixed(1)} ms`,
      );
    }
    for (const [reason, n] of [...formatRefusals].sort((a, b) => b[1] - a[1]))
      console.log(`  fuzz: formatXlConfig refused ${n}×: ${reason}`);
    // Any crash or hang failed its test above (a native crash ends the process).
    console.log(
      `  fuzz: ${total} inputs, 0 crashes, 0 hangs, slowest ${SMALL / 1024} KiB input ${slowestSmall.ms.toFixed(1)} ms ` +
        `(${slowestSmall.parser}, ${slowestSmall.bytes} bytes); seed ${SEED} (XENLIGHT_FUZZ_SEED=${SEED} replays it)`,
    );
  });

  describe('parseXlConfig and formatXlConfig', function () {
    it('any string (NUL bytes, lone surrogates, every byte value)', function () {
      check(anyString, 6000, (s) => fuzzXlConfig('xl.cfg', s));
    });

    it('strings of xl.cfg tokens', function () {
      check(soup(XL_TOKENS, 60), 14000, (s) => fuzzXlConfig('xl.cfg', s));
    });

    it('generated files: known keys with numbers, huge numbers, strings, specs and nested lists', function () {
      check(structuredCfg, 24000, (s) => fuzzXlConfig('xl.cfg', s));
    });

    it('deep nesting, long lines, long lists, many settings', function () {
      check(bigCfg, 300, (s) => fuzzXlConfig('xl.cfg', s));
    });

    it('mutated fixtures (byte flips, insertions, deletions, splices of two fixtures, truncations)', function () {
      check(mutatedFixture, 24000, (s) => fuzzXlConfig('xl.cfg', s));
    });
  });

  describe('device specs (libxlutil in process)', function () {
    const TOKENS: Record<DeviceKind, string[]> = {
      disk: [
        'phy:',
        'file:',
        'tap:',
        'tap2:',
        'aio:',
        'qcow2:',
        'raw:',
        'vhd:',
        'iscsi:',
        'abc:',
        'raw',
        'qcow2',
        'vhd',
        'empty',
        ',',
        ',',
        '=',
        '=\n',
        ':',
        '/dev/x',
        '/img',
        'xvda',
        'hdc',
        'sda',
        'w',
        'r',
        'rw',
        'ro',
        'cdrom',
        ':cdrom',
        ':disk',
        'devtype=',
        'target=',
        'vdev=',
        'format=',
        'access=',
        'script=',
        'backend=',
        'backendtype=',
        'phy',
        'qdisk',
        'colo-host=',
        'colo-port=',
        'colo',
        'no-colo',
        'discard',
        'no-discard',
        'direct-io-safe',
        'specification=',
        'virtio',
        'xen',
        ' ',
        '\t',
        '\n',
        'é',
      ],
      nic: [
        'bridge=',
        'mac=',
        'ip=',
        'script=',
        'backend=',
        'vifname=',
        'model=',
        'type=',
        'vif',
        'ioemu',
        'rate=',
        'devid=',
        'mtu=',
        'netdev=',
        'gatewaydev=',
        'trusted',
        'untrusted',
        'accel=',
        'colo_sock_mirror_id=',
        'forwarddev=',
        'xenbr0',
        '00:16:3e:',
        'ff',
        ':',
        ',',
        ' ',
        '=',
        '10',
        'Mb/s',
        'MB/s',
        'Kb/s',
        'Gb/s',
        'B/s',
        'b/s',
        '@',
        'ms',
        'us',
        's',
        '18446744073709551615',
        '4294967295',
        '-1',
        '0x',
        'e1000',
      ],
      pci: [
        '0000:',
        '00:',
        '1f',
        '04',
        '.',
        '*',
        '@',
        '0',
        '7',
        '8',
        ',',
        '=',
        'permissive=',
        'seize=',
        'msitranslate=',
        'power_mgmt=',
        'rdm_policy=',
        'strict',
        'relaxed',
        'vslot=',
        'bdf=',
        'name=',
        '1',
        'ffff',
        'fffffffff',
        '-1',
        ' ',
        'x',
      ],
      usbctrl: [
        'type=',
        'qusb',
        'vusb',
        'devicemodel',
        'auto',
        'version=',
        'ports=',
        '1',
        '2',
        '3',
        '31',
        '2147483648',
        '-1',
        '0x10',
        ',',
        ' ',
        '=',
      ],
      usbdev: [
        'type=',
        'hostdev',
        'hostbus=',
        'hostaddr=',
        'controller=',
        'port=',
        '1',
        '2',
        '255',
        '256',
        '-1',
        '0x1f',
        '010',
        ',',
        ' ',
        '=',
      ],
    };
    const runs: Record<DeviceKind, number> = { disk: 12000, nic: 9000, pci: 9000, usbctrl: 4000, usbdev: 4000 };
    for (const kind of Object.keys(TOKENS) as DeviceKind[]) {
      it(`${PARSER_NAME[kind]}s: any string, strings of its tokens, mutated fixture specs`, function () {
        const arb = fc.oneof(
          { weight: 1, arbitrary: anyString.filter((s) => s.length > 0) },
          { weight: 3, arbitrary: soup(TOKENS[kind], 16) },
          { weight: 2, arbitrary: mutatedFrom(specCorpus[kind]) },
          { weight: 1, arbitrary: fc.constantFrom(...specCorpus[kind]) },
        );
        check(arb, runs[kind], (s) => fuzzSpec(kind, s));
      });
    }
  });

  describe('CPU lists', function () {
    it('strings: any, of its tokens, mutated examples', function () {
      const tokens = [
        '0',
        '1',
        '7',
        '8',
        '255',
        '-',
        ',',
        ',',
        '^',
        'all',
        'node:',
        'nodes:',
        'node',
        ':',
        ' ',
        '\t',
        '\u00a0',
        '\ufeff',
        '99999999999999999999',
        '18446744073709551615',
        '0x1',
        'a',
        ';',
      ];
      const arb = fc.oneof(anyString, soup(tokens, 12), mutatedFrom(CPU_CORPUS));
      check(fc.tuple(arb, fc.boolean()), 12000, ([s, big]) => fuzzCpuList(s, big ? cpuLayoutBig : layout));
    });

    it('arrays of numbers (and of what is not one)', function () {
      const arb = fc.array(
        fc.oneof(fc.integer({ min: -2, max: 300 }), fc.double(), fc.constant(Number.NaN), fc.constant(2 ** 53)),
        { maxLength: 20 },
      );
      check(fc.tuple(arb, fc.boolean()), 3000, ([a, big]) => fuzzCpuList(a, big ? cpuLayoutBig : layout));
    });
  });

  describe("checkDomainConfig (before libxl's JSON parser)", function () {
    const parsedFixtures = corpusFiles.flatMap((f) => {
      try {
        return [parseXlConfig(f.bytes.toString('utf8'), { path: f.name, cpuLayout: layout }).config];
      } catch {
        return [];
      }
    });

    it('any JSON-like value, deep nesting, cycles, BigInts, NUL characters', function () {
      const leaf = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 8 }),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.bigInt(),
        fc.constant(undefined),
      );
      const tree = fc.letrec<{ node: unknown }>((tie) => ({
        node: fc.oneof(
          { depthSize: 'small' },
          leaf,
          fc.array(tie('node'), { maxLength: 4 }),
          fc.dictionary(
            fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('type.pv', 'type.hvm', 'c_info', 'name', 'a\0b')),
            tie('node'),
            { maxKeys: 4 },
          ),
        ),
      })).node;
      const arb = fc.oneof(
        tree.map((t) => ({ value: t, bytes: 0 })),
        fc
          .tuple(
            fc.constantFrom(...parsedFixtures),
            fc.array(fc.tuple(fc.constantFrom('c_info', 'b_info', 'disks', 'x'), fc.string({ maxLength: 8 }), tree), {
              maxLength: 3,
            }),
          )
          .map(([base, edits]) => {
            const c = JSON.parse(JSON.stringify(base)) as Record<string, Record<string, unknown>>;
            for (const [where, key, v] of edits) {
              if (typeof c[where] === 'object' && c[where] !== null && !Array.isArray(c[where])) c[where][key] = v;
              else c[where] = { [key]: v };
            }
            return { value: c as unknown, bytes: 0 };
          }),
        fc.tuple(fc.integer({ min: 1, max: 20000 }), fc.boolean()).map(([n, arr]) => {
          let v: unknown = 1;
          for (let i = 0; i < n; i++) v = arr ? [v] : { k: v };
          return { value: { c_info: { name: 'g' }, x: v } as unknown, bytes: n };
        }),
        fc.constantFrom(...parsedFixtures).map((base) => {
          const c = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
          (c.b_info as Record<string, unknown>).self = c;
          return { value: c as unknown, bytes: 0 };
        }),
      );
      check(arb, 6000, ({ value, bytes }) =>
        fuzzDomainConfig(value, bytes, () => {
          try {
            return show(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value));
          } catch {
            return '(a cyclic value)';
          }
        }),
      );
    });

    it('every parsed fixture passes', function () {
      for (const c of parsedFixtures) fuzzDomainConfig(c, 0, () => 'a parsed fixture');
    });
  });

  describe('in all', function () {
    it('at least 100 000 inputs', function () {
      const total = [...tallies.values()].reduce((n, t) => n + t.inputs, 0);
      assert.ok(total >= 100_000 * Math.min(SCALE, 1), `only ${total} inputs`);
    });
  });
});
