// Domain configurations in libxl's JSON shape: checks that keep libxl's parser safe, and that
// keep it from silently dropping what the running libxl's version does not have.
import { invalidArg, XenError } from './errors';
import type { DomainConfig } from '../generated/libxl-types';
import {
  SHAPES,
  VALUE_VERSIONS,
  XEN_VERSIONS,
  type KnownXenVersion,
  type ShapeMember,
  type ShapeType,
} from '../generated/libxl-versions';

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

/**
 * The Xen version whose types (src/generated/libxl-versions.ts) stand for libxl of `version`
 * ("4.17"): that version, else the newest older one xenlight has types for, else the oldest.
 */
export function typesVersionFor(version: string): KnownXenVersion {
  let found: KnownXenVersion = XEN_VERSIONS[0];
  for (const v of XEN_VERSIONS) if (v.localeCompare(version, 'en', { numeric: true }) <= 0) found = v;
  return found;
}

/** "needs Xen 4.20" for what the newer versions have, "is only in Xen 4.17's libxl" otherwise. */
function needs(versions: readonly KnownXenVersion[]): string {
  const newest = XEN_VERSIONS.slice(XEN_VERSIONS.length - versions.length);
  const isSuffix = versions.every((v, i) => v === newest[i]);
  return isSuffix ? `needs Xen ${versions[0]}` : `is only in Xen ${versions.join(', ')}'s libxl`;
}

/**
 * Refuses (ERR_XEN_VERSION) a configuration that uses a field, a keyed-union variant or an enum
 * value that libxl of `xenVersion` (the running one, "4.17") does not have: libxl's JSON parser
 * would silently ignore such a field. The message names the field's path (b_info.llc_colors).
 * `config` has passed checkDomainConfig. Walks only the paths of SHAPES, so a configuration
 * costs a few property lookups.
 */
export function checkConfigVersion(config: DomainConfig, xenVersion: string, op: string): void {
  const as = typesVersionFor(xenVersion);
  const host =
    as === xenVersion
      ? `this host's libxl is Xen ${xenVersion}'s`
      : `this host's libxl is Xen ${xenVersion}'s (checked as ${as}'s, the nearest older version xenlight has types for)`;
  const refuse = (what: string, versions: readonly KnownXenVersion[]): never => {
    throw new XenError(`${op}: ${what} ${needs(versions)}, but ${host}, which would silently ignore it`, {
      code: 'ERR_XEN_VERSION',
      op,
    });
  };
  const members = (value: unknown, shape: Readonly<Record<string, ShapeMember>>, where: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const key of Object.keys(value)) {
      const member = shape[key];
      if (!member) continue;
      const path = where ? `${where}.${key}` : key;
      if (member.v && !member.v.includes(as)) refuse(path, member.v);
      if (member.t !== undefined) walk((value as Record<string, unknown>)[key], member.t, path);
    }
  };
  const walk = (value: unknown, type: ShapeType, where: string): void => {
    if (typeof type === 'string') {
      const struct = SHAPES[type];
      if (struct) return members(value, struct, where);
      const values = VALUE_VERSIONS[type];
      // libxl matches enum strings case-insensitively.
      const versions = values && typeof value === 'string' ? values[value.toLowerCase()] : undefined;
      if (versions && !versions.includes(as)) refuse(`${where} = ${JSON.stringify(value)} (${type})`, versions);
      return;
    }
    if ('a' in type) {
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, type.a, `${where}[${i}]`));
      return;
    }
    members(value, type.o, where);
  };
  walk(config, 'libxl_domain_config', '');
}
