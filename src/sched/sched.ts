// Scheduling and CPUs: per-domain and per-vCPU scheduler parameters (credit, credit2, RTDS),
// pool-wide parameters, vCPU lists and pinning, CPU pools, host topology. Validation and
// defaults live here; native/sched/ only converts and calls libxl.
import { CpuLayout, CpuSpec, formatCpuList, parseCpuList } from './cpulist';
import { badNumber, invalidArg, outOfRange, XenError } from '../core/errors';
import type { NativeContext } from '../core/native';
import type { DomainTarget } from '../core/domain-info';
import type {
  Cpupoolinfo,
  Cputopology,
  DomainSchedParams,
  Numainfo,
  Scheduler,
  VcpuSchedParams,
  Vcpuinfo,
} from '../generated/libxl-types';

export type SchedulerName = Scheduler;

/** Parameters of a domain under credit or credit2 (`xl sched-credit[2] -d`). */
export interface CreditSchedParams {
  scheduler: 'credit' | 'credit2';
  /** Relative share, 1–65535 (default 256). */
  weight: number;
  /** Upper bound in percent of one CPU; 0 = no cap. */
  cap: number;
}

/** Parameters of one vCPU under RTDS (`xl sched-rtds -v`). */
export interface RtdsVcpuParams {
  vcpu: number;
  periodUs: number;
  budgetUs: number;
  /** @deprecated Use `periodUs`. */
  readonly period: number;
  /** @deprecated Use `budgetUs`. */
  readonly budget: number;
  /** May the vCPU run beyond its budget when there is idle time. */
  extratime: boolean;
}

export interface RtdsSchedParams {
  scheduler: 'rtds';
  vcpus: RtdsVcpuParams[];
}

export interface OtherSchedParams {
  scheduler: Exclude<Scheduler, 'credit' | 'credit2' | 'rtds'>;
}

export type DomainSchedulerParams = CreditSchedParams | RtdsSchedParams | OtherSchedParams;

/** What may be set: weight/cap for credit and credit2, periodUs/budgetUs/extratime for RTDS. */
export interface SetSchedParams {
  weight?: number;
  cap?: number;
  periodUs?: number;
  budgetUs?: number;
  /** @deprecated Use `periodUs`. */
  period?: number;
  /** @deprecated Use `budgetUs`. */
  budget?: number;
  extratime?: boolean;
  /** RTDS: the vCPUs to set (default 'all'). */
  vcpus?: 'all' | readonly number[];
}

/** One vCPU as `xl vcpu-list` shows it. */
export interface VcpuInfo {
  vcpu: number;
  /** The physical CPU it is on; null when offline. */
  cpu: number | null;
  online: boolean;
  running: boolean;
  blocked: boolean;
  /** CPU time used. */
  cpuTimeNs: number;
  /** @deprecated Use `cpuTimeNs`. */
  time: number;
  hard: number[];
  soft: number[];
  /** The affinity columns as xl prints them, e.g. "all / all", "1 / 0-1". */
  affinity: string;
}

/** libxl's names of the pool parameters → the package's. */
const POOL_PARAM_NAMES = { tslice_ms: 'tsliceMs', ratelimit_us: 'ratelimitUs', vcpu_migr_delay_us: 'vcpuMigrDelayUs' } as const;

/**
 * A pool's scheduler parameters (`xl sched-credit -s -p`): credit has all three, credit2 only
 * `ratelimitUs`. libxl's names (`tslice_ms`…) are kept as deprecated read-only aliases.
 */
export interface PoolSchedParams {
  tsliceMs?: number;
  ratelimitUs?: number;
  vcpuMigrDelayUs?: number;
  /** @deprecated Use `tsliceMs`. */
  readonly tslice_ms?: number;
  /** @deprecated Use `ratelimitUs`. */
  readonly ratelimit_us?: number;
  /** @deprecated Use `vcpuMigrDelayUs`. */
  readonly vcpu_migr_delay_us?: number;
}

/** What `cpupools.setSchedParams()` takes (libxl's names still accepted, deprecated). */
export type SetPoolSchedParams = {
  -readonly [K in keyof PoolSchedParams]?: number;
};

export interface CpupoolInfo {
  poolid: number;
  name: string;
  scheduler: Scheduler;
  domainCount: number;
  cpus: number[];
}

export interface CpuTopologyEntry {
  cpu: number;
  core: number;
  socket: number;
  node: number;
}

export interface NumaNode {
  node: number;
  /** Bytes. */
  size: number;
  free: number;
  distances: number[];
}

