// The testbed command's own contract (`xenlight box exec`, what `npm run testbed` runs), from
// the host side: exit codes and failures that must not hang. Each test boots the box.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const CLI = path.resolve(__dirname, '../../src/cli/main.js');

function testbed(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'box', 'exec', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - t0) / 1000 }));
  });
}

/**
 * False once the process has exited. QEMU runs daemonized, so its exit status is init's to
 * collect: a zombie waiting for that has exited (no memory, no CPU), it is not a running QEMU.
 */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('testbed command', function () {
  this.timeout(240_000);

  it('runs the command in dom0 as root and exits with its status (3)', async function () {
    const r = await testbed(['--', 'sh', '-c', 'id -u; xl list | head -2; echo "to stderr" >&2; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^0\n/);
    assert.match(r.stdout, /Domain-0\s+0/);
    assert.match(r.stdout, /to stderr/);
    assert.match(r.stderr, /testbed: exit 3; boot to command [\d.]+ s/);
  });

  it('reports a crash of dom0 at once, with the serial console, instead of waiting', async function () {
    const r = await testbed(['--timeout', '200', '--', 'sh', '-c', 'echo c > /proc/sysrq-trigger; sleep 600']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /the box crashed/);
    assert.match(r.stderr, /last lines of the serial console/);
    assert.match(r.stderr, /sysrq triggered crash|Kernel panic/);
    assert.ok(r.seconds < 120, `took ${r.seconds} s`);
  });

  it('kills QEMU (by its pid) when the time limit is reached, and exits 124', async function () {
    const r = await testbed(['--timeout', '30', '--', 'sleep', '600']);
    assert.equal(r.code, 124);
    const pid = Number(/QEMU \(pid (\d+)\) was killed/.exec(r.stderr)?.[1]);
    assert.ok(pid > 0, r.stderr);
    assert.equal(processAlive(pid), false, 'QEMU is gone');
  });

  it('rejects a usage error with exit 2', async function () {
    const r = await testbed(['--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option --bogus/);
  });
});
