// The helpers of xl's tools/xl/xl_parse.c (and xl_parse.h) that parse_config_data() calls,
// Xen 4.17 (and 4.20's split_string_into_pair, which changed): parse_range(), parse_ulong(), MATCH_OPTION, split_string_into_string_list(),
// split_string_into_pair(), trim(), the action names of parse_action_on_shutdown() and the
// "mac=" loop of parse_nic_config(). Where xl prints a message and exits, these throw Reject.
import type * as T from '../generated/libxl-types';
import { strtok, strtol } from './c-helpers';

/** A configuration xl refuses (it prints the message and exits). */
export class Reject extends Error {}

/** xl_parse.c: action_on_shutdown_names[], as parse_action_on_shutdown() matches them (strcmp). */
export const ACTIONS: Record<string, T.ActionOnShutdown> = {
  destroy: 'destroy',
  restart: 'restart',
  'rename-restart': 'restart_rename',
  preserve: 'preserve',
  'coredump-destroy': 'coredump_destroy',
  'coredump-restart': 'coredump_restart',
  'soft-reset': 'soft_reset',
};

/** xl_parse.c: parse_range(): "a" or "a-b", decimal. */
export function parseRange(s: string): [number, number] | undefined {
  const a = strtol(s, 10, true);
  if (a.used === 0 || a.value === 0xffffffffffffffffn) return undefined;
  let b = a.value;
  let rest = s.slice(a.used);
  if (rest.startsWith('-')) {
    const r = strtol(rest.slice(1), 10, true);
    if (r.used === 0 || r.value === 0xffffffffffffffffn || r.value < a.value) return undefined;
    b = r.value;
    rest = rest.slice(1 + r.used);
  }
  if (rest !== '') return undefined;
  return [Number(a.value), Number(b)];
}

/** xl_parse.c: parse_ulong(): decimal, fatal on nothing parsed. */
export function parseUlong(s: string): bigint {
  const r = strtol(s, 10, true);
  if (r.used === 0 || r.value === 0xffffffffffffffffn) throw new Reject(`xl: failed to convert "${s}" to number`);
  return r.value;
}

/** xl_parse.c: parse_nic_config()'s "mac=": six strtoul(…, 16) pieces, each ≤ 255, separated by any one character. */
export function parseMac(s: string, bytes: number[]): boolean {
  let rest = s;
  for (let i = 0; i < 6; i++) {
    const r = strtol(rest, 16, true);
    if (r.used === 0 || r.value > 255n) return false;
    bytes[i] = Number(r.value);
    rest = rest.slice(r.used + 1);
  }
  return true;
}

/** xl_parse.c: split_string_into_string_list() (strtok on the delimiters). */
export function splitStringList(s: string, delims: string): string[] {
  return strtok(s, delims);
}

/** xl_parse.c (4.17): split_string_into_pair(): the first two strtok pieces. */
export function splitPair(s: string, delim: string): [string, string] | undefined {
  const parts = strtok(s, delim);
  return parts.length >= 2 ? [parts[0], parts[1]] : undefined;
}

/**
 * xl_parse.c (4.20): split_string_into_pair(str, delim, &a, &b, isspace): split at the first
 * delimiter (strchr), both halves trimmed of isspace(); undefined (ERROR_INVAL) when there is no
 * delimiter or nothing follows it (checked before trimming: "k= " gives an empty value).
 */
export function splitPairTrim(s: string, delim: string): [string, string] | undefined {
  const at = s.indexOf(delim);
  if (at < 0 || at === s.length - 1) return undefined;
  return [isspaceTrim(s.slice(0, at)), isspaceTrim(s.slice(at + 1))];
}

/** xl_parse.h: MATCH_OPTION (match_option_size()): "key=value" → value. */
export function option(token: string, key: string): string | undefined {
  return token.startsWith(key + '=') ? token.slice(key.length + 1) : undefined;
}

/** xl_parse.c: trim(isspace, …): <ctype.h> isspace() characters off both ends. */
export const isspaceTrim = (s: string) => s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');

/** xl_parse.c's `while (*p == ' ') p++;` before each key=value of a device spec (p9, vtpm, vfb, usb…). */
export const ltrimSpaces = (s: string) => s.replace(/^ +/, '');
