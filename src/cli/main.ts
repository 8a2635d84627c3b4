#!/usr/bin/env node
// The `xenlight` command (commander). Exit codes: 0 ok, 1 a Xen error (its message on stderr),
// 2 usage. Each subcommand lives with its area: top.ts, exporter (src/exporter.ts).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { XenError } from '../errors';
import { serveMetrics } from '../exporter';
import { Host } from '../host';
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
    .configureOutput({ outputError: (str, write) => write(str) });

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

  p.command('exporter')
    .description('Serve Prometheus metrics of the host and its domains (read-only)')
    .option('-l, --listen <address>', 'host:port, [v6]:port or a port (loopback)', '127.0.0.1:9603')
    .option('--path <path>', 'metrics path', '/metrics')
    .option('--min-interval <ms>', 'reuse a sample younger than this', positiveInt('min-interval'), 1000)
    .action(async (o: { listen: string; path: string; minInterval: number }) => {
      const host = await Host.open();
      const srv = await serveMetrics(host, { listen: o.listen, path: o.path, minIntervalMs: o.minInterval });
      process.stderr.write(`xenlight exporter: listening on http://${srv.address}${o.path}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await srv.close();
      await host.close();
    });
  return p;
}

export async function main(argv = process.argv): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof XenError) {
      process.stderr.write(`xenlight: ${e.message}\n`);
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
