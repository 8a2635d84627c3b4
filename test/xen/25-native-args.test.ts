// Every method of the raw addon called with arguments of the wrong type or range (issue #10):
// NaN, ±Infinity, fractions, negatives, 2^53 and beyond, BigInts, symbols, objects, arrays,
// functions, strings with NUL bytes, and what fast-check's `anything()` makes. The TypeScript
// API validates what users pass; this is the layer below it, where a wrong value used to become
// undefined behaviour in C (NaN cast to an integer, a string cut at a NUL by c_str()). Each call
// must end in a TypeError, a RangeError or a XenError, thrown or as a rejection — never a crash
// of this process (which would end mocha and fail npm test), never a call that goes through.
// A TypeError or RangeError is the package's XenTypeError/XenRangeError: code ERR_INVALID_ARG,
// also a XenError, its op the method's name (init's own: a plain TypeError with that code).
// Only invalid values are substituted, one argument at a time; the other arguments are valid but
// name nothing (domain 32000, pool 9999, JSON libxl rejects), so nothing on the host changes.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { Host, XenError, XenRangeError, XenTypeError } from '../../src';
import { loadNative, NativeContext } from '../../src/core/native';
import { xl, xlList } from '../support/xl';

// What an argument must be. 'text' is any string (the xl.cfg parsers report a NUL in a spec as a
// parse error, with xl's message, rather than throw).
interface Kind {
  t:
    | 'int'
    | 'str'
    | 'text'
    | 'json'
    | 'bool'
    | 'fn'
    | 'cpus'
    | 'strs'
    | 'f64'
    | 'u8'
    | 'handle'
    | 'word'
    | 'u64'
    | 'u64s'
    | 'lenOrBuf';
  min?: number;
  max?: number;
  words?: string[];
  optional?: boolean;
  also?: number[];
  nullable?: boolean;
}

const int = (min: number, max: number, optional = false): Kind => ({ t: 'int', min, max, optional });
const DOMID = int(0, 0x7fef);
// tmem's calls also take 0xFFFFFFFF: every domain.
const DOMID_OR_ALL: Kind = { ...DOMID, also: [0xffffffff] };
const U32 = int(0, 2 ** 32 - 1);
const OPT_U32 = int(0, 2 ** 32 - 1, true);
const STR: Kind = { t: 'str' };
const VCPU = int(0, 4095);
const JSON_TEXT: Kind = { t: 'json' };
const OPT_BOOL: Kind = { t: 'bool', optional: true };
const KINDS: Kind = { t: 'word', words: ['disk', 'nic', 'pci', 'usbctrl', 'usbdev'] };
const NO = 32000; // a domid no domain has
const POOL = 9999; // a pool id no pool has
const BAD_JSON = 'not json';

