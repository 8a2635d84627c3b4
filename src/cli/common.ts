// What every `xenlight` subcommand shares: one Host per command, domain arguments as xl reads
// them, --json or xl's text, xl's number formats and units.
import { InvalidArgumentError } from 'commander';
import type { Domain } from '../core/domain';
import { Host } from '../core/host';

/** stdout of the command; tests and the JSON mode write through this. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}

/** Prints `value` as JSON with --json, else the text that `text()` makes. */
export function print(json: boolean | undefined, value: unknown, text: () => string): void {
  out(json ? JSON.stringify(value, null, 2) : text());
}

/** Runs `fn` with a Host opened for this command and closed after it, even on failure. */
export async function withHost<T>(fn: (host: Host) => Promise<T>): Promise<T> {
  const host = await Host.open();
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

/** A domain as xl names it on its command line: a domid (all digits) or a name. */
export function domainRef(arg: string): number | string {
  return /^\d+$/.test(arg) ? Number(arg) : arg;
}

export function openDomain(host: Host, arg: string): Promise<Domain> {
  return host.domain(domainRef(arg));
}

/** C's %-Ns / %Ns. */
export const left = (s: string | number, width: number): string => String(s).padEnd(width);
export const right = (s: string | number, width: number): string => String(s).padStart(width);

/**
 * Seconds from nanoseconds as xl prints them: `(float)ns / 1e9` with %.1f — the cast to a
 * 32-bit float first, as xl does, so the tenths agree where the float rounds.
 */
export const seconds1 = (ns: number): string => (Math.fround(ns) / 1e9).toFixed(1);

/** Thrown by a handler to end the command with this exit status (box run: the command's). */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

// ------------------------------------------------------------------ argument parsers
// Commander argument parsers (the command table's): a usage error (exit 2) for what is not of the kind.

/** A whole number in [min, max]; without a max the message says ">= min". */
export const intArg =
  (what: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `${what} must be a whole number >= ${min}`
          : `${what} must be a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };

/**
 * xl's memory sizes (parse_mem_size_kb): a whole number with an optional unit b, k, m, g or t;
 * no unit means MiB. Returns MiB; the API takes whole MiB, so a size that is not one is refused.
 */
export function memoryMiBArg(v: string): number {
  const m = /^(\d+)([bkmgt]?)$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError('memory is a whole number with an optional unit b, k, m, g or t (default m)');
  const shift: Record<string, number> = { b: -20, k: -10, '': 0, m: 0, g: 10, t: 20 };
  const mib = Number(m[1]) * 2 ** shift[m[2].toLowerCase()];
  if (!Number.isInteger(mib) || mib < 1) throw new InvalidArgumentError(`${v} is not a whole number of MiB`);
  return mib;
}

/** libxl's enum names are snake_case; xl prints some of them in other words. */
export function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

/** One of xl trigger's names. */
export function triggerArg(v: string): string {
  if (!['power', 'sleep', 'nmi', 'init', 'reset', 's3resume'].includes(v)) throw new InvalidArgumentError('unknown trigger');
  return v;
}

/** tmem's domain argument: a domid, or all (also as -a). */
export function tmemTarget(v: string): number | 'all' {
  if (v === 'all' || v === '-a') return 'all';
  return intArg('domid', 0, 0x7fef)(v);
}

/** vcpu-pin's vCPU: a number or all. */
export const vcpuOrAll = (v: string): number | 'all' => (v === 'all' ? 'all' : intArg('vcpu', 0, 511)(v));

/** The box's: seconds > 0, the machine's MiB (>= 512), a TCP port, NAME=value (repeatable). */
export function secondsArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
}
export function boxMiBArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 512) throw new InvalidArgumentError('must be a whole number of MiB >= 512');
  return n;
}
export function tcpPort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a TCP port, 1-65535');
  return n;
}
export function envPair(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const m = /^([A-Za-z_]\w*)=(.*)$/s.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not NAME=value`);
  return { ...prev, [m[1]]: m[2] };
}
/** `box exec`'s numbers, as the testbed runner read them: any number > 0. */
export const positiveNumber =
  (what: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} needs a positive number`);
    return n;
  };