/** `xl info -n`: CPUs with core/socket/node, NUMA nodes with memory and distances. */
export interface Topology {
  cpus: CpuTopologyEntry[];
  nodes: NumaNode[];
}

const INVALID_ENTRY = 0xffffffff;
const UINT16 = 65535;

function intIn(op: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badNumber(op, v, `${name} must be an integer from ${min} to ${max}, not ${String(v)}`);
  }
  return v;
}

export function topology(ctx: NativeContext): Topology {
  const cpus = (JSON.parse(ctx.cpuTopology()) as Cputopology[])
    .map((t, cpu) => ({ cpu, core: t.core ?? 0, socket: t.socket ?? 0, node: t.node ?? 0 }))
    .filter((t) => t.core !== INVALID_ENTRY);
  const nodes = (JSON.parse(ctx.numaInfo()) as Numainfo[])
    .map((n, node) => ({ node, size: n.size ?? 0, free: n.free ?? 0, distances: n.dists ?? [] }))
    .filter((n) => n.size !== INVALID_ENTRY);
  return { cpus, nodes };
}

/** The host's CPU layout for parsing CPU lists (node:N needs the topology). */
export function cpuLayout(ctx: NativeContext): CpuLayout {
  const phys = JSON.parse(ctx.physinfoJson().json) as { max_cpu_id?: number };
  let topo: Topology | undefined;
  return {
    nrCpus: (phys.max_cpu_id ?? 0) + 1,
    cpusOfNode(node) {
      topo ??= topology(ctx);
      if (!topo.nodes.some((n) => n.node === node)) return undefined;
      return topo.cpus.filter((c) => c.node === node).map((c) => c.cpu);
    },
  };
}

// ---- domain scheduler parameters

export function getDomainSched(ctx: NativeContext, domid: number): DomainSchedulerParams {
  const p = JSON.parse(ctx.schedParamsGet(domid)) as DomainSchedParams;
  const scheduler = p.sched ?? 'unknown';
  if (scheduler === 'credit' || scheduler === 'credit2') {
    return { scheduler, weight: p.weight ?? 0, cap: p.cap ?? 0 };
  }
  if (scheduler === 'rtds') {
    const v = JSON.parse(ctx.vcpuSchedParamsGet(domid)) as VcpuSchedParams;
    return {
      scheduler,
      vcpus: (v.vcpus ?? []).map(
        (x) =>
          Object.defineProperties(
            { vcpu: x.vcpuid ?? 0, periodUs: x.period ?? 0, budgetUs: x.budget ?? 0, extratime: x.extratime === 1 },
            {
              period: { get: () => x.period ?? 0, enumerable: false },
              budget: { get: () => x.budget ?? 0, enumerable: false },
            },
          ) as RtdsVcpuParams,
      ),
    };
  }
  return { scheduler } as OtherSchedParams;
}

