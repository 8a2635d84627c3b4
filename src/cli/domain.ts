// Domain subcommands of `xenlight`, named and printed as xl's: list, create, console, the
// lifecycle verbs, memory and vCPUs, save/restore, migrate, dump-core.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DomainInfo, memoryMiB, stateString } from '../core/domain-info';
import { XenError } from '../core/errors';
import type { Host } from '../core/host';
import type { ParsedXlConfig, XlConfigOptions } from '../xlcfg';
import { domainRef, intArg, left, memoryMiBArg, openDomain, out, print, right, seconds1, withHost } from './common';
import { progressReporter } from './progress';

// ------------------------------------------------------------------ xl's tables (pure)

const LIST_HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)';

/** `xl list` (-v: UUID, reason code, security label; -c: cpupool), xl's printf widths. */
export function formatList(domains: DomainInfo[], opts: { verbose?: boolean; context?: boolean; cpupool?: (id: number) => string } = {}): string {
  let header = LIST_HEADER;
  if (opts.verbose) header += '   UUID                            Reason-Code\tSecurity Label';
  if (opts.context && !opts.verbose) header += '   Security Label';
  if (opts.cpupool) header += '         Cpupool';
  const lines = [header];
  for (const d of domains) {
    let line = `${left(d.name ?? '(null)', 40)} ${right(d.domid, 5)} ${right(memoryMiB(d), 5)} ${right(d.vcpu_online, 5)}     ` +
      `${stateString(d)}  ${right(seconds1(d.cpu_time), 8)}`;
    if (opts.verbose) line += ` ${d.uuid} ${right(d.shutdown ? reasonCode(d).toString(16) : '-', 8)}`;
    if (opts.verbose || opts.context) line += ` ${right(d.ssid_label ?? '-', 16)}`;
    if (opts.cpupool) line += right(opts.cpupool(d.cpupool), 16);
    lines.push(line);
  }
  return lines.join('\n');
}

const REASON_CODES = ['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'];
function reasonCode(d: DomainInfo): number {
  const i = REASON_CODES.indexOf(d.shutdown_reason);
  return i < 0 ? 255 : i;
}

// ------------------------------------------------------------------ helpers

/** The xl.cfg parser, loaded only by the commands that read a configuration. */
function parseXlConfig(text: string, opts: XlConfigOptions): ParsedXlConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../xlcfg/parse-config') as typeof import('../xlcfg/parse-config')).parseXlConfig(text, opts);
}

function readConfigFile(file: string, extra: string[]): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new XenError(`create: cannot read ${file}: ${(err as Error).message}`, { code: 'ERR_INVALID_ARG', op: 'create', cause: err });
  }
  // xl create cfg key=value…: each extra argument is one more line of the file.
  return extra.length ? `${text}\n${extra.join('\n')}\n` : text;
}

/**
 * Copies the terminal (or a pipe) to the guest's console and back. On a terminal Ctrl-] (as xl
 * console) detaches; from a pipe, it ends once stdin has ended and the guest has been quiet for
 * `quietMs`.
 */
async function attachConsole(con: Duplex, quietMs = 700): Promise<void> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) stdin.setRawMode(true);
  await new Promise<void>((resolve, reject) => {
    let quiet: NodeJS.Timeout | undefined;
    let inputEnded = false;
    const done = () => {
      clearTimeout(quiet);
      stdin.off('data', onInput);
      resolve();
    };
    const arm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    };
    const onInput = (b: Buffer) => {
      if (tty && b.includes(0x1d)) return done();
      con.write(b);
    };
    con.on('data', (b: Buffer) => {
      process.stdout.write(b);
      if (inputEnded) arm();
    });
    con.once('error', reject);
    con.once('close', done);
    stdin.on('data', onInput);
    stdin.once('end', () => {
      inputEnded = true;
      arm();
    });
    stdin.resume();
  });
  if (tty) stdin.setRawMode(false);
  stdin.pause();
  con.destroy();
}

/** A child's stdin and stdout as one duplex stream (xl's migration runs over ssh this way). */
function childStream(argv: string[]): { stream: Duplex; done: Promise<number | null> } {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
  const done = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return { stream, done };
}

/** ssh's destination argument: one word, not an option (`-oProxyCommand=…` would run a command). */
function sshHost(v: string): string {
  if (v.startsWith('-') || /\s/.test(v) || v.length === 0) throw new InvalidArgumentError('a host is one word not starting with "-"');
  return v;
}

function hostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('an address is host:port, [v6]:port or a port');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new InvalidArgumentError('a port is 1–65535');
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

function acceptOne(addr: { host: string; port: number }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer({ pauseOnConnect: true }, (sock) => {
      srv.close();
      resolve(sock);
    });
    srv.once('error', reject);
    srv.listen(addr.port, addr.host, () => process.stderr.write(`migrate-receive: listening on ${addr.host}:${addr.port}\n`));
  });
}

/**
 * As `xl create` forks its monitor: a detached `xenlight monitor <domid>` applies the guest's
 * on_poweroff/on_reboot/on_crash actions once this command has exited. Its log (each action,
 * with the time) is /var/log/xen/xenlight-<name>.log, like xl's xl-<name>.log.
 */
function spawnMonitor(domid: number, name: string): void {
  const dir = '/var/log/xen';
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.openSync(path.join(dir, `xenlight-${name}.log`), 'a', 0o600);
  try {
    spawn(process.execPath, [path.join(__dirname, 'main.js'), 'monitor', String(domid)],
      { detached: true, stdio: ['ignore', log, log] }).unref();
  } finally {
    fs.closeSync(log);
  }
}

async function eachDomain(host: Host, args: string[], all: boolean, fn: (arg: string) => Promise<void>): Promise<void> {
  const targets = all ? (await host.listDomains()).filter((d) => d.domid !== 0).map((d) => String(d.domid)) : args;
  if (!all && targets.length === 0) throw new InvalidArgumentError('name a domain (or -a for all)');
  await Promise.all(targets.map(fn));
}

// ------------------------------------------------------------------ commands

