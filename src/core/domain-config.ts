// Domain configurations in libxl's JSON shape: checks that keep libxl's parser safe.
import { invalidArg } from './errors';
import type { DomainConfig } from '../generated/libxl-types';

/** Deeper than any libxl_domain_config (b_info.type.hvm.vnc.enable is 4 levels). */
const MAX_DEPTH = 64;

/**
 * libxl's JSON parser aborts the whole process (an assertion) when one object names two
 * variants of a keyed union ("type.pv" and "type.hvm"); refuse that, and anything that is not
 * a plain JSON object, before it reaches C.
 */
export function checkDomainConfig(config: unknown, op: string): DomainConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalidArg(op, "a domain configuration is an object in libxl's JSON shape (libxl_domain_config)");
  }
  // Depth first with an explicit stack: a save image's JSON can nest as deep as it likes. An
  // object met again (the parser shares one CPU map between vCPUs) is checked once; one met
  // again inside itself is a cycle, which JSON cannot hold.
  const done = new Set<object>();
  const onPath = new Set<object>();
  const stack: { value: unknown; where: string; depth: number; exit?: boolean }[] = [
    { value: config, where: 'config', depth: 0 },
  ];
  while (stack.length) {
    const { value, where, depth, exit } = stack.pop()!;
    if (exit) {
      onPath.delete(value as object);
      done.add(value as object);
      continue;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) throw invalidArg(op, `${where} is not a finite number`);
    if (typeof value === 'bigint') throw invalidArg(op, `${where} is a BigInt (JSON has no such numbers)`);
    if (typeof value === 'string' && value.includes('\0')) throw invalidArg(op, `${where} contains a NUL character`);
    if (typeof value !== 'object' || value === null || done.has(value)) continue;
    if (onPath.has(value)) throw invalidArg(op, `${where} contains itself (a cycle)`);
    if (depth >= MAX_DEPTH)
      throw invalidArg(op, `${where} is nested more than ${MAX_DEPTH} levels deep (libxl's configuration has a handful)`);
    onPath.add(value);
    stack.push({ value, where, depth, exit: true });
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], where: `${where}[${i}]`, depth: depth + 1 });
      continue;
    }
    const variants = new Map<string, string>();
    const keys = Object.keys(value);
    for (const key of keys) {
      if (key.includes('\0')) throw invalidArg(op, `${where} has a key with a NUL character`);
      const dot = key.indexOf('.');
      if (dot > 0) {
        const union = key.slice(0, dot);
        const other = variants.get(union);
        if (other) throw invalidArg(op, `${where} has two variants of "${union}": "${other}" and "${key}"`);
        variants.set(union, key);
      }
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      stack.push({ value: (value as Record<string, unknown>)[keys[i]], where: `${where}.${keys[i]}`, depth: depth + 1 });
    }
  }
  const name = (config as DomainConfig).c_info?.name;
  if (typeof name !== 'string' || name.length === 0) throw invalidArg(op, 'c_info.name must be a non-empty string');
  return config as DomainConfig;
}