export function setDomainSched(ctx: NativeContext, domid: number, maxVcpus: number, given0: SetSchedParams): void {
  const op = `set scheduler parameters of domain ${domid}`;
  if (typeof given0 !== 'object' || given0 === null) throw invalidArg(op, 'parameters must be an object');
  // The deprecated names of 0.x count as the new ones.
  const { period, budget, ...params } = given0;
  if (period !== undefined) params.periodUs ??= period;
  if (budget !== undefined) params.budgetUs ??= budget;
  const known = ['weight', 'cap', 'periodUs', 'budgetUs', 'extratime', 'vcpus'];
  const unknown = Object.keys(params).filter((k) => !known.includes(k));
  if (unknown.length) throw invalidArg(op, `unknown parameter ${unknown.join(', ')}`);
  const { scheduler } = getDomainSched(ctx, domid);
  const given = Object.keys(params).filter((k) => (params as Record<string, unknown>)[k] !== undefined);
  const allowed: Record<string, string[]> = {
    credit: ['weight', 'cap'],
    credit2: ['weight', 'cap'],
    rtds: ['periodUs', 'budgetUs', 'extratime', 'vcpus'],
  };
  const wrong = given.filter((k) => !(allowed[scheduler] ?? []).includes(k));
  if (wrong.length) {
    throw invalidArg(
      op,
      `${wrong.join(', ')} ${wrong.length > 1 ? 'do' : 'does'} not apply to the ${scheduler} scheduler ` +
        `of domain ${domid}'s pool (it takes ${(allowed[scheduler] ?? ['nothing']).join(', ')})`,
    );
  }
  if (given.length === 0) return;
  if (scheduler === 'credit' || scheduler === 'credit2') {
    // Xen reads weight 0 as "leave unchanged": refuse it rather than silently do nothing.
    const json: DomainSchedParams = { sched: scheduler };
    if (params.weight !== undefined) json.weight = intIn(op, 'weight', params.weight, 1, UINT16);
    if (params.cap !== undefined) json.cap = intIn(op, 'cap', params.cap, 0, UINT16);
    ctx.schedParamsSet(domid, JSON.stringify(json));
    return;
  }
  // RTDS: every vCPU named gets the same period/budget/extratime; missing ones keep theirs.
  const current = (getDomainSched(ctx, domid) as RtdsSchedParams).vcpus;
  const vcpus = params.vcpus === undefined || params.vcpus === 'all' ? current.map((v) => v.vcpu) : [...params.vcpus];
  if (!Array.isArray(vcpus) || vcpus.length === 0) throw invalidArg(op, 'vcpus must be "all" or a non-empty array');
  for (const v of vcpus) intIn(op, 'vcpu', v, 0, maxVcpus - 1);
  const entries = vcpus.map((vcpu) => {
    const cur = current.find((c) => c.vcpu === vcpu);
    const period = params.periodUs ?? cur?.periodUs;
    const budget = params.budgetUs ?? cur?.budgetUs;
    intIn(op, 'period (µs)', period, 1, 2 ** 31 - 1);
    intIn(op, 'budget (µs)', budget, 1, 2 ** 31 - 1);
    if (budget! > period!) throw outOfRange(op, `budget (${budget} µs) must not exceed period (${period} µs)`);
    const extratime = params.extratime ?? cur?.extratime ?? true;
    if (typeof extratime !== 'boolean') throw invalidArg(op, 'extratime must be a boolean');
    return { vcpuid: vcpu, period, budget, extratime: extratime ? 1 : 0 };
  });
  const json: VcpuSchedParams = { sched: 'rtds', vcpus: entries };
  ctx.vcpuSchedParamsSet(domid, JSON.stringify(json), false);
}

// ---- vCPUs

export function listVcpus(ctx: NativeContext, domid: number): VcpuInfo[] {
  const { json, nrcpus } = ctx.listVcpus(domid);
  return (JSON.parse(json) as Vcpuinfo[]).map((v) => {
    const hard = v.cpumap ?? [];
    const soft = v.cpumap_soft ?? [];
    return {
      vcpu: v.vcpuid ?? 0,
      cpu: v.online ? (v.cpu ?? 0) : null,
      online: !!v.online,
      running: !!v.running,
      blocked: !!v.blocked,
      cpuTimeNs: v.vcpu_time ?? 0,
      time: v.vcpu_time ?? 0,
      hard,
      soft,
      affinity: `${formatCpuList(hard, nrcpus)} / ${formatCpuList(soft, nrcpus)}`,
    };
  });
}

/**
 * `xl vcpu-pin`: hard (and soft) affinity of one vCPU or all. null keeps an affinity as it is
 * (xl's "-").
 */
export function pinVcpu(
  ctx: NativeContext,
  domid: number,
  maxVcpus: number,
  vcpu: number | 'all',
  hard: CpuSpec | null,
  soft: CpuSpec | null = null,
): void {
  const op = `pin vCPU ${vcpu} of domain ${domid}`;
  if (vcpu !== 'all') intIn(op, 'vcpu', vcpu, 0, maxVcpus - 1);
  if (hard === null && soft === null) throw invalidArg(op, 'give a hard or a soft affinity (or both)');
  const layout = cpuLayout(ctx);
  const hardCpus = hard === null ? null : parseCpuList(hard, layout, op);
  const softCpus = soft === null ? null : parseCpuList(soft, layout, op);
  if (hardCpus?.length === 0) throw invalidArg(op, `hard affinity ${JSON.stringify(hard)} leaves no CPU`);
  ctx.setVcpuAffinity(domid, vcpu === 'all' ? -1 : vcpu, hardCpus, softCpus, maxVcpus);
}

// ---- CPU pools

function poolFrom(p: Cpupoolinfo): CpupoolInfo {
  return {
    poolid: p.poolid ?? 0,
    name: p.pool_name ?? '',
    scheduler: p.sched ?? 'unknown',
    domainCount: p.n_dom ?? 0,
    cpus: p.cpumap ?? [],
  };
}

let makeCpuPools: (ctx: (op: string) => NativeContext, domidOf: (domain: DomainTarget) => Promise<number>) => CpuPools;

