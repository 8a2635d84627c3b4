// Domain subcommands of `xenlight`, named and printed as xl's: list, create, console, the
// lifecycle verbs, memory and vCPUs, save/restore, migrate, dump-core.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import { InvalidArgumentError } from 'commander';
import { DomainInfo, memoryMiB, stateString } from '../core/domain-info';
import { XenError } from '../core/errors';
import type { Host } from '../core/host';
import type { ParsedXlConfig, XlConfigOptions, XlVersion } from '../xlcfg';
import { domainRef, left, openDomain, out, print, right, seconds1, withHost } from './common';
import { progressReporter } from './progress';

// ------------------------------------------------------------------ xl's tables (pure)

const LIST_HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)';

/** `xl list` (-v: UUID, reason code, security label; -c: cpupool), xl's printf widths. */
export function formatList(
  domains: DomainInfo[],
  opts: { verbose?: boolean; context?: boolean; cpupool?: (id: number) => string } = {},
): string {
  let header = LIST_HEADER;
  if (opts.verbose) header += '   UUID                            Reason-Code\tSecurity Label';
  if (opts.context && !opts.verbose) header += '   Security Label';
  if (opts.cpupool) header += '         Cpupool';
  const lines = [header];
  for (const d of domains) {
    let line =
      `${left(d.name ?? '(null)', 40)} ${right(d.domid, 5)} ${right(memoryMiB(d), 5)} ${right(d.vcpusOnline, 5)}     ` +
      `${stateString(d)}  ${right(seconds1(d.cpuTimeNs), 8)}`;
    if (opts.verbose) line += ` ${d.uuid} ${right(d.shutdown ? reasonCode(d).toString(16) : '-', 8)}`;
    if (opts.verbose || opts.context) line += ` ${right(d.ssidLabel ?? '-', 16)}`;
    if (opts.cpupool) line += right(opts.cpupool(d.cpupoolId), 16);
    lines.push(line);
  }
  return lines.join('\n');
}

const REASON_CODES = ['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'];
function reasonCode(d: DomainInfo): number {
  const i = REASON_CODES.indexOf(d.shutdownReason);
  return i < 0 ? 255 : i;
}

// ------------------------------------------------------------------ helpers

/** The xl.cfg parser, loaded only by the commands that read a configuration. */
function xlcfg(): typeof import('../xlcfg/parse-config') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../xlcfg/parse-config') as typeof import('../xlcfg/parse-config');
}
function parseXlConfig(text: string, opts: XlConfigOptions): ParsedXlConfig {
  return xlcfg().parseXlConfig(text, opts);
}

/**
 * The xl to follow without a Host (create's dry run): the running hypervisor's, from
 * /sys/hypervisor/version (dom0 under Xen); 4.17's where there is none.
 */
function hypervisorXlVersion(): XlVersion | undefined {
  try {
    const read = (f: string) => Number(fs.readFileSync(`/sys/hypervisor/version/${f}`, 'utf8').trim());
    const [major, minor] = [read('major'), read('minor')];
    return Number.isInteger(major) && Number.isInteger(minor) ? xlcfg().xlVersionOf(major, minor) : undefined;
  } catch {
    return undefined;
  }
}

/** The xl of a Host's Xen version. */
async function hostXlVersion(host: Host): Promise<XlVersion> {
  const info = await host.info();
  return xlcfg().xlVersionOf(info.xenMajor, info.xenMinor);
}

function readConfigFile(file: string, extra: string[]): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new XenError(`create: cannot read ${file}: ${(err as Error).message}`, {
      code: 'ERR_INVALID_ARG',
      op: 'create',
      cause: err,
    });
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
export function sshHost(v: string): string {
  if (v.startsWith('-') || /\s/.test(v) || v.length === 0)
    throw new InvalidArgumentError('a host is one word not starting with "-"');
  return v;
}

export function hostPort(v: string): { host: string; port: number } {
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
    spawn(process.execPath, [path.join(__dirname, 'main.js'), 'monitor', String(domid)], {
      detached: true,
      stdio: ['ignore', log, log],
    }).unref();
  } finally {
    fs.closeSync(log);
  }
}

