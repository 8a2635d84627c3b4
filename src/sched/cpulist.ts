// CPU lists as xl writes them: "0-1", "all", "node:0", "nodes:0-1", "all,^1", and how xl
// prints a CPU map back ("all", "0,2-3", "none").
import { badNumber, invalidArg, outOfRange } from '../core/errors';

export interface CpuLayout {
  /** Number of CPUs the host can have (xl's map length: max_cpu_id + 1). */
  nrCpus: number;
  /** CPUs of a NUMA node, or undefined if there is no such node. */
  cpusOfNode(node: number): number[] | undefined;
}

/** C's isspace(): the blanks allowed around items (String.prototype.trim also takes Unicode ones). */
const trimC = (s: string) => s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');

/** Xen's node IDs are a u8 (nodeid_t; 0xff is "no node"). */
const MAX_NODES = 255;

/** A CPU set: a list string in xl's syntax, or CPU numbers. */
export type CpuSpec = string | readonly number[];

function parseRange(text: string, op: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw invalidArg(op, `invalid ${what} range ${JSON.stringify(text)}`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (b < a) throw outOfRange(op, `invalid ${what} range ${JSON.stringify(text)}: the end is before the start`);
  return [a, b];
}

/**
 * Parses xl's CPU list syntax (xl.cfg(5) "cpus", `xl vcpu-pin`, `xl cpupool-create`): comma
 * separated items applied left to right, each a CPU or range, `node:N`/`nodes:N-M`, or `all`,
 * and `^` before any of them (but `all`) removes instead of adding. Returns sorted CPUs.
 */
export function parseCpuList(spec: CpuSpec, layout: CpuLayout, op = 'cpu list'): number[] {
  const set = new Set<number>();
  const check = (cpu: number) => {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= layout.nrCpus) {
      throw badNumber(op, cpu, `no such CPU: ${cpu} (this host has CPUs 0-${layout.nrCpus - 1})`);
    }
    return cpu;
  };
  if (typeof spec !== 'string') {
    if (!Array.isArray(spec)) throw invalidArg(op, 'a CPU list is a string like "0-1,^1" or an array of CPU numbers');
    for (const cpu of spec) set.add(check(cpu));
    return [...set].sort((a, b) => a - b);
  }
  if (trimC(spec) === '') throw invalidArg(op, 'empty CPU list');
  for (const raw of spec.split(',')) {
    let item = trimC(raw);
    const not = item.startsWith('^');
    if (not) item = item.slice(1);
    const nodes = /^nodes?:/.exec(item);
    if (nodes) item = item.slice(nodes[0].length);
    if (item === 'all') {
      if (not) throw invalidArg(op, `"^" cannot be combined with "all" in ${JSON.stringify(spec)}`);
      for (let cpu = 0; cpu < layout.nrCpus; cpu++) set.add(cpu);
      continue;
    }
    const [a, b] = parseRange(item, op, nodes ? 'node' : 'CPU');
    for (let i = a; i <= b; i++) {
      const cpus = nodes ? (i < MAX_NODES ? layout.cpusOfNode(i) : undefined) : [check(i)];
      if (!cpus) throw outOfRange(op, `no such NUMA node: ${i}`);
      for (const cpu of cpus) {
        if (not) set.delete(cpu);
        else set.add(cpu);
      }
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** Prints a CPU set the way xl does (print_bitmap): "all", "none", or ranges "0,2-3". */
export function formatCpuList(cpus: Iterable<number>, nrCpus: number): string {
  const set = new Set(cpus);
  const parts: string[] = [];
  let start = -1;
  for (let i = 0; i <= nrCpus; i++) {
    const on = i < nrCpus && set.has(i);
    if (on && start < 0) start = i;
    if (!on && start >= 0) {
      parts.push(i - 1 > start ? `${start}-${i - 1}` : `${start}`);
      start = -1;
    }
  }
  if (parts.length === 0) return 'none';
  if (parts.length === 1 && parts[0] === (nrCpus > 1 ? `0-${nrCpus - 1}` : '0')) return 'all';
  return parts.join(',');
}
