// Host subcommands of `xenlight`: info, dmesg, claims, psr-cmt-*, tmem-*, exporter.
import { InvalidArgumentError } from 'commander';
import { formatList } from './domain';
import type { Claims, CmtReport, CmtType } from '../monitor/hostdiag';
import { type HostInfo, XL_INFO_NAMES } from '../core/host';
import { left, out, print, right, withHost } from './common';

// ------------------------------------------------------------------ xl's text (pure)

/**
 * `xl info [prefix]`: "key<pad to 23>: value" lines; with a prefix, as xl's maybe_printf, only
 * the values of the keys that start with it.
 */
export function formatInfo(info: HostInfo, prefix?: string): string {
  const lines: string[] = [];
  for (const [key, field] of Object.entries(XL_INFO_NAMES)) {
    const v = info[field];
    // virt_caps is printed as ":%s%s…" with a space before each capability.
    const line =
      key === 'virt_caps' ? `${left(key, 23)}:${(v as string[]).map((c) => ` ${c}`).join('')}` : `${left(key, 23)}: ${String(v)}`;
    if (prefix === undefined) lines.push(line);
    else if (key.startsWith(prefix) && line[line.indexOf(':') + 1] === ' ') lines.push(line.slice(line.indexOf(':') + 2));
  }
  return lines.join('\n');
}

/** `xl claims`: xl list's columns plus Claimed (MiB). */
export function formatClaims(c: Claims): string {
  const header = 'Name                                        ID   Mem VCPUs\tState\tTime(s)  Claimed';
  return [
    header,
    ...c.domains.map(
      (d) =>
        `${left(d.name ?? '(null)', 40)} ${right(d.domid, 5)} ${right(d.memoryMiB, 5)} ${right(d.vcpus, 5)}     ` +
        `${d.state}  ${right((Math.fround(d.cpuTimeNs) / 1e9).toFixed(1), 8)} ${right(d.claimedMiB, 5)}`,
    ),
  ].join('\n');
}

/** `xl psr-cmt-show`: one line per monitored domain, a column per socket. */
export function formatCmt(r: CmtReport): string {
  const unit = r.type === 'cache-occupancy' ? ' KB' : ' KB/s';
  const lines = [
    `Total RDT domains monitored: ${r.domains.length}`,
    '',
    `${left('Name', 40)} ${right('ID', 5)}${r.sockets.map((s) => right(`Socket ${s.socket}`, 16)).join('')}`,
  ];
  if (r.type === 'cache-occupancy') {
    lines.push(`${left('Total L3 Cache Size', 46)}${r.sockets.map((s) => right(`${s.l3CacheKiB} KB`, 16)).join('')}`);
  }
  for (const d of r.domains) {
    lines.push(
      `${left(d.name ?? '(null)', 40)} ${right(d.domid, 5)}${d.values.map((v) => right(`${Math.round(v.value)}${unit}`, 16)).join('')}`,
    );
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ handlers
// By command name; the command table (commands.ts) holds their arguments, options and help.

const cmt = (verb: 'attach' | 'detach') => (dom: string) =>
  withHost(async (host) => {
    const d = await host.domain(/^\d+$/.test(dom) ? Number(dom) : dom);
    await host.cmt[verb](d.id);
  });

const tmemFreeze = (verb: 'freeze' | 'thaw') => (domid: number | 'all' | undefined, o: { all: boolean }) =>
  withHost((host) => host.tmem[verb](o.all ? 'all' : (domid ?? 'all')));

export const handlers = {
  info: (key: string | undefined, o: { json: boolean }) =>
    withHost(async (host) => {
      const info = await host.info();
      print(o.json, info, () => formatInfo(info, key));
    }),

  dmesg: (o: { clear: boolean; json: boolean }) =>
    withHost(async (host) => {
      const lines = await host.dmesg({ clear: o.clear });
      print(o.json, lines, () => lines.join('\n'));
    }),

  claims: (o: { json: boolean }) =>
    withHost(async (host) => {
      const c = await host.claims();
      print(o.json, c, () => formatClaims(c));
    }),

  'psr-cmt-attach': cmt('attach'),
  'psr-cmt-detach': cmt('detach'),
  'psr-cmt-show': (type: CmtType, o: { json: boolean; type?: CmtType }) =>
    withHost(async (host) => {
      const r = await host.cmt.show(o.type ?? type);
      print(o.json, r, () => formatCmt(r));
    }),

  'tmem-list': (domid: number | 'all' | undefined, o: { all: boolean; long: boolean }) =>
    withHost(async (host) => out(await host.tmem.list({ domid: o.all ? 'all' : (domid ?? 'all'), long: o.long }))),
  'tmem-freeze': tmemFreeze('freeze'),
  'tmem-thaw': tmemFreeze('thaw'),
  'tmem-set': (domid: number | 'all', o: { weight?: number; compress?: number }) =>
    withHost(async (host) => {
      if (o.weight === undefined && o.compress === undefined) throw new InvalidArgumentError('give -w or -p');
      if (o.weight !== undefined) await host.tmem.set(domid, 'weight', o.weight);
      if (o.compress !== undefined) await host.tmem.set(domid, 'compress', o.compress);
    }),
  'tmem-shared-auth': (domid: number | 'all', o: { uuid: string; auth: number }) =>
    withHost((host) => host.tmem.sharedAuth(domid, o.uuid, o.auth === 1)),
  'tmem-freeable': () => withHost(async (host) => out(String(await host.tmem.freeable()))),

  exporter: (o: { listen: string; path: string; minInterval: number }) =>
    withHost(async (host) => {
      // Loaded here: prom-client is the dearest module to load, and only this command needs it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { serveMetrics } = require('../monitor/exporter') as typeof import('../monitor/exporter');
      const srv = await serveMetrics(host, { listen: o.listen, path: o.path, minIntervalMs: o.minInterval });
      process.stderr.write(`xenlight exporter: listening on http://${srv.address}${o.path}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await srv.close();
    }),
};

export { formatList };