async function eachDomain(host: Host, args: string[], all: boolean, fn: (arg: string) => Promise<void>): Promise<void> {
  const targets = all ? (await host.listDomains()).filter((d) => d.domid !== 0).map((d) => String(d.domid)) : args;
  if (!all && targets.length === 0) throw new InvalidArgumentError('name a domain (or -a for all)');
  await Promise.all(targets.map(fn));
}

// ------------------------------------------------------------------ handlers
// What each command does, by its name in the command table (commands.ts), which holds its
// arguments, options and help.

type ListOptions = { long: boolean; verbose: boolean; context: boolean; cpupool: boolean; json: boolean };
type StartOptions = { paused: boolean; foreground: boolean; monitor: boolean; quiet: boolean; json: boolean };

export const handlers = {
  list: (dom: string | undefined, o: ListOptions) =>
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
      print(o.json, domains, () =>
        formatList(domains, {
          verbose: o.verbose,
          context: o.context,
          cpupool: pools && ((id) => pools!.get(id) ?? '(null)'),
        }),
      );
    }),

  domid: (name: string) => withHost(async (host) => out(String((await host.domain(name)).id))),

  domname: (id: number) => withHost(async (host) => out(await (await host.domain(id)).name())),

  create: (file: string, extra: string[], o: StartOptions & { console: boolean; dryrun: boolean }) => {
    const text = readConfigFile(file, extra);
    if (!o.quiet) process.stderr.write(`Parsing config from ${file}\n`);
    if (o.dryrun) {
      const parsed = parseXlConfig(text, { path: file, xen: hypervisorXlVersion() });
      for (const w of parsed.warnings) process.stderr.write(`${w}\n`);
      return out(JSON.stringify(parsed.config, null, 4));
    }
    return withHost(async (host) => {
      const dom = await host.createDomain(text, {
        path: file,
        paused: o.paused,
        monitor: o.foreground,
        onWarning: (w) => process.stderr.write(`${w}\n`),
        onLifecycle: (e) =>
          process.stderr.write(
            `domain ${e.domid}: ${e.reason}: ${e.action}` + `${e.newDomid === undefined ? '' : ` (now domain ${e.newDomid})`}\n`,
          ),
      });
      const name = await dom.name();
      if (!o.foreground && o.monitor) spawnMonitor(dom.id, name);
      if (o.json) out(JSON.stringify({ domid: dom.id, name }));
      if (o.console) await attachConsole(await dom.console());
      if (o.foreground) await waitForEnd(host, dom.id);
    });
  },

  console: (dom: string, o: { type: 'pv' | 'serial'; num: number }) =>
    withHost(async (host) => {
      const d = await openDomain(host, dom);
      await attachConsole(await d.console({ type: o.type, index: o.num }));
    }),

  pause: (dom: string) => withHost(async (host) => (await openDomain(host, dom)).pause()),
  unpause: (dom: string) => withHost(async (host) => (await openDomain(host, dom)).unpause()),
  suspend: (dom: string) => withHost(async (host) => (await openDomain(host, dom)).suspend()),
  resume: (dom: string) => withHost(async (host) => (await openDomain(host, dom)).resume()),

  destroy: (dom: string) => withHost(async (host) => (await openDomain(host, dom)).destroy()),

  shutdown: (doms: string[], o: { all: boolean; wait: boolean; timeout: number }) =>
    withHost((host) =>
      eachDomain(host, doms, o.all, async (dom) => {
        const d = await openDomain(host, dom);
        await d.shutdown({ wait: o.wait, timeoutMs: o.timeout ? o.timeout * 1000 : undefined });
      }),
    ),

  reboot: (doms: string[], o: { all: boolean }) =>
    withHost((host) => eachDomain(host, doms, o.all, async (dom) => (await openDomain(host, dom)).reboot())),

  rename: (dom: string, name: string) => withHost(async (host) => (await openDomain(host, dom)).rename(name)),

  'mem-set': (dom: string, mib: number) => withHost(async (host) => (await openDomain(host, dom)).setMemory(mib)),

  'mem-max': (dom: string, mib: number) => withHost(async (host) => (await openDomain(host, dom)).setMaxMemory(mib)),

  'vcpu-set': (dom: string, n: number) => withHost(async (host) => (await openDomain(host, dom)).setVcpus(n)),

  sysrq: (dom: string, key: string) => withHost(async (host) => (await openDomain(host, dom)).sendSysrq(key)),

  trigger: (dom: string, trigger: 'power', vcpu: number) =>
    withHost(async (host) => (await openDomain(host, dom)).sendTrigger(trigger, vcpu)),

  'dump-core': (dom: string, file: string) => withHost(async (host) => (await openDomain(host, dom)).coreDump(file)),

  save: (dom: string, file: string, o: { checkpoint: boolean; quiet: boolean }) =>
    withHost(async (host) => {
      const d = await openDomain(host, dom);
      const info = await d.info();
      const progress = progressReporter(`save ${info.name ?? d.id}`, info.memoryKiB * 1024, { quiet: o.quiet });
      // Through a stream, not a path: libxl reports no progress when it writes a file itself.
      const target = fs.createWriteStream(file, { mode: 0o600 });
      try {
        await d.save(target, { keepRunning: o.checkpoint, onProgress: progress.listener });
      } finally {
        progress.stop();
      }
    }),

  restore: (a: string | undefined, b: string | undefined, o: StartOptions) =>
    withHost(async (host) => {
      if (a === undefined) throw new InvalidArgumentError('name the saved file');
      const [cfg, file] = b === undefined ? [undefined, a] : [a, b];
      const config =
        cfg === undefined
          ? undefined
          : parseXlConfig(readConfigFile(cfg, []), { path: cfg, xen: await hostXlVersion(host) }).config;
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
        dom = await host.restoreDomain(source, {
          paused: o.paused,
          config,
          monitor: o.foreground,
          onProgress: progress.listener,
        });
      } finally {
        progress.stop();
      }
      const name = await dom.name();
      if (!o.foreground && o.monitor) spawnMonitor(dom.id, name);
      if (o.json) out(JSON.stringify({ domid: dom.id, name }));
      if (o.foreground) await waitForEnd(host, dom.id);
    }),

  migrate: (
    dom: string,
    dest: string | undefined,
    o: { sshCommand: string; receiveCommand: string; tcp?: { host: string; port: number }; debug: boolean; quiet: boolean },
  ) =>
    withHost(async (host) => {
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
      const progress = progressReporter(`migrate ${info.name ?? d.id}`, info.memoryKiB * 1024, { quiet: o.quiet });
      try {
        await d.migrate(stream, { debug: o.debug, onProgress: progress.listener });
      } finally {
        progress.stop();
        stream.destroy();
      }
      if (child) await child;
    }),

  'migrate-receive': (o: {
    listen?: { host: string; port: number };
    paused: boolean;
    foreground: boolean;
    monitor: boolean;
    quiet: boolean;
  }) =>
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
    }),

  monitor: (dom: string) =>
    withHost(async (host) => {
      // The monitor's watches do not hold Node's loop open; this process exists for them.
      const alive = setInterval(() => undefined, 2 ** 30);
      const d = await openDomain(host, dom);
      process.stdout.write(`${new Date().toISOString()} monitoring domain ${d.id}\n`);
      try {
        await host.monitor(d, {
          onLifecycle: (e) =>
            process.stdout.write(
              `${new Date().toISOString()} domain ${e.domid} (${e.name}): ${e.reason}: ` +
                `${e.action}${e.newDomid === undefined ? '' : `, now domain ${e.newDomid}`}${e.error ? `, failed: ${String(e.error)}` : ''}\n`,
            ),
        });
      } finally {
        clearInterval(alive);
      }
      process.stdout.write(`${new Date().toISOString()} domain gone; monitor ends\n`);
    }),
};

async function waitForEnd(host: Host, domid: number): Promise<void> {
  const d = await host.domain(domid).catch(() => undefined);
  if (!d) return;
  await d.waitFor('death').catch((err: unknown) => {
    if (!(err instanceof XenError) || err.code !== 'ERROR_DOMAIN_NOTFOUND') throw err;
  });
}

export { domainRef };