/** The Host's way to make its `cpupools` (the constructor is not part of the API). */
export const newCpuPools = (ctx: (op: string) => NativeContext, domidOf: (domain: DomainTarget) => Promise<number>): CpuPools =>
  makeCpuPools(ctx, domidOf);

/** CPU pools (`xl cpupool-*`). Pools are named by name or poolid. */
export class CpuPools {
  static {
    makeCpuPools = (ctx, domidOf) => new CpuPools(ctx, domidOf);
  }

  private constructor(
    private readonly ctx: (op: string) => NativeContext,
    private readonly domidOf: (domain: DomainTarget) => Promise<number>,
  ) {}

  /** `xl cpupool-list [-c]`. */
  async list(): Promise<CpupoolInfo[]> {
    return (JSON.parse(this.ctx('list cpupools').listCpupools()) as Cpupoolinfo[]).map(poolFrom);
  }

  /** One pool, or ERR_NOT_FOUND if there is none of that name or id. */
  async get(pool: string | number): Promise<CpupoolInfo> {
    const op = `find cpupool ${JSON.stringify(pool)}`;
    if (typeof pool !== 'string' && typeof pool !== 'number') throw invalidArg(op, 'a pool is named by its name or poolid');
    const found = (await this.list()).find((p) => (typeof pool === 'number' ? p.poolid === pool : p.name === pool));
    if (!found) {
      const what = `no cpupool ${typeof pool === 'number' ? 'with id' : 'named'} ${JSON.stringify(pool)}`;
      throw new XenError(`${op}: ${what}`, { code: 'ERR_NOT_FOUND', op });
    }
    return found;
  }

  /**
   * `xl cpupool-create`: a pool with a scheduler (default: the host's) and free CPUs. Returns the
   * new pool.
   */
  async create(opts: { name: string; scheduler?: Scheduler; cpus?: CpuSpec }): Promise<CpupoolInfo> {
    const op = `create cpupool ${JSON.stringify(opts?.name)}`;
    const ctx = this.ctx(op);
    if (typeof opts?.name !== 'string' || !/^[\w.:-]{1,64}$/.test(opts.name)) {
      throw invalidArg(op, 'a pool name is 1-64 characters of letters, digits, "_", ".", ":" or "-"');
    }
    if ((await this.list()).some((p) => p.name === opts.name)) throw invalidArg(op, `a cpupool named ${opts.name} exists`);
    const scheduler = opts.scheduler ?? (ctx.scheduler() as Scheduler);
    if (!['credit', 'credit2', 'rtds', 'arinc653', 'null'].includes(scheduler)) {
      throw invalidArg(op, `unknown scheduler ${JSON.stringify(scheduler)}`);
    }
    const cpus = opts.cpus === undefined ? [] : parseCpuList(opts.cpus, cpuLayout(ctx), op);
    const free = new Set(ctx.freeCpus());
    const busy = cpus.filter((c) => !free.has(c));
    if (busy.length)
      throw invalidArg(op, `CPU ${busy.join(', ')} ${busy.length > 1 ? 'are' : 'is'} not free (remove from its pool first)`);
    const poolid = ctx.cpupoolCreate(opts.name, scheduler, cpus);
    return this.get(poolid);
  }

  /** `xl cpupool-destroy` (the pool must have no domains). */
  async destroy(pool: string | number): Promise<void> {
    const p = await this.get(pool);
    this.ctx(`destroy cpupool ${p.name}`).cpupoolDestroy(p.poolid);
  }

  /** `xl cpupool-rename`. */
  async rename(pool: string | number, name: string): Promise<void> {
    const p = await this.get(pool);
    const op = `rename cpupool ${p.name}`;
    if (typeof name !== 'string' || !/^[\w.:-]{1,64}$/.test(name)) throw invalidArg(op, 'invalid pool name');
    if ((await this.list()).some((x) => x.name === name)) throw invalidArg(op, `a cpupool named ${name} exists`);
    this.ctx(op).cpupoolRename(p.poolid, name);
  }

  /** `xl cpupool-cpu-add`: CPUs (a list or xl's syntax, "node:N" included). */
  async addCpus(pool: string | number, cpus: CpuSpec): Promise<void> {
    await this.moveCpus(pool, cpus, 'add');
  }

  /** `xl cpupool-cpu-remove`. A pool's last CPU cannot go while it has domains. */
  async removeCpus(pool: string | number, cpus: CpuSpec): Promise<void> {
    await this.moveCpus(pool, cpus, 'remove');
  }

