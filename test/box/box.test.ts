// `xenlight box up|run|down|status` and the Box API from the host side: one boot for many
// commands, the lock, time limits, a killed QEMU, a full disk — and never a stray QEMU (checked
// by pid, and by any process naming the test's state directory).
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { Box, BoxError } from '../../src/box/box';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function xenlight(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - t0) / 1000 }));
  });
}

/** Processes whose command line names this directory: a QEMU of ours left behind would. */
function processesNaming(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(dir) && Number(pid) !== process.pid) found.push(`${pid}: ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('xenlight box: a box that stays up between commands', function () {
  this.timeout(300_000);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-box-test-'));
  const st = ['--state', stateDir];
  let pid = 0;

  after(async function () {
    await Box.down({ stateDir });
    const left = processesNaming(stateDir);
    fs.rmSync(stateDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no process of this box is left');
  });

  it('up from two processes at once: one boots, the other waits on the lock and finds it up; up again says so', async function () {
    const [a, b] = await Promise.all([xenlight(['box', 'up', ...st]), xenlight(['box', 'up', ...st])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const lines = [a.stdout.trim(), b.stdout.trim()].sort();
    assert.match(lines[0], /^already up \(QEMU pid \d+\)$/);
    assert.match(lines[1], /^up in [\d.]+ s \(QEMU pid \d+\)$/);
    pid = Number(/pid (\d+)/.exec(lines[1])![1]);
    assert.equal(Number(/pid (\d+)/.exec(lines[0])![1]), pid, 'one box');
    assert.ok(running(pid));
    const again = await xenlight(['box', 'up', ...st]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout.trim(), `already up (QEMU pid ${pid})`);
    assert.ok(again.seconds < 10, `took ${again.seconds} s`);

    const s = await xenlight(['box', 'status', ...st, '--json']);
    assert.equal(s.code, 0);
    const status = JSON.parse(s.stdout);
    assert.equal(status.state, 'up');
    assert.equal(status.pid, pid);
    assert.ok(status.bootSeconds > 0);
  });

  it("run: output as dom0 writes it, the command's exit status, cwd, env and sh syntax", async function () {
    const r = await xenlight([
      'box',
      'run',
      ...st,
      '-e',
      'GREETING=hello there',
      '--',
      'sh',
      '-c',
      'id -u; pwd; echo "$GREETING"; xl list | grep -c ^Domain-0; echo to-stderr >&2; exit 7',
    ]);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, `0\n${process.cwd()}\nhello there\n1\nto-stderr\n`);
    const sh = await xenlight(['box', 'run', ...st, '--shell', '--cwd', '/usr', 'echo $((6*7)) $(pwd) | tr 4 x']);
    assert.equal(sh.stdout, 'x2 /usr\n');
    const cwd = await xenlight(['box', 'run', ...st, '--cwd', '/no/such/dir', 'true']);
    assert.equal(cwd.code, 125);
    assert.match(cwd.stdout, /no such directory in dom0: \/no\/such\/dir/);

    // Streaming: the first line arrives while the command still runs.
    const box = Box.attach(stateDir);
    const seen: Array<{ text: string; at: number }> = [];
    const t0 = Date.now();
    const output = new Writable({
      write(c: Buffer, _e, cb) {
        seen.push({ text: c.toString(), at: Date.now() - t0 });
        cb();
      },
    });
    const res = await box.run(['sh', '-c', 'echo first; sleep 3; echo second'], { output });
    assert.equal(res.exitCode, 0);
    assert.equal(seen.map((x) => x.text).join(''), 'first\nsecond\n');
    const first = seen.find((x) => x.text.includes('first'))!;
    assert.ok(first.at < res.seconds * 1000 - 2000, `first line at ${first.at} ms of ${res.seconds} s`);
  });

  it('20 commands in the one box, each with its own status and output, and dom0 as xl sees it', async function () {
    const box = Box.attach(stateDir);
    assert.equal(box.pid, pid);
    for (let i = 0; i < 20; i++) {
      const r = await box.exec(['sh', '-c', `echo run ${i}; exit ${i % 5}`]);
      assert.equal(r.exitCode, i % 5);
      assert.equal(r.output, `run ${i}\n`);
    }
    const xl = await box.exec(['xl', 'list', '0']);
    assert.match(xl.output, /^Domain-0\s+0\s+1536\s+2\s/m);
    assert.equal(Box.status(stateDir).pid, pid, 'no reboot');
  });

  it('a time limit cancels the command and all it started (exit 124); an abort gives 130; the box stays up', async function () {
    const r = await xenlight(['box', 'run', ...st, '--timeout', '3', '--', 'sh', '-c', 'sleep 500 & sleep 600; echo never']);
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stderr, /time limit of 3 s reached: the command was cancelled \(the box is still up\)/);
    assert.doesNotMatch(r.stdout, /never/);
    const box = Box.attach(stateDir);
    const ps = await box.exec(['sh', '-c', 'ps -eo args | grep "^sleep [56]00" || true']);
    assert.equal(ps.output, '', 'both sleeps were killed');

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1500);
    const aborted = await box.run(['sleep', '600'], { signal: ac.signal });
    assert.equal(aborted.exitCode, 130);
    assert.equal(aborted.aborted, true);
    assert.equal((await box.exec(['true'])).exitCode, 0);
  });

  it('a killed QEMU: status says dead (exit 4), run fails with ERR_BOX_DEAD (exit 125), up boots a new one', async function () {
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && running(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(pid), false);
    const s = await xenlight(['box', 'status', ...st]);
    assert.equal(s.code, 4);
    assert.match(s.stdout, new RegExp(`^dead: the box started at \\S+ is gone: QEMU \\(pid ${pid}\\) is not running`));
    const r = await xenlight(['box', 'run', ...st, 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`QEMU \\(pid ${pid}\\) is not running.*\\(ERR_BOX_DEAD\\)`, 's'));
    assert.throws(
      () => Box.attach(stateDir),
      (e: unknown) => e instanceof BoxError && e.code === 'ERR_BOX_DEAD',
    );

    const up = await xenlight(['box', 'up', ...st]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, new RegExp(`QEMU pid ${pid} is not running\\): booting a new one`));
    const newPid = Number(/pid (\d+)/.exec(up.stdout)![1]);
    assert.notEqual(newPid, pid);
    pid = newPid;
    assert.equal((await Box.attach(stateDir).exec(['true'])).exitCode, 0);
  });

  it('down stops it (QEMU gone by pid); down again, status and run say nothing is up', async function () {
    const d = await xenlight(['box', 'down', ...st]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, new RegExp(`^stopped the box \\(QEMU pid ${pid}, `));
    assert.equal(running(pid), false, 'QEMU has exited');
    assert.deepEqual(processesNaming(stateDir), []);
    const again = await xenlight(['box', 'down', ...st]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout.trim(), `no box is running (state directory ${stateDir})`);
    const s = await xenlight(['box', 'status', ...st]);
    assert.equal(s.code, 3);
    assert.match(s.stdout, /^down: no box is running/);
    const r = await xenlight(['box', 'run', ...st, 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /no box is running .*start one with `xenlight box up` \(ERR_BOX_DOWN\)/);
  });

  describe('a full disk', function () {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-full-'));
    before(function () {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
      assert.equal(r.status, 0, `mount a 1 MiB tmpfs: ${r.stderr}`);
    });
    after(function () {
      spawnSync('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    });

    it('for the image cache: ERR_BOX_NOSPACE with the directory and its free space, no QEMU', async function () {
      const state = path.join(mnt, 'state');
      const r = await xenlight(['box', 'up', '--state', state, '--cache', path.join(mnt, 'cache')]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(
        r.stderr,
        /no space left on device: .*cache directory .*\/cache \(\d+ KiB free of 1024 KiB\).*\(ERR_BOX_NOSPACE\)/s,
      );
      assert.deepEqual(processesNaming(mnt), []);
      assert.equal(Box.status(state).state, 'down');
    });

    it('for the state directory (QEMU cannot write its pid file): the same error, no QEMU left', async function () {
      const state = path.join(mnt, 'state2');
      fs.mkdirSync(state);
      // Fill what is left of the tmpfs; the exchange directory is elsewhere, so QEMU is started.
      spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
      const xfer = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-xfer-'));
      const r = await xenlight(['box', 'up', '--state', state, '--xfer', xfer]);
      fs.rmSync(xfer, { recursive: true, force: true });
      assert.match(r.stderr, /QEMU could not start: .*pid file/);
      assert.equal(r.code, 125, r.stderr);
      assert.match(
        r.stderr,
        /no space left on device: .*state directory .*\/state2 \(0 KiB free of 1024 KiB\).*\(ERR_BOX_NOSPACE\)/s,
      );
      assert.deepEqual(processesNaming(mnt), [], 'the QEMU started for it is gone');
      assert.equal(Box.status(state).state, 'down');
    });
  });
});

describe("xenlight box up --gdb: QEMU's gdb stub, for gdb on Xen itself (issue #11)", function () {
  this.timeout(300_000);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-box-gdb-'));
  const st = ['--state', stateDir];
  const XEN_SYMS = '/usr/lib/debug/boot/xen-syms-4.17-amd64';
  const port = 20000 + (process.pid % 10000);
  const gdb = (cmds: string[]) =>
    spawnSync('gdb', ['-nx', '-batch', ...cmds.flatMap((c) => ['-ex', c])], { encoding: 'utf8', timeout: 120_000 });

  after(async function () {
    await Box.down({ stateDir });
    const left = processesNaming(stateDir);
    fs.rmSync(stateDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no process of this box is left');
  });

  it('--gdb-wait: the machine waits at the reset vector until gdb lets it go; then gdb with xen-syms finds the CPUs in Xen; the box works', async function () {
    const up = xenlight(['box', 'up', ...st, '--gdb', String(port), '--gdb-wait', '--timeout', '600']);
    // The CPUs wait for gdb: dom0 cannot be up yet.
    await new Promise((r) => setTimeout(r, 3000));
    const first = gdb([`target remote 127.0.0.1:${port}`, 'info registers rip cs', 'detach']);
    assert.match(first.stdout, /^rip\s+0xfff0\s/m, first.stdout + first.stderr);
    assert.match(first.stdout, /^cs\s+0xf000\s/m);
    const u = await up;
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stderr + u.stdout, new RegExp(`gdb stub: 127\\.0\\.0\\.1:${port}`));
    // Up and running: gdb stops the machine, names where each CPU is, and lets it go again.
    const second = gdb([
      `file ${XEN_SYMS}`,
      `target remote 127.0.0.1:${port}`,
      'thread apply all info symbol $pc',
      'info address do_domctl',
      'detach',
    ]);
    assert.match(second.stdout, / in section \.text/, second.stdout + second.stderr);
    // Debian's xen-syms has symbols, not DWARF: names and addresses, no types.
    assert.match(
      second.stdout,
      /Symbol "do_domctl" is at 0xffff82d0[0-9a-f]{8} in a file compiled without debugging/,
      second.stdout,
    );
    const r = await xenlight(['box', 'run', ...st, 'xl', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Domain-0 +0 /m);
    // Loopback only.
    const ss = spawnSync('ss', ['-Htln', `sport = :${port}`], { encoding: 'utf8' });
    const local = ss.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3]);
    assert.deepEqual(local, [`127.0.0.1:${port}`], ss.stdout);
  });
});

describe('the example suite of docs/box-ci.md (examples/box-ci), as a project of its own', function () {
  this.timeout(600_000);

  it('passes with xenlight as its dependency: one box booted for it, and stopped after', async function () {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-box-ci-'));
    const stateDir = path.join(project, 'box-state');
    try {
      fs.cpSync(path.join(ROOT, 'examples/box-ci'), project, { recursive: true });
      fs.mkdirSync(path.join(project, 'node_modules'));
      // What `npm install` would give it: xenlight (this checkout, built) and mocha.
      fs.symlinkSync(ROOT, path.join(project, 'node_modules/xenlight'));
      fs.symlinkSync(path.join(ROOT, 'node_modules/mocha'), path.join(project, 'node_modules/mocha'));
      const r = spawnSync(process.execPath, ['node_modules/mocha/bin/mocha.js', '--timeout', '600000', 'test/'], {
        cwd: project,
        encoding: 'utf8',
        env: { ...process.env, XENLIGHT_BOX_STATE: stateDir },
        timeout: 580_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /4 passing/);
      assert.doesNotMatch(r.stdout, /failing|pending/);
      assert.equal(Box.status(stateDir).state, 'down', 'the suite stopped the box it booted');
      assert.deepEqual(processesNaming(stateDir), []);
    } finally {
      await Box.down({ stateDir });
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});