/** Would `v` be a valid argument of this kind? Those are left out: only bad values are tried. */
function valid(k: Kind, v: unknown): boolean {
  if (k.optional && v === undefined) return true;
  if (k.nullable && v === null) return true;
  switch (k.t) {
    case 'int':
      return typeof v === 'number' && (k.also?.includes(v) || (Number.isInteger(v) && v >= k.min! && v <= k.max!));
    case 'str':
    case 'json':
      return typeof v === 'string' && !v.includes('\0');
    case 'text':
      return typeof v === 'string';
    case 'word':
      return typeof v === 'string' && k.words!.includes(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'fn':
      return typeof v === 'function';
    case 'cpus':
      return Array.isArray(v) && v.every((c) => Number.isInteger(c) && c >= 0);
    case 'strs':
      return Array.isArray(v) && v.every((s) => typeof s === 'string');
    case 'f64':
      return v instanceof Float64Array;
    case 'u8':
      return v instanceof Uint8Array;
    case 'handle':
      return false;
    case 'u64':
      return typeof v === 'bigint' && v >= 0n && v < 2n ** 64n;
    case 'u64s':
      return v instanceof BigUint64Array;
    // A length (at most 1 MiB), or bytes to write (any Buffer or typed array view).
    case 'lenOrBuf':
      return (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 2 ** 20) || ArrayBuffer.isView(v);
  }
}

// [method, valid arguments, their kinds]. Methods that take none are called once as they are.
type Entry = [string, unknown[], Kind[]];
function contextMethods(stats: object): Entry[] {
  const f64 = new Float64Array(4096),
    u8 = new Uint8Array(65536);
  return [
    ['setEventHandler', [() => undefined], [{ t: 'fn' }]],
    ['enableDeathEvents', [NO], [DOMID]],
    ['disableDeathEvents', [0], [int(0, 2 ** 53)]],
    ['enableDiskEject', [NO, 'xvda'], [DOMID, STR]],
    ['disableDiskEject', [0], [int(0, 2 ** 53)]],
    ['abortAo', [0], [U32]],
    ['removeStaleDomainPaths', [NO], [DOMID]],
    ['xenstoreRead', ['/no/such/path'], [STR]],
    ['xenstoreDirectory', ['/no/such/path'], [STR]],
    ['watchXenstore', ['/no/such/path'], [STR]],
    ['unwatchXenstore', [0], [int(0, 2 ** 53)]],
    ['loopDetach', ['/dev/loop-none'], [STR]],
    ['destroy', [NO], [DOMID]],
    ['createDomain', [BAD_JSON, false, 0], [JSON_TEXT, OPT_BOOL, OPT_U32]],
    ['abortWorkerOp', [0], [U32]],
    ['coreDump', [NO, 999999, 0], [DOMID, int(0, 2 ** 31 - 1), OPT_U32]],
    ['saveDomain', [NO, 999999, 0, 0, 0], [DOMID, int(0, 2 ** 31 - 1), int(0, 2), int(0, 2 ** 31 - 1, true), OPT_U32]],
    ['restoreDomain', [BAD_JSON, 999999, false, 0], [JSON_TEXT, int(0, 2 ** 31 - 1), OPT_BOOL, OPT_U32]],
    ['resume', [NO], [DOMID]],
    ['consoleTty', [NO, 0, 'pv'], [DOMID, int(0, 1023), { t: 'word', words: ['pv', 'serial'] }]],
    ['deviceList', ['disk', NO], [KINDS, DOMID]],
    [
      'deviceOp',
      ['disk', 'add', NO, BAD_JSON, 0],
      [KINDS, { t: 'word', words: ['add', 'remove', 'destroy'] }, DOMID, JSON_TEXT, OPT_U32],
    ],
    ['cdromInsert', [NO, BAD_JSON, 0], [DOMID, JSON_TEXT, OPT_U32]],
    ['pciAssignable', [BAD_JSON, 'add', false], [JSON_TEXT, { t: 'word', words: ['add', 'remove'] }, OPT_BOOL]],
    ['shutdown', [NO], [DOMID]],
    ['reboot', [NO], [DOMID]],
    ['pause', [NO], [DOMID]],
    ['unpause', [NO], [DOMID]],
    ['suspendOnly', [NO], [DOMID]],
    ['rename', [NO, 'fuzz'], [DOMID, STR]],
    ['setMemoryTarget', [NO, 131072], [DOMID, int(0, 2 ** 42)]],
    ['setMaxMemory', [NO, 131072], [DOMID, int(0, 2 ** 42)]],
    ['setVcpusOnline', [NO, 1], [DOMID, int(1, 4096)]],
    ['sendSysrq', [NO, 'h'], [DOMID, STR]],
    ['sendTrigger', [NO, 'nmi', 0], [DOMID, STR, int(0, 4095)]],
    ['setLogLevel', [5], [int(0, 9)]],
    ['domainInfo', [NO], [DOMID]],
    ['domainConfigJson', [NO], [DOMID]],
    ['schedParamsGet', [NO], [DOMID]],
    ['schedParamsSet', [NO, BAD_JSON], [DOMID, JSON_TEXT]],
    ['vcpuSchedParamsGet', [NO], [DOMID]],
    ['vcpuSchedParamsSet', [NO, BAD_JSON, false], [DOMID, JSON_TEXT, OPT_BOOL]],
    ['poolSchedParams', [POOL, 'credit2', BAD_JSON], [U32, STR, { t: 'json', optional: true }]],
    ['listVcpus', [NO], [DOMID]],
    [
      'setVcpuAffinity',
      [NO, 0, [0], null, 1],
      [
        DOMID,
        int(-1, 4095),
        { t: 'cpus', nullable: true, optional: true },
        { t: 'cpus', nullable: true, optional: true },
        int(0, 4096, true),
      ],
    ],
    ['cpupoolCreate', ['fuzzpool', 'no-such-scheduler', [0]], [STR, STR, { t: 'cpus' }]],
    ['cpupoolDestroy', [POOL], [U32]],
    ['cpupoolRename', [POOL, 'fuzzpool'], [U32, STR]],
    ['cpupoolCpu', [POOL, 'add', 0], [U32, { t: 'word', words: ['add', 'remove'] }, U32]],
    ['cpupoolMoveDomain', [POOL, NO], [U32, DOMID]],
    ['xenConsoleRead', [false], [OPT_BOOL]],
    ['xenConsoleReadFrom', [null], [{ t: 'int', min: 0, max: 2 ** 32 - 1, optional: true, nullable: true }]],
    ['psrCmtAttach', [NO, true], [DOMID, OPT_BOOL]],
    ['psrCmtTypeSupported', ['cache-occupancy'], [STR]],
    ['psrCmtDomainAttached', [NO], [DOMID]],
    ['psrCmtL3CacheSize', [0], [U32]],
    ['psrCmtSample', [NO, 'cache-occupancy', 0], [DOMID, STR, U32]],
    ['tmemList', [NO, false], [DOMID_OR_ALL, OPT_BOOL]],
    ['tmemFreeze', [NO, false], [DOMID_OR_ALL, OPT_BOOL]],
    ['tmemSet', [NO, 'weight', 1], [DOMID_OR_ALL, STR, U32]],
    ['tmemSharedAuth', [NO, '00000000-0000-0000-0000-000000000000', false], [DOMID_OR_ALL, STR, OPT_BOOL]],
    ['statsSampleInto', [stats, f64, u8], [{ t: 'handle' }, { t: 'f64' }, { t: 'u8' }]],
    ['vcpuRegisters', [NO, 0, 'pv'], [DOMID, VCPU, { t: 'word', words: ['pv', 'hvm'], optional: true }]],
    ['setVcpuRegisters', [NO, 0, ['rip'], new BigUint64Array(1)], [DOMID, VCPU, { t: 'strs' }, { t: 'u64s' }]],
    ['guestMemory', [NO, 0n, 1, 0, true], [DOMID, { t: 'u64' }, { t: 'lenOrBuf' }, VCPU, OPT_BOOL]],
    ['sendDebugKeys', ['h'], [STR]],
  ];
}
// Called once with no arguments (and once with junk ones, which they ignore).
const NO_ARGS = [
  'inFlight',
  'xenstoreLost',
  'pciAssignableList',
  'recentLog',
  'listDomains',
  'physinfoJson',
  'versionInfoJson',
  'scheduler',
  'freeCpus',
  'listCpupools',
  'cpuTopology',
  'numaInfo',
  'psrCmtEnabled',
  'tmemFreeable',
];
// Not called: they change this context itself (tested where they belong, 02-control and 21-stats).
const LIFECYCLE = ['close', 'ref', 'unref', 'statsOpen', 'statsClose'];

const BAD_VALUES: unknown[] = [
  undefined,
  null,
  NaN,
  Infinity,
  -Infinity,
  -1,
  -0.5,
  1.5,
  2 ** 32,
  2 ** 53,
  2 ** 64,
  -(2 ** 63),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  0x7ff0,
  10n,
  -1n,
  true,
  false,
  '',
  '0',
  '1',
  'a\0b',
  '\0',
  'x'.repeat(1 << 20),
  '\ud800',
  {},
  { length: 3 },
  [],
  [NaN],
  [-1],
  ['0'],
  [2 ** 40],
  new Array(5),
  () => 0,
  Symbol('s'),
  new Date(0),
  Buffer.from('abc'),
  new Float64Array(1),
  new Uint8Array(1),
  new Proxy({}, {}),
  Object.create(null),
];

let inputs = 0;
/** Calls fn (the addon's function `op`) with args; checks it failed as it must. */
async function expectRefusal(
  what: string,
  fn: (...a: unknown[]) => unknown,
  self: unknown,
  args: unknown[],
  op: string,
): Promise<void> {
  inputs++;
  let err: unknown;
  try {
    const r = fn.apply(self, args) as unknown;
    if (r instanceof Promise) await r;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `${what}: went through`);
  assert.ok(
    err instanceof TypeError || err instanceof RangeError || err instanceof XenError,
    `${what}: ${Object.prototype.toString.call(err)} ${String((err as Error)?.message ?? err)}, not a TypeError, RangeError or XenError`,
  );
  if (err instanceof TypeError || err instanceof RangeError) {
    const e = err as XenTypeError;
    assert.equal(e.code, 'ERR_INVALID_ARG', `${what}: ${e.message}`);
    assert.equal(e.op, op, `${what}: ${e.message}`);
    if (op !== 'init') {
      assert.ok(err instanceof (err instanceof RangeError ? XenRangeError : XenTypeError), `${what}: ${e.message}`);
      assert.ok(err instanceof XenError, `${what}: ${e.message}`);
      assert.equal(e.kind, 'invalid-argument', `${what}: ${e.message}`);
    }
  }
}

const show = (v: unknown) => {
  if (typeof v === 'string') return v.length > 40 ? `string(${v.length})` : JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
};

async function fuzz(name: string, fn: (...a: unknown[]) => unknown, self: unknown, args: unknown[], kinds: Kind[], runs: number) {
  for (let i = 0; i < kinds.length; i++) {
    const at = (v: unknown) => {
      const a = args.slice();
      a[i] = v;
      return a;
    };
    for (const v of BAD_VALUES) {
      if (!valid(kinds[i], v)) await expectRefusal(`${name}(arg ${i} = ${show(v)})`, fn, self, at(v), name);
    }
    // Missing arguments: the call cut short before argument i.
    if (!kinds[i].optional) await expectRefusal(`${name} with ${i} arguments`, fn, self, args.slice(0, i), name);
    await fc.assert(
      fc.asyncProperty(
        fc.anything({
          withBigInt: true,
          withNullPrototype: true,
          withTypedArray: true,
          withSparseArray: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withObjectString: true,
        }),
        async (v) => {
          if (valid(kinds[i], v)) return;
          await expectRefusal(`${name}(arg ${i} = ${show(v)})`, fn, self, at(v), name);
        },
      ),
      { numRuns: runs },
    );
  }
}

describe('the raw addon under bad arguments (fuzzing every native method)', function () {
  this.timeout(600_000);
  let ctx: NativeContext;
  let stats: object;
  let poolsBefore = '';

  before(function () {
    poolsBefore = xl('cpupool-list');
    const addon = loadNative();
    ctx = new addon.Context();
    stats = ctx.statsOpen();
  });

  after(function () {
    ctx?.statsClose(stats);
    ctx?.close();
  });

  it('the table names every method of the native context', function () {
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(ctx))
      .filter((m) => m !== 'constructor')
      .sort();
    const covered = [...contextMethods(stats).map((e) => e[0]), ...NO_ARGS, ...LIFECYCLE].sort();
    assert.deepEqual(methods, covered);
  });

  it('every argument of every method: a TypeError, RangeError or XenError, never a crash or a call that goes through', async function () {
    const self = ctx as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const [name, args, kinds] of contextMethods(stats)) await fuzz(name, self[name], ctx, args, kinds, 150);
    for (const name of NO_ARGS) {
      // Junk after the arguments a method takes is ignored, as in JavaScript; what this host
      // lacks (tmem is gone from Xen 4.17) is a XenError, as without the junk.
      try {
        const r = self[name].apply(ctx, [NaN, 'a\0b', {}]) as unknown;
        if (r instanceof Promise) await r;
      } catch (e) {
        assert.ok(e instanceof XenError, `${name}: ${String(e)}`);
        assert.throws(
          () => self[name].apply(ctx, []),
          (e2: unknown) => e2 instanceof XenError && e2.code === (e as XenError).code,
        );
      }
    }
    console.log(`      ${inputs} calls with bad arguments`);
    assert.ok(inputs > 20_000, `only ${inputs}`);
  });

  it("the addon's own functions (init, the xl.cfg parsers of libxlutil) likewise", async function () {
    const addon = loadNative() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const before = inputs;
    await fuzz('init', addon.init, addon, [{ XenError }], [{ t: 'handle' }], 100);
    const TEXT: Kind = { t: 'text' };
    for (const p of ['xlcfgDisk', 'xlcfgVifRate', 'xlcfgRdm'])
      await fuzz(p, addon[p], addon, ['fuzz.cfg', 'x'], [TEXT, TEXT], 100);
    const i32 = int(-(2 ** 31), 2 ** 31 - 1);
    await fuzz(
      'xlcfgPci',
      addon.xlcfgPci,
      addon,
      ['fuzz.cfg', '00:01.0', 0, 0, 0, 0, 0],
      [TEXT, TEXT, i32, i32, i32, i32, i32],
      100,
    );
    await fuzz('xlcfgCpuid', addon.xlcfgCpuid, addon, [false, ['host']], [OPT_BOOL, { t: 'strs' }], 100);
    // init with the real classes again: errors from C are still XenErrors.
    addon.init({ XenError, XenTypeError, XenRangeError });
    assert.throws(
      () => ctx.schedParamsSet(NO, BAD_JSON),
      (e: unknown) => e instanceof XenError && e.code === 'ERR_INVALID_ARG',
    );
    assert.ok(inputs - before > 1000);
  });

  it('afterwards: the process and this context work, nothing on the host changed', async function () {
    assert.equal(xl('cpupool-list'), poolsBefore);
    const host = await Host.open();
    try {
      const ours = (await host.listDomains()).map((d) => [d.name, d.domid]);
      assert.deepEqual(
        ours,
        xlList().map((r) => [r.name, r.id]),
      );
    } finally {
      await host.close();
    }
    assert.ok(ctx.listDomains()[0].length > 0);
  });
});
