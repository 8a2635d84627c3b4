// Scheduling subcommands of `xenlight`: vcpu-list, vcpu-pin, sched-credit, sched-credit2,
// sched-rtds, cpupool-*. Text as xl prints it (tools/xl/xl_vcpu.c, xl_sched.c, xl_cpupool.c).
import * as fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { DomainInfo } from '../core/domain-info';
import type { Host } from '../core/host';
import type { CpupoolInfo, CreditSchedParams, PoolSchedParams, RtdsSchedParams, VcpuInfo } from '../sched/sched';
import type { Scheduler } from '../generated/libxl-types';
import { intArg, left, openDomain, print, right, seconds1, withHost, yesNo } from './common';

// ------------------------------------------------------------------ xl's tables (pure)

export interface NamedVcpus {
  name: string | null;
  domid: number;
  vcpus: VcpuInfo[];
}

/** `xl vcpu-list`. */
export function formatVcpuList(domains: NamedVcpus[]): string {
  const lines = [
    `${left('Name', 32)} ${right('ID', 5)} ${right('VCPU', 5)} ${right('CPU', 5)} ${right('State', 5)} ` +
      `${right('Time(s)', 9)} Affinity (Hard / Soft)`,
  ];
  for (const d of domains) {
    for (const v of d.vcpus) {
      const where =
        v.online && v.cpu !== null
          ? `${right(v.cpu, 5)} ${right(v.running ? 'r' : '-', 3)}${v.blocked ? 'b' : '-'}- `
          : `${right('-', 5)} ${right('-', 3)}-p `;
      lines.push(
        `${left(d.name ?? '(null)', 32)} ${right(d.domid, 5)} ${right(v.vcpu, 5)}${where}${right(seconds1(v.cpuTimeNs), 9)}  ${v.affinity}`,
      );
    }
  }
  return lines.join('\n');
}

const CREDIT_HEADER = `${left('Name', 33)} ${right('ID', 4)} ${right('Weight', 6)} ${right('Cap', 4)}`;
export const creditRow = (name: string | null, domid: number, p: CreditSchedParams) =>
  `${left(name ?? '(null)', 33)} ${right(domid, 4)} ${right(p.weight, 6)} ${right(p.cap, 4)}`;

/** The pool line of `xl sched-credit` / `sched-credit2`. */
export function poolLine(pool: string, sched: 'credit' | 'credit2', params: PoolSchedParams | undefined): string {
  if (!params) return `Cpupool ${pool}: [sched params unavailable]`;
  return sched === 'credit'
    ? `Cpupool ${pool}: tslice=${params.tsliceMs}ms ratelimit=${params.ratelimitUs}us migration-delay=${params.vcpuMigrDelayUs}us`
    : `Cpupool ${pool}: ratelimit=${params.ratelimitUs}us`;
}

export interface PoolSched<P> {
  pool: string;
  params?: PoolSchedParams;
  domains: { name: string | null; domid: number; params: P }[];
}

/** `xl sched-credit[2]` without -d: per pool of that scheduler, its line, a header, its domains. */
export function formatCreditPools(sched: 'credit' | 'credit2', pools: PoolSched<CreditSchedParams>[]): string {
  return pools
    .flatMap((p) => [
      poolLine(p.pool, sched, p.params),
      CREDIT_HEADER,
      ...p.domains.map((d) => creditRow(d.name, d.domid, d.params)),
    ])
    .join('\n');
}

const RTDS_HEADER = `${left('Name', 33)} ${right('ID', 4)} ${right('Period', 9)} ${right('Budget', 9)} ${right('Extratime', 10)}`;
const RTDS_VCPU_HEADER = `${left('Name', 33)} ${right('ID', 4)} ${right('VCPU', 4)} ${right('Period', 9)} ${right('Budget', 9)} ${right('Extratime', 10)}`;

/** `xl sched-rtds` (per domain: its first vCPU's figures, as libxl's domain-wide get) or -v all. */
export function formatRtds(pools: PoolSched<RtdsSchedParams>[], perVcpu: boolean): string {
  return pools
    .flatMap((p) => [
      `Cpupool ${p.pool}: sched=RTDS`,
      perVcpu ? RTDS_VCPU_HEADER : RTDS_HEADER,
      ...p.domains.flatMap((d) =>
        perVcpu
          ? d.params.vcpus.map(
              (v) =>
                `${left(d.name ?? '(null)', 33)} ${right(d.domid, 4)} ${right(v.vcpu, 4)} ` +
                `${right(v.periodUs, 9)} ${right(v.budgetUs, 9)} ${right(yesNo(v.extratime), 10)}`,
            )
          : d.params.vcpus
              .slice(0, 1)
              .map(
                (v) =>
                  `${left(d.name ?? '(null)', 33)} ${right(d.domid, 4)} ` +
                  `${right(v.periodUs, 9)} ${right(v.budgetUs, 9)} ${right(yesNo(v.extratime), 10)}`,
              ),
      ),
    ])
    .join('\n');
}

