#!/usr/bin/env node
// The `xenlight` command (commander): xl's subcommands, names and output, each with --json.
// Exit codes: 0 ok, 1 a Xen error (its message and libxl's lines on stderr), 2 usage. Each
// subcommand lives with its area: domain.ts, host.ts, sched.ts, devices.ts, debug.ts, top.ts, box.ts.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { XenError } from '../core/errors';
import { packageVersion } from '../core/package-root';
import { Host } from '../core/host';
import { BoxError } from '../box/errors';
import { addBoxCommands, ExitStatus } from './box';
import { addDebugCommands } from './debug';
import { addDeviceCommands } from './devices';
import { addDomainCommands } from './domain';
import { addHostCommands } from './host';
import { addSchedCommands } from './sched';
import { COLUMNS, runBatch, runInteractive } from './top';

const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number >= 1`);
  return n;
};

export function program(): Command {
  const p = new Command('xenlight')
    .description('Manage a Xen host through libxl, in process (run as root in dom0)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) })
    .showHelpAfterError('(add --help for usage)')
    // Options after a subcommand are its own: `box run xl list -l` passes -l on to xl.
    .enablePositionalOptions()
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    .version(packageVersion(), '-V, --version');
  addDomainCommands(p);
  addHostCommands(p);
  addSchedCommands(p);
  addDeviceCommands(p);
  addDebugCommands(p);
  addBoxCommands(p);

  p.command('top')
    .description('Live view of the domains like xentop; -b prints what xentop -b prints')
    .option('-b, --batch', 'batch mode: print the table each update, no terminal control', false)
    .option('-d, --delay <seconds>', 'seconds between updates', positiveInt('delay'), 3)
    .option('-i, --iterations <n>', 'number of updates before exiting', positiveInt('iterations'))
    .option('-n, --networks', 'per-vif lines', false)
    .option('-x, --vbds', 'per-block-device lines', false)
    .option('-v, --vcpus', 'per-vCPU seconds', false)
    .addOption(new Option('-s, --sort <column>', 'sort column').choices(COLUMNS.map((c) => c.header)).default('NAME'))
    .option('-r, --reverse', 'reverse the sort order', false)
    .option('--json', 'one JSON sample per update (batch)', false)
    .action(async (o: {
      batch: boolean; delay: number; iterations?: number; networks: boolean; vbds: boolean; vcpus: boolean;
      sort: string; reverse: boolean; json: boolean;
    }) => {
      const opts = {
        delay: o.delay, iterations: o.iterations, batch: o.batch, json: o.json, networks: o.networks, vbds: o.vbds,
        vcpus: o.vcpus, reverse: o.reverse, sortBy: COLUMNS.findIndex((c) => c.header === o.sort),
      };
      const host = await Host.open();
      try {
        if (o.batch || o.json || !process.stdout.isTTY || !process.stdin.isTTY) {
          await runBatch(host, opts, (s) => process.stdout.write(s));
        } else {
          await runInteractive(host, opts);
        }
      } finally {
        await host.close();
      }
    });

  return p;
}

export async function main(argv = process.argv): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    // Thrown by an action (commander's own parse errors are printed by commander and rethrown
    // as plain CommanderErrors).
    if (e instanceof InvalidArgumentError) {
      process.stderr.write(`xenlight: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof ExitStatus) return e.code;
    // The box itself failed (not a command in it): 125, as the testbed has always exited.
    if (e instanceof BoxError) {
      process.stderr.write(`xenlight box: ${e.message} (${e.code})\n`);
      return 125;
    }
    if (e instanceof XenError) {
      process.stderr.write(`xenlight: ${e.message}${e.message.includes(e.code) ? '' : ` (${e.code})`}\n`);
      for (const line of e.details) process.stderr.write(`  ${line}\n`);
      return e.code === 'ERR_INVALID_ARG' ? 2 : 1;
    }
    throw e;
  }
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  }, (e: unknown) => {
    process.stderr.write(`xenlight: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