  /** `xl cpupool-migrate`: moves a domain (dom0 included; by domid, name, `{ uuid }` or handle) into the pool. */
  async moveDomain(domain: DomainTarget, pool: string | number): Promise<void> {
    const domid = await this.domidOf(domain);
    const p = await this.get(pool);
    this.ctx(`move domain ${domid} to cpupool ${p.name}`).cpupoolMoveDomain(p.poolid, domid);
  }

  /** Pool-wide parameters: credit (tsliceMs, ratelimitUs, vcpuMigrDelayUs), credit2 (ratelimitUs). */
  async schedParams(pool: string | number): Promise<PoolSchedParams> {
    const p = await this.get(pool);
    if (p.scheduler !== 'credit' && p.scheduler !== 'credit2') {
      throw invalidArg(
        `parameters of cpupool ${p.name}`,
        `pool-wide parameters exist for credit and credit2, not ${p.scheduler}`,
      );
    }
    const raw = JSON.parse(this.ctx(`parameters of cpupool ${p.name}`).poolSchedParams(p.poolid, p.scheduler)) as Record<
      string,
      number
    >;
    const out: Record<string, number> = {};
    for (const [old, now] of Object.entries(POOL_PARAM_NAMES)) if (raw[old] !== undefined) out[now] = raw[old];
    // libxl's names of 0.x, as non-enumerable aliases (deprecated).
    for (const [old, now] of Object.entries(POOL_PARAM_NAMES)) {
      if (raw[old] !== undefined) Object.defineProperty(out, old, { get: () => out[now], enumerable: false });
    }
    return out as PoolSchedParams;
  }

  /** Sets pool-wide parameters; the ones not given keep their values. */
  async setSchedParams(pool: string | number, params: SetPoolSchedParams): Promise<void> {
    const p = await this.get(pool);
    const op = `set parameters of cpupool ${p.name}`;
    if (typeof params !== 'object' || params === null) throw invalidArg(op, 'parameters must be an object');
    const allowed: (keyof PoolSchedParams)[] =
      p.scheduler === 'credit'
        ? ['tsliceMs', 'ratelimitUs', 'vcpuMigrDelayUs']
        : p.scheduler === 'credit2'
          ? ['ratelimitUs']
          : [];
    const given = new Map<string, unknown>();
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined) continue;
      const now = (POOL_PARAM_NAMES as Record<string, string>)[k] ?? k; // a deprecated name counts as its new one
      given.set(now, v);
    }
    const wrong = [...given.keys()].filter((k) => !allowed.includes(k as keyof PoolSchedParams));
    if (wrong.length) throw invalidArg(op, `${wrong.join(', ')} does not apply to the ${p.scheduler} scheduler`);
    const current = JSON.parse(this.ctx(op).poolSchedParams(p.poolid, p.scheduler)) as Record<string, number>;
    const next: Record<string, number> = { ...current };
    for (const [old, now] of Object.entries(POOL_PARAM_NAMES)) {
      if (given.has(now)) next[old] = intIn(op, now, given.get(now), 0, 2 ** 31 - 1);
    }
    this.ctx(op).poolSchedParams(p.poolid, p.scheduler, JSON.stringify(next));
  }

  private async moveCpus(pool: string | number, spec: CpuSpec, verb: 'add' | 'remove'): Promise<void> {
    const p = await this.get(pool);
    const op = `${verb} CPUs ${JSON.stringify(spec)} ${verb === 'add' ? 'to' : 'from'} cpupool ${p.name}`;
    const ctx = this.ctx(op);
    const cpus = parseCpuList(spec, cpuLayout(ctx), op);
    if (verb === 'add') {
      const free = new Set(ctx.freeCpus());
      const busy = cpus.filter((c) => !free.has(c));
      if (busy.length) throw invalidArg(op, `CPU ${busy.join(', ')} is not free`);
    } else {
      const missing = cpus.filter((c) => !p.cpus.includes(c));
      if (missing.length) throw invalidArg(op, `CPU ${missing.join(', ')} is not in cpupool ${p.name}`);
    }
    // All or nothing: if libxl refuses one CPU, the ones already moved go back.
    const done: number[] = [];
    try {
      for (const cpu of cpus) {
        ctx.cpupoolCpu(p.poolid, verb, cpu);
        done.push(cpu);
      }
    } catch (err) {
      for (const cpu of done.reverse()) {
        try {
          ctx.cpupoolCpu(p.poolid, verb === 'add' ? 'remove' : 'add', cpu);
        } catch {
          /* the original error says more */
        }
      }
      throw err;
    }
  }
}