/** `xl cpupool-list [-c]`. */
export function formatCpupoolList(pools: CpupoolInfo[], cpuList: boolean): string {
  const lines = [left('Name', 19) + (cpuList ? 'CPU list' : 'CPUs   Sched     Active   Domain count')];
  for (const p of pools) {
    lines.push(
      left(p.name, 19) +
        (cpuList
          ? p.cpus.join(',')
          : `${right(p.cpus.length, 3)} ${right(p.scheduler, 9)}       y       ${right(p.domainCount, 4)}`),
    );
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ helpers

async function poolsOf<P>(
  host: Host,
  sched: Scheduler,
  only: string | undefined,
  params: (p: CpupoolInfo) => Promise<PoolSchedParams | undefined>,
  domainParams: (d: DomainInfo) => Promise<P>,
): Promise<PoolSched<P>[]> {
  const pools = (await host.cpupools.list()).filter((p) => p.scheduler === sched);
  if (only !== undefined) {
    const want = await host.cpupools.get(/^\d+$/.test(only) ? Number(only) : only);
    pools.splice(0, pools.length, ...pools.filter((p) => p.poolid === want.poolid));
  }
  const domains = await host.listDomains();
  const result: PoolSched<P>[] = [];
  for (const pool of pools) {
    const members = domains.filter((d) => d.cpupool === pool.poolid);
    result.push({
      pool: pool.name,
      params: await params(pool),
      domains: await Promise.all(members.map(async (d) => ({ name: d.name, domid: d.domid, params: await domainParams(d) }))),
    });
  }
  return result;
}

const poolRef = (v: string): string | number => (/^\d+$/.test(v) ? Number(v) : v);

/** xl's cpupool-create configuration: `key = "value"` lines from a file and the command line. */
export function parsePoolConfig(lines: string[]): { name?: string; sched?: string; cpus?: string } {
  const conf: Record<string, string> = {};
  for (const raw of lines) {
    for (const part of raw.split(/[\n;]/)) {
      const line = part.replace(/#.*/, '').trim();
      if (!line) continue;
      const m = /^(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|\[([^\]]*)\]|(\S+))$/.exec(line);
      if (!m) throw new InvalidArgumentError(`cannot read ${JSON.stringify(line)}: expected key="value"`);
      const list = m[4]
        ?.split(',')
        .map((s) => s.trim().replace(/^["']|["']$/g, ''))
        .join(',');
      conf[m[1]] = m[2] ?? m[3] ?? list ?? m[5];
    }
  }
  const unknown = Object.keys(conf).filter((k) => !['name', 'sched', 'cpus'].includes(k));
  if (unknown.length) throw new InvalidArgumentError(`unknown cpupool key ${unknown.join(', ')} (name, sched, cpus)`);
  return conf;
}

// ------------------------------------------------------------------ handlers
// By command name; the command table (commands.ts) holds their arguments, options and help.

type CreditOptions = {
  domain?: string;
  weight?: number;
  cap?: number;
  cpupool?: string;
  schedparam: boolean;
  ratelimit_us?: number;
  tslice_ms?: number;
  migration_delay_us?: number;
  json: boolean;
};

/** `sched-credit` and `sched-credit2`: the same options (credit has two more pool parameters). */
const schedCredit = (sched: 'credit' | 'credit2') => (o: CreditOptions) =>
  withHost(async (host) => {
    const domainOpts = o.domain !== undefined || o.weight !== undefined || o.cap !== undefined;
    if ((o.cpupool !== undefined || o.schedparam) && domainOpts) {
      throw new InvalidArgumentError('a cpupool or -s cannot be combined with domain options');
    }
    if (o.domain === undefined && (o.weight !== undefined || o.cap !== undefined))
      throw new InvalidArgumentError('give the domain with -d');
    const poolSets = { tsliceMs: o.tslice_ms, ratelimitUs: o.ratelimit_us, vcpuMigrDelayUs: o.migration_delay_us };
    const setsPool = Object.values(poolSets).some((v) => v !== undefined);
    if (!o.schedparam && setsPool) throw new InvalidArgumentError('pool parameters are set with -s');
    if (o.schedparam) {
      const pool = o.cpupool === undefined ? 0 : poolRef(o.cpupool);
      if (setsPool) return host.cpupools.setSchedParams(pool, poolSets);
      const info = await host.cpupools.get(pool);
      const params = await host.cpupools.schedParams(pool);
      return print(o.json, { pool: info.name, ...params }, () => poolLine(info.name, sched, params));
    }
    if (o.domain !== undefined) {
      const d = await openDomain(host, o.domain);
      if (o.weight !== undefined || o.cap !== undefined) return d.setSchedParams({ weight: o.weight, cap: o.cap });
      const params = await d.schedParams();
      if (params.scheduler !== sched) {
        throw new InvalidArgumentError(`domain ${d.id} is scheduled by ${params.scheduler}, not ${sched}`);
      }
      const name = await d.name();
      return print(o.json, { name, domid: d.id, ...params }, () => `${CREDIT_HEADER}\n${creditRow(name, d.id, params)}`);
    }
    const pools = await poolsOf<CreditSchedParams>(
      host,
      sched,
      o.cpupool,
      async (pool) => host.cpupools.schedParams(pool.poolid).catch(() => undefined),
      async (d) => (await (await host.domain(d.domid)).schedParams()) as CreditSchedParams,
    );
    print(o.json, pools, () => formatCreditPools(sched, pools));
  });

export const handlers = {
  'vcpu-list': (doms: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const targets = doms.length
        ? await Promise.all(doms.map((a) => openDomain(host, a)))
        : await Promise.all((await host.listDomains()).map((d) => host.domain(d.domid)));
      const rows: NamedVcpus[] = [];
      for (const d of targets) rows.push({ name: await d.name(), domid: d.id, vcpus: await d.vcpus() });
      print(o.json, rows, () => formatVcpuList(rows));
    }),

  'vcpu-pin': (dom: string, vcpu: number | 'all', hard: string, soft: string | undefined) =>
    withHost(async (host) => {
      const d = await openDomain(host, dom);
      await d.pinVcpu(vcpu, hard === '-' ? null : hard, soft === undefined || soft === '-' ? null : soft);
    }),

  'sched-credit': schedCredit('credit'),
  'sched-credit2': schedCredit('credit2'),

  'sched-rtds': (o: {
    domain?: string;
    vcpuid?: string[];
    period?: number;
    budget?: number;
    extratime?: number;
    cpupool?: string;
    json: boolean;
  }) =>
    withHost(async (host) => {
      const sets = o.period !== undefined || o.budget !== undefined || o.extratime !== undefined;
      if (sets && o.domain === undefined) throw new InvalidArgumentError('give the domain with -d');
      const vcpus = o.vcpuid === undefined || o.vcpuid.includes('all') ? 'all' : o.vcpuid.map(intArg('vcpu', 0, 511));
      if (o.domain !== undefined) {
        const d = await openDomain(host, o.domain);
        if (sets)
          return d.setSchedParams({
            periodUs: o.period,
            budgetUs: o.budget,
            extratime: o.extratime === undefined ? undefined : o.extratime === 1,
            vcpus,
          });
        const params = await d.schedParams();
        if (params.scheduler !== 'rtds')
          throw new InvalidArgumentError(`domain ${d.id} is scheduled by ${params.scheduler}, not rtds`);
        const pool = { pool: '', domains: [{ name: await d.name(), domid: d.id, params: params as RtdsSchedParams }] };
        return print(o.json, pool.domains[0], () =>
          formatRtds([pool], o.vcpuid !== undefined)
            .split('\n')
            .slice(1)
            .join('\n'),
        );
      }
      const pools = await poolsOf<RtdsSchedParams>(
        host,
        'rtds',
        o.cpupool,
        async () => undefined,
        async (d) => (await (await host.domain(d.domid)).schedParams()) as RtdsSchedParams,
      );
      print(o.json, pools, () => formatRtds(pools, o.vcpuid !== undefined));
    }),

  'cpupool-list': (pool: string | undefined, o: { cpus: boolean; json: boolean }) =>
    withHost(async (host) => {
      const pools = pool === undefined ? await host.cpupools.list() : [await host.cpupools.get(poolRef(pool))];
      print(o.json, pools, () => formatCpupoolList(pools, o.cpus));
    }),

  'cpupool-create': (args: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const [first, ...rest] = args;
      const fromFile = first !== undefined && !first.includes('=');
      const lines = fromFile ? [fs.readFileSync(first, 'utf8'), ...rest] : args;
      const conf = parsePoolConfig(lines);
      if (!conf.name) throw new InvalidArgumentError('Missing cpupool name!');
      const pool = await host.cpupools.create({
        name: conf.name,
        scheduler: conf.sched as Scheduler | undefined,
        cpus: conf.cpus,
      });
      print(o.json, pool, () =>
        [
          `Using config file "${fromFile ? first : 'command line'}"`,
          `cpupool name:   ${pool.name}`,
          `scheduler:      ${pool.scheduler}`,
          `number of cpus: ${pool.cpus.length}`,
        ].join('\n'),
      );
    }),

  'cpupool-destroy': (pool: string) => withHost((host) => host.cpupools.destroy(poolRef(pool))),
  'cpupool-rename': (pool: string, name: string) => withHost((host) => host.cpupools.rename(poolRef(pool), name)),
  'cpupool-cpu-add': (pool: string, cpus: string) => withHost((host) => host.cpupools.addCpus(poolRef(pool), cpus)),
  'cpupool-cpu-remove': (pool: string, cpus: string) => withHost((host) => host.cpupools.removeCpus(poolRef(pool), cpus)),
  'cpupool-migrate': (dom: string, pool: string) =>
    withHost(async (host) => host.cpupools.moveDomain((await openDomain(host, dom)).id, poolRef(pool))),
};
