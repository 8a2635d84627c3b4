// The `xenlight` command against `xl` in the same dom0: the same columns and values (only what
// moves between two calls — CPU time, running/blocked, a vCPU's current CPU — is compared with
// a tolerance), exit codes, a guest's life driven from the command line, progress lines.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hvmGuestConfig, pvGuestConfig, waitForConsole, waitForHvmIdle } from '../../src/box/guests';
import { useNoGuests } from '../support/host';
import { until, xl, xlList, xlListLong } from '../support/xl';

const CLI = path.resolve(__dirname, '../../src/cli/main.js');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-cli-'));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `xenlight args…` as a child (never synchronously: it may talk to a server in this process). */
function cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

async function ok(args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await cli(args, opts);
  if (r.code !== 0) {
    // A signal (an OOM kill, a crash) leaves no words of its own: the kernel's last lines say why.
    const kernel = r.signal ? execFileSync('dmesg', { encoding: 'utf8' }).trim().split('\n').slice(-8).join('\n') : '';
    assert.fail(
      `xenlight ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr}${kernel ? `\ndom0 kernel:\n${kernel}` : ''}`,
    );
  }
  return r.stdout;
}

/** Blanks the [from, to) columns of each line (values that move between two calls). */
const mask = (text: string, ranges: [number, number][]) =>
  text
    .split('\n')
    .map((l) => ranges.reduce((s, [a, b]) => (s.length >= b ? s.slice(0, a) + '#'.repeat(b - a) + s.slice(b) : s), l))
    .join('\n');

/** Same lines, same widths; the masked columns compared by the caller. */
function sameTable(ours: string, theirs: string, ranges: [number, number][] = []): void {
  const a = ours.trimEnd().split('\n');
  const b = theirs.trimEnd().split('\n');
  assert.equal(a.length, b.length, `line count:\n${ours}\n---- xl:\n${theirs}`);
  assert.deepEqual(
    a.map((l) => l.length),
    b.map((l) => l.length),
    `line widths:\n${ours}\n---- xl:\n${theirs}`,
  );
  assert.equal(mask(ours.trimEnd(), ranges), mask(theirs.trimEnd(), ranges));
}

const GUEST = 'cli-pv';
const DISK = path.join(TMP, 'disk.img');
const MAC = '00:16:3e:5a:78:22';

