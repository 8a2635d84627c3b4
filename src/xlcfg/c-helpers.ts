// What xl's parse_config_data() gets from the C library and from libxl's utility calls,
// ported with their C behaviour (strtol's base prefixes and overflow, atoi's truncation to
// int, strtok's skipping of empty pieces, libxl's case-insensitive enum names), so that the
// port in ./parse-config reads like the C it follows (tools/xl/xl_parse.c, Xen 4.17).

// ---------------------------------------------------------------- <errno.h> (Linux values)

/** EINVAL: libxlutil's "not a single value / not a list / not a number". */
export const EINVAL = 22;
/** ESRCH: libxlutil's "no such setting". */
export const ESRCH = 3;
/** ERANGE: strtol's overflow. */
export const ERANGE = 34;

// ---------------------------------------------------------------- <stdlib.h>, C integer conversions

/** <stdlib.h> strtol()/strtoul() (base 0, 10 or 16) on the whole text: value, characters used, errno. */
export function strtol(text: string, base: number, unsigned = false): { value: bigint; used: number; errno: number } {
  const m = /^[ \t\n\v\f\r]*([+-]?)/.exec(text)!;
  let i = m[0].length;
  const neg = m[1] === '-';
  let b = base;
  if ((b === 0 || b === 16) && /^0[xX][0-9a-fA-F]/.test(text.slice(i))) {
    i += 2;
    b = 16;
  } else if (b === 0) b = text[i] === '0' ? 8 : 10;
  const digits = b === 16 ? /^[0-9a-fA-F]+/ : b === 8 ? /^[0-7]+/ : /^[0-9]+/;
  const d = digits.exec(text.slice(i));
  if (!d) return { value: 0n, used: 0, errno: 0 };
  // Past 2^64 the value only matters as "out of range": stop accumulating (a 4 KiB number
  // would otherwise cost a quadratic BigInt build-up).
  let v = 0n;
  for (const c of d[0]) {
    v = v * BigInt(b) + BigInt(parseInt(c, 16));
    if (v > 0x1ffffffffffffffffn) break;
  }
  const used = i + d[0].length;
  if (unsigned) {
    if (v > 0xffffffffffffffffn) return { value: 0xffffffffffffffffn, used, errno: ERANGE };
    return { value: neg ? BigInt.asUintN(64, -v) : v, used, errno: 0 };
  }
  const s = neg ? -v : v;
  if (s > 0x7fffffffffffffffn) return { value: 0x7fffffffffffffffn, used, errno: ERANGE };
  if (s < -0x8000000000000000n) return { value: -0x8000000000000000n, used, errno: ERANGE };
  return { value: s, used, errno: 0 };
}

/** <stdlib.h> strtoul(s, NULL, base) as xl uses it where it ignores errors. */
export function strtoulLoose(s: string, base: number): bigint {
  return strtol(s, base, true).value;
}

/** <stdlib.h> atoi(): strtol base 10, truncated to int. */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtol(s, 10).value));
}

/** C's conversion of a long to int (int32_t): the low 32 bits, signed. */
export const int32 = (v: bigint) => Number(BigInt.asIntN(32, v));
/** C's conversion to uint32_t / unsigned int: the low 32 bits. */
export const uint32 = (v: bigint) => Number(BigInt.asUintN(32, v));
/** C's conversion to uint64_t: the low 64 bits. */
export const uint64 = (v: bigint) => Number(BigInt.asUintN(64, v));

// ---------------------------------------------------------------- <string.h>

/** <string.h> strtok() / strtok_r(): the non-empty pieces between any of the delimiter characters. */
export function strtok(s: string, delims: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const c of s) {
    if (delims.includes(c)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

// ---------------------------------------------------------------- libxl

/** libxl_<enum>_from_string() (libxl_types.c, via libxl__enum_from_string): case-insensitive, the string as libxl prints it. */
export function enumFromString<V extends Record<string, number>>(values: V, s: string): keyof V | undefined {
  const key = Object.keys(values).find((k) => k.toLowerCase() === s.toLowerCase());
  return key as keyof V | undefined;
}

/** libxl_<enum>_to_string(): the name of a value (undefined where libxl returns NULL). */
export function enumName<V extends Record<string, number>>(values: V, n: number): keyof V | undefined {
  return Object.keys(values).find((k) => values[k] === n) as keyof V | undefined;
}

/** libxl_uuid_from_string() (libxl_uuid.c): exactly 36 characters of the 8-4-4-4-12 hex form. */
export function parseUuid(s: string): string | undefined {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) return undefined;
  return s.toLowerCase();
}

/** libxl_basename() (libxl_utils.c): what follows the last '/'. */
export function basename(p: string): string {
  const parts = p.split('/');
  return parts[parts.length - 1];
}

// ---------------------------------------------------------------- JavaScript (no C counterpart)

/**
 * A table's own entry: a key from the file such as "__proto__" or "constructor" must not find
 * Object.prototype's members (fuzzing found `on_crash = "constructor"` accepted).
 */
export function lookup<V>(table: Record<string, V>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}
