// parseXlConfig against the oracle: `xl -N create <file>` in the same dom0, fixture by fixture.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseXlConfig, XenError } from '../../src';
import type { CpuLayout } from '../../src';
import { pvGuestConfig } from '../../src/box/guests';
import type { DomainConfig } from '../../src/generated/libxl-types';
import { useHost } from '../support/host';
import { destroyAllGuests, xlDryRun, xlList, xlListLong } from '../support/xl';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const GOOD = path.join(FIXTURES, 'xlcfg');
const BAD = path.join(FIXTURES, 'xlcfg-bad');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const cfgFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cfg'))
    .sort();

describe('xl.cfg parsing against xl -N create', function () {
  this.timeout(120_000);
  const ctx = useHost({ destroyGuests: false });
  let layout: CpuLayout;

  before(async function () {
    const info = await ctx.host.info();
    const topo = await ctx.host.topology();
    layout = {
      nrCpus: info.max_cpu_id + 1,
      cpusOfNode: (n) =>
        topo.nodes.some((x) => x.node === n) ? topo.cpus.filter((c) => c.node === n).map((c) => c.cpu) : undefined,
    };
  });

  it(`has at least 35 fixtures (${cfgFiles(GOOD).length})`, function () {
    assert.ok(cfgFiles(GOOD).length >= 35);
  });

  for (const f of cfgFiles(GOOD)) {
    it(`${f}: parseXlConfig deep-equals xl's JSON`, function () {
      const file = path.join(GOOD, f);
      const text = fs.readFileSync(file, 'utf8');
      const xl = xlDryRun({ file });
      assert.equal(xl.status, 0, `xl -N create ${f} failed: ${xl.stderr}`);
      const expected = JSON.parse(xl.stdout);
      const { config } = parseXlConfig(text, { path: file, cpuLayout: layout });
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
        () => parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file }),
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
      () => parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file }),
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
    assert.doesNotMatch(xl.stderr, /frobnicate/, 'xl 4.17 ignores unknown keys silently');
    const { warnings } = parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file });
    assert.deepEqual(warnings, [`${file}:4: warning: unknown key \`frobnicate' (xl 4.17 ignores it silently)`]);
  });

  it("a configuration xl refuses (no kernel for PV) is refused with xl's message", function () {
    const file = path.join(os.tmpdir(), 'xlcfg-nokernel.cfg');
    fs.writeFileSync(file, 'name = "nokernel"\nmemory = 64\n');
    const xl = xlDryRun({ file });
    assert.notEqual(xl.status, 0);
    assert.match(xl.stderr, /Neither kernel nor bootloader specified/);
    assert.throws(
      () => parseXlConfig(fs.readFileSync(file, 'utf8'), { path: file }),
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
