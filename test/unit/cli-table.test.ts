// The command table (src/cli/commands.ts) against the program built from it, the handlers of
// the area files, xl 4.17's own command list (test/fixtures/xl-commands-4.17.txt, from
// tools/xl/xl_cmdtable.c) and the generated "not there yet" list of docs/xl-compat.md.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Area, AREAS, COMMANDS, isGroup, XL_ABSENT_REASONS } from '../../src/cli/commands';
import { program } from '../../src/cli/main';

const ROOT = path.resolve(__dirname, '../../..');

/** xl 4.17's (or 4.20's) commands, in xl_cmdtable.c's order. */
function xlCommands(version = '4.17'): string[] {
  return fs
    .readFileSync(path.join(ROOT, `test/fixtures/xl-commands-${version}.txt`), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** The xl commands of docs/xl-compat.md's generated "not there yet" table. */
function docNotThereYet(): string[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/xl-compat.md'), 'utf8');
  const m = /<!-- not-there-yet:start -->([\s\S]*?)<!-- not-there-yet:end -->/.exec(doc);
  assert.ok(m, 'docs/xl-compat.md has the not-there-yet markers');
  return [...m[1].matchAll(/^\| `([^`]+)` \|/gm)].map((r) => r[1]);
}

/** Every command of a commander program, as "name" or "group name". */
function programCommands(p: Command, prefix = ''): string[] {
  return p.commands.flatMap((c) => [`${prefix}${c.name()}`, ...programCommands(c, `${prefix}${c.name()} `)]);
}

describe('xenlight command table', function () {
  it("names each command once; the program has exactly the table's commands, in its order", function () {
    const names = COMMANDS.map((e) => e.name);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
      'no name twice',
    );
    assert.deepEqual(programCommands(program()), names);
    const aliases = COMMANDS.flatMap((e) => e.aliases ?? []);
    assert.deepEqual(
      aliases.filter((a) => names.includes(a)),
      [],
      'no alias is also a command',
    );
  });

  it('runs each command with a handler of its area file, and each handler is in the table', function () {
    const byArea = new Map<Area, string[]>();
    for (const e of COMMANDS) {
      if (isGroup(e)) continue;
      byArea.set(e.area, [...(byArea.get(e.area) ?? []), e.name]);
      const handler = (AREAS[e.area]().handlers as Record<string, unknown>)[e.name];
      assert.equal(typeof handler, 'function', `${e.area}.ts handlers['${e.name}']`);
    }
    for (const area of Object.keys(AREAS) as Area[]) {
      assert.deepEqual(
        Object.keys(AREAS[area]().handlers).sort(),
        [...(byArea.get(area) ?? [])].sort(),
        `handlers of ${area}.ts`,
      );
    }
  });

  it('gives each command a summary, and groups (box) subcommands that come after it', function () {
    for (const e of COMMANDS) assert.ok(e.summary.length > 10, e.name);
    const groups = COMMANDS.filter(isGroup).map((e) => e.name);
    assert.deepEqual(groups, ['box']);
    for (const e of COMMANDS.filter((c) => c.name.includes(' '))) {
      const group = e.name.split(' ')[0];
      assert.ok(COMMANDS.findIndex((c) => c.name === group) < COMMANDS.indexOf(e), `${e.name} after ${group}`);
    }
  });

  it("the fixture is xl 4.17's command table, named with its source and tag", function () {
    const text = fs.readFileSync(path.join(ROOT, 'test/fixtures/xl-commands-4.17.txt'), 'utf8');
    assert.match(text, /^# .*tools\/xl\/xl_cmdtable\.c/m);
    assert.match(text, /RELEASE-4\.17\.0/);
    const xl = xlCommands();
    assert.equal(xl.length, 92);
    assert.equal(new Set(xl).size, xl.length);
    for (const c of ['create', 'list', 'migrate-receive', 'top', 'usb-list', 'qemu-monitor-command'])
      assert.ok(xl.includes(c), c);
  });

  it("the 4.20 fixture is xl 4.20's command table: 4.17's, in the same order, with suspend, resume and dt-overlay", function () {
    const text = fs.readFileSync(path.join(ROOT, 'test/fixtures/xl-commands-4.20.txt'), 'utf8');
    assert.match(text, /^# .*tools\/xl\/xl_cmdtable\.c/m);
    assert.match(text, /RELEASE-4\.20\.4/);
    const xl420 = xlCommands('4.20');
    assert.equal(xl420.length, 95);
    assert.equal(new Set(xl420).size, xl420.length);
    const old = xlCommands();
    assert.deepEqual(
      xl420.filter((c) => old.includes(c)),
      old,
    );
    assert.deepEqual(
      xl420.filter((c) => !old.includes(c)),
      ['suspend', 'resume', 'dt-overlay'],
    );
  });

  it("docs/xl-compat.md's xl 4.20 section lists 4.20's new commands, options and xl.cfg keys (npm run gen:docs)", function () {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/xl-compat.md'), 'utf8');
    const m = /<!-- xl420:start -->([\s\S]*?)<!-- xl420:end -->/.exec(doc);
    assert.ok(m, 'docs/xl-compat.md has the xl420 markers');
    const rows = [...m[1].matchAll(/^\| `([^`]+)` \| (.*) \|$/gm)].map((r) => [r[1], r[2]]);
    const old = xlCommands();
    const mirrored = new Map(COMMANDS.map((e) => [e.xl, e.name]));
    assert.deepEqual(
      rows.map((r) => r[0]),
      xlCommands('4.20').filter((c) => !old.includes(c)),
    );
    for (const [c, what] of rows) assert.equal(what.startsWith('no: '), !mirrored.has(c), c);
    assert.match(m[1], /`xl console` `-e <escape>`/);
    for (const k of ['virtio', 'llc_colors', 'smbios', 'hvm_pirq', 'bootloader_restrict', 'bootloader_user', 'sve', 'nr_spis'])
      assert.ok(m[1].includes(`\`${k}\``), k);
  });

  it('mirrors only real xl commands (4.17 or 4.20), each with one entry', function () {
    const xl = new Set([...xlCommands(), ...xlCommands('4.20')]);
    const mirrored = COMMANDS.map((e) => e.xl).filter((x): x is string => x !== null);
    assert.deepEqual(
      mirrored.filter((x) => !xl.has(x)),
      [],
      'xl equivalents that neither xl 4.17 nor xl 4.20 has',
    );
    assert.deepEqual(
      mirrored.filter((x, i) => mirrored.indexOf(x) !== i),
      [],
      'an xl command mirrored twice',
    );
  });

  it('the xl commands without a xenlight equivalent are docs/xl-compat.md\'s "not there yet" list (npm run gen:docs)', function () {
    const mirrored = new Set(COMMANDS.map((e) => e.xl));
    const absent = xlCommands().filter((c) => !mirrored.has(c));
    assert.deepEqual(docNotThereYet(), absent);
    // A reason for a command that is there now (or is no xl command) is stale.
    assert.deepEqual(
      Object.keys(XL_ABSENT_REASONS).filter((c) => !absent.includes(c)),
      [],
    );
  });

  it('xenlight list loads its own area only: no box, xlcfg, migration or exporter modules', function () {
    const main = path.join(ROOT, 'out/src/cli/main.js');
    const probe = `const { main } = require(${JSON.stringify(main)});
      process.stderr.write = () => true;
      main(['node', 'xenlight', 'list']).then(() => {
        process.stdout.write(JSON.stringify(Object.keys(require.cache)));
      });`;
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const loaded = (JSON.parse(r.stdout) as string[]).map((f) => path.relative(ROOT, f));
    assert.ok(loaded.includes('out/src/cli/domain.js'));
    const unwanted = loaded.filter(
      (f) =>
        /^out\/src\/(box\/(?!errors\.js)|xlcfg\/|transfer\/migrate|monitor\/exporter|debug\/|devices\/)/.test(f) ||
        /^out\/src\/cli\/(host|sched|devices|debug|box)\.js$/.test(f) ||
        /node_modules\/(prom-client|cli-progress|proper-lockfile)\//.test(f),
    );
    assert.deepEqual(unwanted, []);
  });
});
