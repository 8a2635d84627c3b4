#!/usr/bin/env node
// The `xenlight` command (commander): xl's subcommands, names and output, each with --json.
// Exit codes: 0 ok, 1 a Xen error (its message and libxl's lines on stderr), 2 usage. The
// commands are those of the table in commands.ts; each one's handler lives in its area file
// (domain.ts, host.ts, sched.ts, devices.ts, debug.ts, top.ts, box.ts).
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { XenError } from '../core/errors';
import { packageVersion } from '../core/package-root';
import { BoxError } from '../box/errors';
import { AREAS, COMMANDS, isGroup } from './commands';
import { ExitStatus } from './common';

type Handler = (...args: unknown[]) => void | Promise<void>;

/** commander's program, built from the command table (commands.ts). */
export function program(): Command {
  const p = new Command('xenlight')
    .description('Manage a Xen host through libxl, in process (run as root in dom0)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) })
    .showHelpAfterError('(add --help for usage)')
    // Options after a subcommand are its own: `box run xl list -l` passes -l on to xl.
    .enablePositionalOptions()
    .version(packageVersion(), '-V, --version');
  const parents = new Map<string, Command>([['', p]]);
  for (const e of COMMANDS) {
    const words = e.name.split(' ');
    const parent = parents.get(words.slice(0, -1).join(' '));
    if (!parent) throw new Error(`command table: ${e.name} comes before its group`);
    const c = parent.command(words[words.length - 1], e.hidden ? { hidden: true } : {}).description(e.summary);
    for (const alias of e.aliases ?? []) c.alias(alias);
    for (const a of e.args ?? []) c.addArgument(a);
    for (const o of e.options ?? []) c.addOption(o);
    if (e.passThrough) c.passThroughOptions();
    if (isGroup(e)) {
      c.enablePositionalOptions();
      parents.set(e.name, c);
      continue;
    }
    if (e.name === 'box exec') {
      // Its usage errors as the testbed runner has always said them: "testbed: unknown option --bogus".
      c.configureOutput({
        outputError: (str, write) => write(str.replace(/^error: /, 'testbed: ').replace(/'(-[^']*)'/g, '$1')),
      });
    }
    const area = e.area;
    c.action((...args: unknown[]) => (AREAS[area]().handlers as Record<string, Handler>)[e.name](...args));
  }
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
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`xenlight: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