export function addDomainCommands(p: Command): void {
  p.command('list').alias('li')
    .description('List domains (xl list)')
    .argument('[domain]', 'only this domain')
    .option('-l, --long', "each domain's libxl configuration, as JSON", false)
    .option('-v, --verbose', 'UUID, shutdown reason code and security label', false)
    .option('-Z, --context', 'security label', false)
    .option('-c, --cpupool', 'the CPU pool of each domain', false)
    .option('--json', 'the domains as JSON (libxl_dominfo with names)', false)
    .action((dom: string | undefined, o: { long: boolean; verbose: boolean; context: boolean; cpupool: boolean; json: boolean }) =>
      withHost(async (host) => {
        const domains = dom === undefined ? await host.listDomains() : [await (await openDomain(host, dom)).info()];
        if (o.long) {
          const configs = [];
          for (const d of domains) {
            try {
              configs.push({ domid: d.domid, config: await (await host.domain(d.domid)).config() });
            } catch (err) {
              // xl list -l skips a domain whose configuration cannot be retrieved (it is dying).
              if (!(err instanceof XenError)) throw err;
            }
          }
          return out(JSON.stringify(configs, null, 4));
        }
        let pools: Map<number, string> | undefined;
        if (o.cpupool) pools = new Map((await host.cpupools.list()).map((c) => [c.poolid, c.name]));
        print(o.json, domains, () => formatList(domains, {
          verbose: o.verbose, context: o.context, cpupool: pools && ((id) => pools!.get(id) ?? '(null)'),
        }));
      }));

  p.command('domid').description('The domid of a domain name').argument('<name>')
    .action((name: string) => withHost(async (host) => out(String((await host.domain(name)).id))));

  p.command('domname').description('The name of a domid').argument('<domid>', 'domid', intArg('domid', 0, 0x7fef))
    .action((id: number) => withHost(async (host) => out(await (await host.domain(id)).name())));

  p.command('create')
    .description('Create a domain from an xl.cfg file; extra key=value arguments are added to it (xl create)')
    .argument('<file>', 'xl.cfg file')
    .argument('[key=value...]', 'more configuration lines')
    .option('-p, --paused', 'leave the domain paused after it is created', false)
    .option('-c, --console', "attach to the domain's console after creation", false)
    .option('-F, --foreground', "stay in the foreground and apply its on_poweroff/on_reboot/on_crash actions until it dies", false)
    .option('-e, --no-monitor', "leave its on_poweroff/on_reboot/on_crash actions to no one (as xl create -e)")
    .option('-n, --dryrun', 'print the libxl configuration (JSON) and create nothing', false)
    .option('-q, --quiet', 'no progress lines on stderr', false)
    .option('--json', 'print {"domid", "name"} of the new domain', false)
    .action((file: string, extra: string[], o: { paused: boolean; console: boolean; foreground: boolean; monitor: boolean;
      dryrun: boolean; quiet: boolean; json: boolean }) => {
      const text = readConfigFile(file, extra);
      if (!o.quiet) process.stderr.write(`Parsing config from ${file}\n`);
      if (o.dryrun) {
        const parsed = parseXlConfig(text, { path: file });
        for (const w of parsed.warnings) process.stderr.write(`${w}\n`);
        return out(JSON.stringify(parsed.config, null, 4));
      }
      return withHost(async (host) => {
        const dom = await host.createDomain(text, {
          path: file, paused: o.paused, monitor: o.foreground,
          onWarning: (w) => process.stderr.write(`${w}\n`),
          onLifecycle: (e) => process.stderr.write(`domain ${e.domid}: ${e.reason}: ${e.action}` +
            `${e.newDomid === undefined ? '' : ` (now domain ${e.newDomid})`}\n`),
        });
        const name = await dom.name();
        if (!o.foreground && o.monitor) spawnMonitor(dom.id, name);
        if (o.json) out(JSON.stringify({ domid: dom.id, name }));
        if (o.console) await attachConsole(await dom.console());
        if (o.foreground) await waitForEnd(host, dom.id);
      });
    });

  p.command('console')
    .description("Attach to a domain's console (Ctrl-] detaches on a terminal; from a pipe, ends after stdin does)")
    .argument('<domain>')
    .addOption(new Option('-t, --type <type>', 'console type').choices(['pv', 'serial']).default('pv'))
    .option('-n, --num <n>', 'console number', intArg('console number', 0, 255), 0)
    .action((dom: string, o: { type: 'pv' | 'serial'; num: number }) => withHost(async (host) => {
      const d = await openDomain(host, dom);
      await attachConsole(await d.console({ type: o.type, index: o.num }));
    }));

  for (const [verb, what] of [['pause', 'Pause'], ['unpause', 'Unpause']] as const) {
    p.command(verb).description(`${what} a domain (xl ${verb})`).argument('<domain>')
      .action((dom: string) => withHost(async (host) => (await openDomain(host, dom))[verb]()));
  }

  p.command('destroy').description('Terminate a domain at once (xl destroy)').argument('<domain>')
    .action((dom: string) => withHost(async (host) => (await openDomain(host, dom)).destroy()));

  p.command('shutdown').description('Ask domains to shut down (xl shutdown)').argument('[domain...]')
    .option('-a, --all', 'every domain but dom0', false)
    .option('-w, --wait', 'wait until each has shut down', false)
    .option('--timeout <seconds>', 'with -w: give up after this long', intArg('timeout', 1), 0)
    .action((doms: string[], o: { all: boolean; wait: boolean; timeout: number }) => withHost((host) =>
      eachDomain(host, doms, o.all, async (dom) => {
        const d = await openDomain(host, dom);
        await d.shutdown({ wait: o.wait, timeoutMs: o.timeout ? o.timeout * 1000 : undefined });
      })));

  p.command('reboot').description('Ask domains to reboot (xl reboot)').argument('[domain...]')
    .option('-a, --all', 'every domain but dom0', false)
    .action((doms: string[], o: { all: boolean }) => withHost((host) =>
      eachDomain(host, doms, o.all, async (dom) => (await openDomain(host, dom)).reboot())));

  p.command('rename').description('Rename a domain (xl rename)').argument('<domain>').argument('<new-name>')
    .action((dom: string, name: string) => withHost(async (host) => (await openDomain(host, dom)).rename(name)));

  p.command('mem-set').description("Set a domain's memory target (xl mem-set; MiB unless a unit b/k/m/g/t)")
    .argument('<domain>').argument('<memory>', 'size', memoryMiBArg)
    .action((dom: string, mib: number) => withHost(async (host) => (await openDomain(host, dom)).setMemory(mib)));

  p.command('mem-max').description("Set a domain's maximum memory (xl mem-max)")
    .argument('<domain>').argument('<memory>', 'size', memoryMiBArg)
    .action((dom: string, mib: number) => withHost(async (host) => (await openDomain(host, dom)).setMaxMemory(mib)));

  p.command('vcpu-set').description('Set the number of online vCPUs (xl vcpu-set)')
    .argument('<domain>').argument('<count>', 'vCPUs', intArg('count', 1, 512))
    .action((dom: string, n: number) => withHost(async (host) => (await openDomain(host, dom)).setVcpus(n)));

  p.command('sysrq').description('Send a magic SysRq key to the guest kernel (xl sysrq)')
    .argument('<domain>').argument('<key>')
    .action((dom: string, key: string) => withHost(async (host) => (await openDomain(host, dom)).sendSysrq(key)));

  p.command('trigger').description('Send a trigger: power, sleep, nmi, init, reset, s3resume (xl trigger)')
    .argument('<domain>')
    .argument('<trigger>', 'trigger', (v: string) => {
      if (!['power', 'sleep', 'nmi', 'init', 'reset', 's3resume'].includes(v)) throw new InvalidArgumentError('unknown trigger');
      return v;
    })
    .argument('[vcpu]', 'vCPU', intArg('vcpu', 0, 511), 0)
    .action((dom: string, trigger: 'power', vcpu: number) =>
      withHost(async (host) => (await openDomain(host, dom)).sendTrigger(trigger, vcpu)));

  p.command('dump-core').description("Write a domain's memory to an ELF core file, mode 0600 (xl dump-core)")
    .argument('<domain>').argument('<file>')
    .action((dom: string, file: string) => withHost(async (host) => (await openDomain(host, dom)).coreDump(file)));

  p.command('save').description('Save a domain to a file in xl\'s format, then destroy it (xl save)')
    .argument('<domain>').argument('<file>')
    .option('-c, --checkpoint', 'leave the domain running (a checkpoint)', false)
    .option('-q, --quiet', 'no progress on stderr', false)
    .action((dom: string, file: string, o: { checkpoint: boolean; quiet: boolean }) => withHost(async (host) => {
      const d = await openDomain(host, dom);
      const info = await d.info();
      const progress = progressReporter(`save ${info.name ?? d.id}`, info.current_memkb * 1024, { quiet: o.quiet });
      // Through a stream, not a path: libxl reports no progress when it writes a file itself.
      const target = fs.createWriteStream(file, { mode: 0o600 });
      try {
        await d.save(target, { keepRunning: o.checkpoint, onProgress: progress.listener });
      } finally {
        progress.stop();
      }
    }));

  p.command('restore').description('Restore a domain saved by save or xl save (xl restore)')
    .argument('[config-or-file]', 'an xl.cfg file to use instead of the saved configuration, then the file')
    .argument('[file]')
    .option('-p, --paused', 'leave the domain paused', false)
    .option('-F, --foreground', 'stay and apply its lifecycle actions until it dies', false)
    .option('-e, --no-monitor', 'leave its lifecycle actions to no one')
    .option('-q, --quiet', 'no progress on stderr', false)
    .option('--json', 'print {"domid", "name"}', false)
    .action((a: string | undefined, b: string | undefined, o: { paused: boolean; foreground: boolean; monitor: boolean; quiet: boolean;
      json: boolean }) =>
      withHost(async (host) => {
        if (a === undefined) throw new InvalidArgumentError('name the saved file');
        const [cfg, file] = b === undefined ? [undefined, a] : [a, b];
        const config = cfg === undefined ? undefined : parseXlConfig(readConfigFile(cfg, []), { path: cfg }).config;
        let size = 0;
        try {
          size = fs.statSync(file).size;
        } catch {
          // restoreDomain names the missing file in its error.
        }
        const progress = progressReporter(`restore ${file}`, size, { quiet: o.quiet });
        let dom;
        try {
          const source = size > 0 ? fs.createReadStream(file) : file;
          dom = await host.restoreDomain(source, { paused: o.paused, config, monitor: o.foreground, onProgress: progress.listener });
        } finally {
          progress.stop();
        }
        const name = await dom.name();
        if (!o.foreground && o.monitor) spawnMonitor(dom.id, name);
        if (o.json) out(JSON.stringify({ domid: dom.id, name }));
        if (o.foreground) await waitForEnd(host, dom.id);
      }));

  p.command('migrate')
    .description('Live-migrate a domain: over ssh to `xenlight migrate-receive` (as xl migrate), or over TCP')
    .argument('<domain>')
    .argument('[host]', 'destination for ssh', sshHost)
    .option('-s, --ssh-command <command>', 'ssh program and its options (split on spaces; no shell)', 'ssh')
    .option('-C, --receive-command <command>', 'the command run on the destination', 'xenlight migrate-receive')
    .option('--tcp <address>', 'connect to `xenlight migrate-receive --listen` at host:port instead of ssh', hostPort)
    .option('--debug', 'libxl verifies the transfer (xl migrate --debug)', false)
    .option('-q, --quiet', 'no progress on stderr', false)
    .action((dom: string, dest: string | undefined, o: { sshCommand: string; receiveCommand: string; tcp?: { host: string; port: number };
      debug: boolean; quiet: boolean }) => withHost(async (host) => {
      if (!o.tcp && dest === undefined) throw new InvalidArgumentError('name the destination host (or --tcp host:port)');
      const d = await openDomain(host, dom);
      const info = await d.info();
      let stream: Duplex;
      let child: Promise<number | null> | undefined;
      if (o.tcp) {
        const sock = net.connect(o.tcp.port, o.tcp.host);
        await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
        stream = sock;
      } else {
        const argv = [...o.sshCommand.split(/\s+/).filter(Boolean), dest!, ...o.receiveCommand.split(/\s+/).filter(Boolean)];
        ({ stream, done: child } = childStream(argv));
      }
      const progress = progressReporter(`migrate ${info.name ?? d.id}`, info.current_memkb * 1024, { quiet: o.quiet });
      try {
        await d.migrate(stream, { debug: o.debug, onProgress: progress.listener });
      } finally {
        progress.stop();
        stream.destroy();
      }
      if (child) await child;
    }));

  p.command('migrate-receive')
    .description('Receive a migrating domain on stdin/stdout (what migrate runs over ssh) or one TCP connection')
    .option('--listen <address>', 'accept one TCP connection at host:port (default 127.0.0.1)', hostPort)
    .option('-p, --paused', 'leave the domain paused', false)
    .option('-F, --foreground', 'stay and apply its lifecycle actions until it dies', false)
    .option('-e, --no-monitor', 'leave its lifecycle actions to no one')
    .option('-q, --quiet', 'no progress on stderr', false)
    .action((o: { listen?: { host: string; port: number }; paused: boolean; foreground: boolean; monitor: boolean; quiet: boolean }) =>
      withHost(async (host) => {
        const stream = o.listen ? await acceptOne(o.listen) : Duplex.from({ readable: process.stdin, writable: process.stdout });
        const progress = progressReporter('migrate-receive', 0, { quiet: o.quiet });
        let dom;
        try {
          dom = await host.receiveMigration(stream, { paused: o.paused, monitor: o.foreground, onProgress: progress.listener });
        } finally {
          progress.stop();
        }
        if (o.listen) stream.destroy();
        const name = await dom.name();
        if (!o.foreground && o.monitor) spawnMonitor(dom.id, name);
        process.stderr.write(`migrate-receive: domain ${dom.id} (${name}) is running here\n`);
        if (o.foreground) await waitForEnd(host, dom.id);
      }));

  p.command('monitor', { hidden: true })
    .description("Apply a running guest's lifecycle actions until it is gone (what create leaves in the background)")
    .argument('<domain>')
    .action((dom: string) => withHost(async (host) => {
      // The monitor's watches do not hold Node's loop open; this process exists for them.
      const alive = setInterval(() => undefined, 2 ** 30);
      const d = await openDomain(host, dom);
      process.stdout.write(`${new Date().toISOString()} monitoring domain ${d.id}\n`);
      try {
        await host.monitor(d, {
          onLifecycle: (e) => process.stdout.write(`${new Date().toISOString()} domain ${e.domid} (${e.name}): ${e.reason}: ` +
            `${e.action}${e.newDomid === undefined ? '' : `, now domain ${e.newDomid}`}${e.error ? `, failed: ${String(e.error)}` : ''}\n`),
        });
      } finally {
        clearInterval(alive);
      }
      process.stdout.write(`${new Date().toISOString()} domain gone; monitor ends\n`);
    }));
}

async function waitForEnd(host: Host, domid: number): Promise<void> {
  const d = await host.domain(domid).catch(() => undefined);
  if (!d) return;
  await d.waitFor('death').catch((err: unknown) => {
    if (!(err instanceof XenError) || err.code !== 'ERROR_DOMAIN_NOTFOUND') throw err;
  });
}

export { domainRef };