describe('xenlight CLI vs xl', function () {
  this.timeout(180_000);
  useNoGuests();
  let cfg: string;

  before(async function () {
    fs.writeFileSync(DISK, Buffer.alloc(8 * 2 ** 20));
    cfg = path.join(TMP, `${GUEST}.cfg`);
    fs.writeFileSync(
      cfg,
      pvGuestConfig({
        name: GUEST,
        vcpus: 2,
        memoryMiB: 128,
        extra: [`vif = [ "bridge=xenbr0,mac=${MAC}" ]`, `disk = [ "${DISK},raw,xvda,rw" ]`],
      }),
    );
  });
  after(() => {
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  it('create <cfg> makes the domain xl lists; --json gives its domid and name', async function () {
    const r = await cli(['create', '--json', cfg]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^Parsing config from ${cfg}$`, 'm'));
    const made = JSON.parse(r.stdout) as { domid: number; name: string };
    assert.equal(made.name, GUEST);
    const row = xlList().find((d) => d.name === GUEST);
    assert.ok(row, xl('list'));
    assert.equal(row.id, made.domid);
    await waitForConsole(GUEST, /xenlight-guest: up/);
  });

  it("list: xl list's header, columns and values", async function () {
    const ours = await ok(['list']);
    const theirs = xl('list');
    // r/b (columns 63-64) and Time(s) (71-78) move between the two calls.
    sameTable(ours, theirs, [
      [63, 65],
      [71, 79],
    ]);
    const time = (t: string) =>
      t
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.slice(71)));
    time(ours).forEach((t, i) => assert.ok(Math.abs(t - time(theirs)[i]) < 3, `Time(s) ${t} vs ${time(theirs)[i]}`));
  });

  it("list -v and list -c add the same columns as xl's", async function () {
    sameTable(await ok(['list', '-v']), xl('list', '-v'), [
      [63, 65],
      [71, 79],
    ]);
    sameTable(await ok(['list', '-c']), xl('list', '-c'), [
      [63, 65],
      [71, 79],
    ]);
    sameTable(await ok(['list', GUEST]), xl('list', GUEST), [
      [63, 65],
      [71, 79],
    ]);
  });

  it('list -l: the same libxl configurations as xl list -l', async function () {
    assert.deepEqual(JSON.parse(await ok(['list', '-l'])), xlListLong());
  });

  it("list --json: every domain with xl's values", async function () {
    const ours = JSON.parse(await ok(['list', '--json'])) as {
      name: string;
      domid: number;
      memoryKiB: number;
      vcpusOnline: number;
    }[];
    const theirs = xlList();
    assert.deepEqual(
      ours.map((d) => [d.name, d.domid, Math.floor(d.memoryKiB / 1024), d.vcpusOnline]),
      theirs.map((d) => [d.name, d.id, d.mem, d.vcpus]),
    );
  });

  it('info: every line of xl info; info <prefix> filters as xl does', async function () {
    // free_memory moves only if a domain balloons in between; none does here.
    assert.equal(await ok(['info']), xl('info'));
    assert.equal(await ok(['info', 'xen_version']), xl('info', 'xen_version'));
    assert.equal(await ok(['info', 'xen']), xl('info', 'xen'));
    const json = JSON.parse(await ok(['info', '--json'])) as { cpus: number; physinfo: object };
    assert.equal(String(json.cpus), xl('info', 'nr_cpus').trim());
    assert.ok(json.physinfo);
  });

  it("vcpu-list: xl vcpu-list's rows (CPU, r/b and time move)", async function () {
    // CPU [44,49), r/b [52,54), Time(s) [56,65).
    const ranges: [number, number][] = [
      [44, 49],
      [52, 54],
      [56, 65],
    ];
    sameTable(await ok(['vcpu-list']), xl('vcpu-list'), ranges);
    sameTable(await ok(['vcpu-list', GUEST, '0']), xl('vcpu-list', GUEST, '0'), ranges);
  });

  it('vcpu-pin changes the affinity columns xl shows', async function () {
    await ok(['vcpu-pin', GUEST, '1', '1']);
    const vcpu1 = () =>
      xl('vcpu-list', GUEST)
        .split('\n')
        .find((l) => /^\S+\s+\d+\s+1\s/.test(l))!;
    assert.match(vcpu1(), /\s1 \/ all$/);
    sameTable(await ok(['vcpu-list', GUEST]), xl('vcpu-list', GUEST), [
      [44, 49],
      [52, 54],
      [56, 65],
    ]);
    await ok(['vcpu-pin', GUEST, 'all', 'all']);
    assert.match(vcpu1(), /\sall \/ all$/);
  });

  it('sched-credit2: pools, domains, -d, -s; a weight and cap set here are what xl shows', async function () {
    assert.equal(await ok(['sched-credit2']), xl('sched-credit2'));
    assert.equal(await ok(['sched-credit2', '-s']), xl('sched-credit2', '-s'));
    assert.equal(await ok(['sched-credit2', '-d', GUEST]), xl('sched-credit2', '-d', GUEST));
    await ok(['sched-credit2', '-d', GUEST, '-w', '512', '-c', '50']);
    assert.match(xl('sched-credit2', '-d', GUEST), new RegExp(`^${GUEST}\\s+\\d+\\s+512\\s+50$`, 'm'));
    assert.equal(await ok(['sched-credit2']), xl('sched-credit2'));
    // credit has no pool here: xl prints nothing, and so do we.
    assert.equal(await ok(['sched-credit']), xl('sched-credit'));
  });

  it('cpupool-list [-c]: as xl, also after a pool is created and a CPU moved into it', async function () {
    assert.equal(await ok(['cpupool-list']), xl('cpupool-list'));
    assert.equal(await ok(['cpupool-list', '-c']), xl('cpupool-list', '-c'));
    await ok(['cpupool-cpu-remove', 'Pool-0', '1']);
    try {
      const made = await ok(['cpupool-create', 'name="cli-pool"', 'sched="credit2"', 'cpus="1"']);
      assert.match(made, /^cpupool name: {3}cli-pool$/m);
      assert.equal(await ok(['cpupool-list']), xl('cpupool-list'));
      assert.equal(await ok(['cpupool-list', '-c', 'cli-pool']), xl('cpupool-list', '-c', 'cli-pool'));
      await ok(['cpupool-migrate', GUEST, 'cli-pool']);
      assert.match(xl('list', '-c', GUEST), /cli-pool$/m);
      assert.equal(await ok(['sched-credit2']), xl('sched-credit2'));
      await ok(['cpupool-migrate', GUEST, 'Pool-0']);
      await ok(['cpupool-cpu-remove', 'cli-pool', '1']);
      await ok(['cpupool-destroy', 'cli-pool']);
    } finally {
      try {
        xl('cpupool-migrate', GUEST, 'Pool-0');
      } catch {
        /* already there */
      }
      try {
        xl('cpupool-cpu-remove', 'cli-pool', '1');
      } catch {
        /* not there */
      }
      try {
        xl('cpupool-destroy', 'cli-pool');
      } catch {
        /* gone */
      }
      try {
        xl('cpupool-cpu-add', 'Pool-0', '1');
      } catch {
        /* back already */
      }
    }
    assert.equal(await ok(['cpupool-list', '-c']), xl('cpupool-list', '-c'));
  });

  it("block-list and network-list: xl's rows, for one domain and several", async function () {
    assert.equal(await ok(['block-list', GUEST]), xl('block-list', GUEST));
    assert.equal(await ok(['block-list', '0', GUEST]), xl('block-list', '0', GUEST));
    assert.equal(await ok(['network-list', GUEST]), xl('network-list', GUEST));
    assert.match(await ok(['network-list', GUEST]), new RegExp(MAC));
    const disks = JSON.parse(await ok(['block-list', '--json', GUEST])) as { disks: { vdev: string }[] }[];
    assert.equal(disks[0].disks[0].vdev, 'xvda');
  });

  it("dmesg: the ring xl dmesg prints (read first, so xl's may only have grown)", async function () {
    const ours = await ok(['dmesg']);
    const theirs = xl('dmesg');
    assert.ok(ours.length > 1000);
    assert.ok(theirs.startsWith(ours.trimEnd()), 'xl dmesg does not start with ours');
  });

  it("claims: xl claims' columns", async function () {
    sameTable(await ok(['claims']), xl('claims'), [
      [63, 65],
      [71, 79],
    ]);
  });

  it('pause, unpause, rename, mem-set, vcpu-set: what xl list shows after each', async function () {
    await ok(['pause', GUEST]);
    assert.match(xlList().find((d) => d.name === GUEST)!.state, /^..p/);
    await ok(['unpause', GUEST]);
    assert.doesNotMatch(xlList().find((d) => d.name === GUEST)!.state, /^..p/);
    await ok(['rename', GUEST, 'cli-renamed']);
    assert.ok(xlList().some((d) => d.name === 'cli-renamed'));
    await ok(['rename', 'cli-renamed', GUEST]);
    await ok(['vcpu-set', GUEST, '1']);
    await until('one vCPU online', () => xlList().find((d) => d.name === GUEST)!.vcpus === 1);
    await ok(['vcpu-set', GUEST, '2']);
    await ok(['mem-set', GUEST, '96m']);
    await until('the guest at 96 MiB', () => xlList().find((d) => d.name === GUEST)!.mem <= 97, 30_000);
    await ok(['mem-set', GUEST, '128']);
  });

  it("console: a command typed through a pipe, the guest's answer on stdout", async function () {
    const out = await ok(['console', GUEST], { input: 'echo cli-$((6*7))\n' });
    assert.match(out, /cli-42/);
  });

  it('save (mode 0600, progress lines on a pipe) and restore: xl lists the guest again, by name', async function () {
    const image = path.join(TMP, 'guest.save');
    const saved = await cli(['save', GUEST, image]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stderr, new RegExp(`^save ${GUEST}: transfer [\\d.]+ MiB$`, 'm'));
    assert.equal(fs.statSync(image).mode & 0o777, 0o600);
    assert.ok(!xlList().some((d) => d.name === GUEST));
    const restored = await cli(['restore', '--json', image]);
    assert.equal(restored.code, 0, restored.stderr);
    const { domid } = JSON.parse(restored.stdout) as { domid: number };
    assert.match(restored.stderr, /^restore .*: transfer [\d.]+ MiB$/m);
    assert.equal(xlList().find((d) => d.name === GUEST)?.id, domid);
    assert.equal(await ok(['block-list', GUEST]), xl('block-list', GUEST));
  });

  it('exit codes: 1 with the XenError for what Xen refuses, 2 for usage', async function () {
    const missing = await cli(['pause', 'no-such-guest']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^xenlight: .*no domain is named "no-such-guest".*ERROR_DOMAIN_NOTFOUND/m);
    const tmem = await cli(['tmem-list', '-a']);
    assert.equal(tmem.code, 1);
    assert.match(tmem.stderr, /ERR_UNSUPPORTED/);
    const cmt = await cli(['psr-cmt-show', 'cache-occupancy']);
    assert.equal(cmt.code, 1);
    assert.match(cmt.stderr, /CMT is not supported in this system: No such device.*\(ERR_UNSUPPORTED\)/);
    const usage = await cli(['mem-set', GUEST, '1.5g']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /memory is a whole number/);
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    const noFile = await cli(['create', path.join(TMP, 'missing.cfg')]);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /cannot read/);
    const badCfg = path.join(TMP, 'bad.cfg');
    fs.writeFileSync(badCfg, 'name = "x"\nmemory = \n');
    const bad = await cli(['create', badCfg]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /bad\.cfg/);
    assert.ok(!xlList().some((d) => d.name === 'x'));
  });

  it('shutdown -w returns once the guest has shut down; the monitor restore left behind destroys it (on_poweroff)', async function () {
    const domid = xlList().find((d) => d.name === GUEST)!.id;
    await ok(['shutdown', '-w', GUEST]);
    const row = xlList().find((d) => d.id === domid);
    assert.ok(!row || row.state[3] === 's', xl('list'));
    // As xl's background monitor: on_poweroff defaults to destroy.
    await until('the monitor to destroy the guest', () => !xlList().some((d) => d.id === domid), 30_000);
    await until(
      'the monitor to log it',
      () => /: poweroff: destroy$/m.test(fs.readFileSync(`/var/log/xen/xenlight-${GUEST}.log`, 'utf8')),
      10_000,
    );
    assert.match(
      fs.readFileSync(`/var/log/xen/xenlight-${GUEST}.log`, 'utf8'),
      new RegExp(`domain ${domid} \\(${GUEST}\\): poweroff: destroy`),
    );
  });
});

describe('xenlight migrate (HVM, localhost)', function () {
  this.timeout(300_000);
  useNoGuests();
  const NAME = 'cli-hvm';

  before(async function () {
    const file = path.join(TMP, `${NAME}.cfg`);
    fs.mkdirSync(TMP, { recursive: true });
    fs.writeFileSync(file, hvmGuestConfig({ name: NAME, memoryMiB: 128 }));
    const { domid } = JSON.parse(await ok(['create', '--json', file])) as { domid: number };
    await waitForHvmIdle(domid);
  });

  it('--tcp to migrate-receive --listen: one guest afterwards, a new domid, progress lines on both ends', async function () {
    const before = xlList().find((d) => d.name === NAME)!;
    const port = 8400 + Math.floor(Math.random() * 100);
    const receiving = cli(['migrate-receive', '--listen', `127.0.0.1:${port}`]);
    // The receiver says when it listens; connect only then.
    await until(
      'the receiver to listen',
      () => fs.readFileSync('/proc/net/tcp', 'utf8').includes(`:${port.toString(16).toUpperCase()} 00000000:0000 0A`),
      20_000,
    );
    const sent = await cli(['migrate', '--tcp', `127.0.0.1:${port}`, NAME]);
    const received = await receiving;
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(received.code, 0, received.stderr);
    assert.match(sent.stderr, new RegExp(`^migrate ${NAME}: transfer [\\d.]+ MiB$`, 'm'));
    assert.match(received.stderr, /^migrate-receive: domain \d+ \(cli-hvm\) is running here$/m);
    const rows = xlList().filter((d) => d.name === NAME);
    assert.equal(rows.length, 1, xl('list'));
    assert.notEqual(rows[0].id, before.id);
  });

  it("over the ssh transport (a stand-in ssh that runs the command here): xl migrate's way", async function () {
    const before = xlList().find((d) => d.name === NAME)!;
    const ssh = path.join(TMP, 'fake-ssh');
    // ssh HOST COMMAND…: drop the host, run the command.
    fs.writeFileSync(ssh, '#!/bin/sh\nshift\nexec "$@"\n', { mode: 0o755 });
    const sent = await cli(['migrate', '-s', ssh, '-C', `${process.execPath} ${CLI} migrate-receive`, NAME, 'localhost']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stderr, /^migrate-receive: domain \d+ \(cli-hvm\) is running here$/m);
    const rows = xlList().filter((d) => d.name === NAME);
    assert.equal(rows.length, 1, xl('list'));
    assert.notEqual(rows[0].id, before.id);
  });
});
