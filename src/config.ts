// Domain configurations in libxl's JSON shape: checks that keep libxl's parser safe.
import { invalidArg } from './errors';
import type { DomainConfig } from './types/libxl';

/**
 * libxl's JSON parser aborts the whole process (an assertion) when one object names two
 * variants of a keyed union ("type.pv" and "type.hvm"); refuse that, and anything that is not
 * a plain JSON object, before it reaches C.
 */
export function checkDomainConfig(config: unknown, op: string): DomainConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalidArg(op, 'a domain configuration is an object in libxl\'s JSON shape (libxl_domain_config)');
  }
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${where}[${i}]`));
      return;
    }
    if (typeof value === 'number' && !Number.isFinite(value)) throw invalidArg(op, `${where} is not a finite number`);
    if (typeof value === 'string' && value.includes('\0')) throw invalidArg(op, `${where} contains a NUL character`);
    if (typeof value !== 'object' || value === null) return;
    const variants = new Map<string, string>();
    for (const key of Object.keys(value)) {
      const dot = key.indexOf('.');
      if (dot > 0) {
        const union = key.slice(0, dot);
        const other = variants.get(union);
        if (other) throw invalidArg(op, `${where} has two variants of "${union}": "${other}" and "${key}"`);
        variants.set(union, key);
      }
      walk((value as Record<string, unknown>)[key], `${where}.${key}`);
    }
  };
  walk(config, 'config');
  const name = (config as DomainConfig).c_info?.name;
  if (typeof name !== 'string' || name.length === 0) throw invalidArg(op, 'c_info.name must be a non-empty string');
  return config as DomainConfig;
}
