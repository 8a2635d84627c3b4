// libxlutil (tools/libs/util, Xen 4.17) as xl's parse_config_data() uses it: the getters of
// libxlu_cfg.c ported over the settings that ./syntax (the port of its lexer and parser)
// reads, with the warnings they print; and the spec parsers (libxlu_disk.c, libxlu_pci.c,
// libxlu_vif.c, and libxl's CPUID parsers), which are not ported but called through the
// addon (native/xlcfg/subspecs.cc).
import { loadAddon } from '../core/native';
import type * as T from '../generated/libxl-types';
import { EINVAL, ESRCH, strtol } from './c-helpers';
import { find, XlSetting, XlValue } from './syntax';

// ---------------------------------------------------------------- libxlu_cfg.c's getters

type Defbool = T.Defbool;

/**
 * XLU_Config (libxlu_internal.h) and its getters (libxlu_cfg.c), their warnings included: each
 * returns libxlutil's errno (0, ESRCH for a missing setting, EINVAL or ERANGE for a bad one)
 * with the value. It also records the names xl asked for.
 */
export class XluConfig {
  readonly read = new Set<string>();

  constructor(
    readonly settings: XlSetting[],
    readonly source: string,
    readonly warn: (msg: string) => void,
  ) {}

  /** libxlu_cfg.c: find(). */
  find(name: string): XlSetting | undefined {
    this.read.add(name);
    return find(this.settings, name);
  }

  /** libxlu_cfg.c: xlu_cfg_get_string() (find_atom()): [errno, value]. Also xlu_cfg_replace_string(). */
  string(name: string, dontWarn = false): [number, string | undefined] {
    const set = this.find(name);
    if (!set) return [ESRCH, undefined];
    if (set.value.kind !== 'string') {
      if (!dontWarn)
        this.warn(`${this.source}:${set.line}: warning: parameter \`${name}' is a list but should be a single value`);
      return [EINVAL, undefined];
    }
    return [0, set.value.value];
  }

  /** xlu_cfg_get_string()'s value, or undefined (xl's `if (!xlu_cfg_get_string(...))`). */
  str(name: string, dontWarn = false): string | undefined {
    return this.string(name, dontWarn)[1];
  }

  /**
   * libxlu_cfg.c: xlu_cfg_get_bounded_long() (find_atom() inlined): [errno, value]. Without
   * bounds, xlu_cfg_get_long() (LONG_MIN..LONG_MAX).
   */
  long(name: string, dontWarn = false, min = -0x8000000000000000n, max = 0x7fffffffffffffffn): [number, bigint] {
    const set = this.find(name);
    if (!set) return [ESRCH, 0n];
    if (set.value.kind !== 'string') {
      if (!dontWarn)
        this.warn(`${this.source}:${set.line}: warning: parameter \`${name}' is a list but should be a single value`);
      return [EINVAL, 0n];
    }
    if (set.add) {
      if (!dontWarn) this.warn(`${this.source}:${set.line}: warning: can't use += with numbers for parameter \`${name}'`);
      return [EINVAL, 0n];
    }
    const text = set.value.value;
    const r = strtol(text, 0);
    if (r.errno) {
      if (!dontWarn)
        this.warn(
          `${this.source}:${set.line}: warning: parameter \`${name}' could not be parsed as a number: Numerical result out of range`,
        );
      return [r.errno, 0n];
    }
    if (r.used !== text.length || r.used === 0) {
      if (!dontWarn) this.warn(`${this.source}:${set.line}: warning: parameter \`${name}' is not a valid number`);
      return [EINVAL, 0n];
    }
    if (r.value < min) {
      if (!dontWarn) this.warn(`${this.source}:${set.line}: warning: value \`${r.value}' is smaller than minimum bound '${min}'`);
      return [EINVAL, 0n];
    }
    if (r.value > max) {
      if (!dontWarn) this.warn(`${this.source}:${set.line}: warning: value \`${r.value}' is greater than maximum bound '${max}'`);
      return [EINVAL, 0n];
    }
    return [0, r.value];
  }

  /** The value of a numeric key, or undefined (xl's `if (!xlu_cfg_get_long(...))`). */
  num(name: string, dontWarn = false): bigint | undefined {
    const [e, v] = this.long(name, dontWarn);
    return e ? undefined : v;
  }

  /** libxlu_cfg.c: xlu_cfg_get_defbool(): the value as a libxl_defbool, or undefined. */
  defbool(name: string, dontWarn = false): Defbool | undefined {
    const v = this.num(name, dontWarn);
    return v === undefined ? undefined : v ? 'True' : 'False';
  }

  /** libxlu_cfg.c: xlu_cfg_get_list(): [errno, items]. */
  list(name: string, dontWarn = false): [number, XlValue[]] {
    const set = this.find(name);
    if (!set) return [ESRCH, []];
    if (set.value.kind !== 'list') {
      if (!dontWarn)
        this.warn(`${this.source}:${set.line}: warning: parameter \`${name}' is a single value but should be a list`);
      return [EINVAL, []];
    }
    return [0, set.value.items];
  }

  /** libxlu_cfg.c: xlu_cfg_get_list_as_string_list(): a non-string item ends the list (it becomes its NULL). */
  stringList(name: string, dontWarn = false): [number, string[]] {
    const [e, items] = this.list(name, dontWarn);
    if (e) return [e, []];
    const out: string[] = [];
    for (const it of items) {
      if (it.kind !== 'string') break;
      out.push(it.value);
    }
    return [0, out];
  }
}

/** libxlu_cfg.c: xlu_cfg_get_listitem(): the string at i, or undefined (not a string, or past the end). */
export function item(items: XlValue[], i: number): string | undefined {
  const v = items[i];
  return v && v.kind === 'string' ? v.value : undefined;
}

/** Items up to the first non-string one (xl's `while ((buf = xlu_cfg_get_listitem(…)))` loops). */
export function stringItems(items: XlValue[]): string[] {
  const out: string[] = [];
  for (let i = 0; item(items, i) !== undefined; i++) out.push(item(items, i)!);
  return out;
}

// ---------------------------------------------------------------- the spec parsers, native

/** native/xlcfg/subspecs.cc's entry points; each returns libxlutil's rc, libxl's JSON of the result, and what it reported. */
interface XlcfgNative {
  /** libxlu_disk.c: xlu_disk_parse() of one disk spec. */
  xlcfgDisk(source: string, spec: string): [number, string | null, string];
  /** libxlu_pci.c: xlu_pci_parse_spec_string(), the pci_* keys preset as xl does. */
  xlcfgPci(
    source: string,
    spec: string,
    msitranslate: number,
    powerMgmt: number,
    permissive: number,
    seize: number,
    rdmPolicy: number,
  ): [number, string | null, string];
  /** libxlu_vif.c: xlu_vif_parse_rate(). */
  xlcfgVifRate(source: string, rate: string): [number, string | null, string];
  /** libxlu_pci.c: xlu_rdm_parse(). */
  xlcfgRdm(source: string, spec: string): [number, string | null, string];
  /** libxl_cpuid.c: libxl_cpuid_parse_config() per list item, or libxl_cpuid_parse_config_xend() per "host,…" flag. */
  xlcfgCpuid(xend: boolean, items: string[]): [number[], string | null];
}

/** The addon, which holds the native spec parsers. */
export function native(): XlcfgNative {
  return loadAddon('parse xl.cfg') as unknown as XlcfgNative;
}
