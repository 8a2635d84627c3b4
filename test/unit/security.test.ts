// The privilege model's promises that a reading of the sources can check (issue #10): the
// library runs as root in dom0, so it must not hand user input to a shell. Only the CLI (its ssh
// transport, argv as given) and Xen in a box (QEMU, the image builder) start processes; the API
// starts none itself (libxl runs its hotplug scripts with argv it builds).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const files = (dir: string, ext: RegExp): string[] =>
  fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), ext) : ext.test(e.name) ? [path.join(dir, e.name)] : []));
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

describe('security: no shell, no command lines from input', function () {
  it('the API modules (src/, but for the CLI and the box) import no child_process', function () {
    const api = files('src', /\.ts$/).filter((f) => !/^src\/(cli|box)\//.test(f));
    assert.ok(api.length > 15);
    assert.deepEqual(
      api.filter((f) => /child_process/.test(read(f))),
      [],
    );
  });

  it('nothing in src/ runs a shell: only spawn/execFile (argv arrays) from child_process, no shell: true', function () {
    const all = files('src', /\.ts$/);
    const imported = all.flatMap((f) =>
      [...read(f).matchAll(/import\s*\{([^}]*)\}\s*from\s*'node:child_process'/g)].flatMap((m) =>
        m[1].split(',').map((n) => `${f}: ${n.trim()}`),
      ),
    );
    assert.ok(imported.length > 0);
    assert.deepEqual(
      imported.filter((i) => !/: (spawn|spawnSync|execFile|execFileSync)$/.test(i)),
      [],
    );
    assert.deepEqual(
      all.filter((f) => /import \* as \w+ from 'node:child_process'|require\('(node:)?child_process'\)/.test(read(f))),
      [],
    );
    assert.deepEqual(
      all.filter((f) => /shell:\s*true/.test(read(f))),
      [],
    );
  });

  it('the addon calls no system(), popen() or exec*()', function () {
    const hits = files('native', /\.(cc|h)$/).filter((f) =>
      /\b(system|popen|execl|execlp|execle|execv|execvp|execve)\s*\(/.test(read(f)),
    );
    assert.deepEqual(hits, []);
  });

  it("the CLI's ssh transport passes the destination as one argument and refuses one that ssh would read as an option", function () {
    const src = read('src/cli/domain.ts');
    assert.match(src, /spawn\(argv\[0\], argv\.slice\(1\)/);
    assert.match(src, /function sshHost[\s\S]*startsWith\('-'\)/);
  });
});
