#!/usr/bin/env node
// `npm run testbed -- <command…>`: run a command as root in dom0 of Xen in a box.
import { runInBox } from './box';
import { BoxSetupError } from './images';

const USAGE = `usage: testbed [options] [--] <command> [args…]
Boots Xen under QEMU, runs the command as root in dom0 (cwd: this directory), prints its
output, exits with its status (124: time limit, 125: the box failed).
  --shell            run the command words as one shell command line (sh syntax)
  --timeout SECONDS  wall-clock limit (default 1800)
  --memory MIB       memory of the emulated machine (default 4096)
  --xfer DIR         host directory shared read-write as /xfer in dom0
  --serial           copy the serial console (Xen, dom0 kernel) to stderr
  --quiet            no timing line at the end`;

async function main(argv: string[]): Promise<number> {
  let shell = false;
  let serial = false;
  let quiet = false;
  let timeoutSeconds: number | undefined;
  let memoryMiB: number | undefined;
  let xferDir: string | undefined;
  const command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      command.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-')) {
      command.push(...argv.slice(i));
      break;
    }
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${a} needs a positive number`);
      return v;
    };
    if (a === '--shell') shell = true;
    else if (a === '--serial') serial = true;
    else if (a === '--quiet') quiet = true;
    else if (a === '--timeout') timeoutSeconds = num();
    else if (a === '--memory') memoryMiB = num();
    else if (a === '--xfer') xferDir = argv[++i];
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    } else throw new UsageError(`unknown option ${a}`);
  }
  if (command.length === 0) throw new UsageError('no command given');
  const r = await runInBox({
    command, shell, timeoutSeconds, memoryMiB, xferDir,
    serial: serial ? process.stderr : undefined,
  });
  if (r.failure) process.stderr.write(`testbed: ${r.failure}\n`);
  if (!quiet) {
    process.stderr.write(`testbed: exit ${r.exitCode}; boot to command ${r.bootSeconds?.toFixed(1) ?? '-'} s, ` +
      `total ${r.totalSeconds.toFixed(1)} s (serial log: ${r.serialLog})\n`);
  }
  return r.exitCode;
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`testbed: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof BoxSetupError) {
      process.stderr.write(`testbed: ${err.message}\n`);
      process.exitCode = 125;
    } else {
      process.stderr.write(`testbed: ${(err as Error)?.stack ?? err}\n`);
      process.exitCode = 125;
    }
  },
);
