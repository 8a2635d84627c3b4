// xl.cfg(5) → libxl_domain_config: a port of parse_config_data() (tools/xl/xl_parse.c) of Xen 4.17
// and of Xen 4.20 (opts.xen; the differences are marked "4.20:"), over the file syntax of ./syntax
// and the getters of ./libxlutil (libxlutil's config parser did not change between the two). The
// result is what `xl -N create <file>` prints for the same file. Disk, PCI, vif-rate, RDM and CPUID specs are
// handed to libxlutil/libxl themselves (native/xlcfg/subspecs.cc): those follow the libxlutil the addon
// is built against, i.e. the host's Xen (4.20's disk specs know grant_usage=, 4.17's do not). Every number below follows the C
// type of xl's variable and of the libxl field it lands in; fields are left out where libxl's
// JSON leaves them out (at their IDL default), so deep equality with xl's JSON holds.
import { randomBytes, randomUUID } from 'node:crypto';
import type { CpuLayout } from '../sched/cpulist';
import { XenError } from '../core/errors';
import * as T from '../generated/libxl-types';
import type { DomainConfig } from '../generated/libxl-types';
import { VALUE_VERSIONS } from '../generated/libxl-versions';
import { find, parseXlSyntax, XlSetting } from './syntax';
import { item, native, stringItems, XluConfig } from './libxlutil';
import {
  atoi,
  basename,
  EINVAL,
  enumFromString,
  enumName,
  ESRCH,
  int32,
  lookup,
  parseUuid,
  strtol,
  strtok,
  strtoulLoose,
  uint32,
  uint64,
} from './c-helpers';
import {
  ACTIONS,
  isspaceTrim,
  ltrimSpaces,
  option,
  parseMac,
  parseRange,
  parseUlong,
  Reject,
  splitPair,
  splitPairTrim,
  splitStringList,
} from './xl-helpers';

/**
 * The xl whose parse_config_data() parseXlConfig follows: Xen 4.17's (Debian 12) or Xen 4.20's
 * (Debian 13), each as of its latest stable release (RELEASE-4.17.7, RELEASE-4.20.4).
 */
export type XlVersion = '4.17' | '4.20';

/** The xl versions parseXlConfig follows. */
export const XL_VERSIONS: readonly XlVersion[] = ['4.17', '4.20'];

/**
 * The xl version to follow for a host running Xen major.minor: 4.20's from 4.20 on, 4.17's before
 * (4.18 and 4.19 are not followed: they have some of 4.20's changes, not all).
 */
export function xlVersionOf(major: number, minor: number): XlVersion {
  return major > 4 || (major === 4 && minor >= 20) ? '4.20' : '4.17';
}

/** xl's global settings from /etc/xen/xl.conf that parse_config_data() uses (xl's defaults when unset). */
export interface XlGlobals {
  /** run_hotplug_scripts (default true). */
  runHotplugScripts?: boolean;
  /** claim_mode (default true). */
  claimMode?: boolean;
  /** max_grant_frames, max_maptrack_frames, max_grant_version (default: libxl's). */
  maxGrantFrames?: number;
  maxMaptrackFrames?: number;
  maxGrantVersion?: number;
  /** blkdev_start. */
  blkdevStart?: string;
  /** vif.default.script, vif.default.bridge, vif.default.gatewaydev, vif.default.backend. */
  vifScript?: string;
  vifBridge?: string;
  vifGatewaydev?: string;
  vifBackend?: string;
  /** bootloader_restrict (xl 4.20; default: libxl's). */
  bootloaderRestrict?: boolean;
}

export interface XlConfigOptions {
  /** The file name xl's messages name (xl prints the path it was given). Default "<xl.cfg>". */
  path?: string;
  /**
   * The host's CPUs, for cpus/cpus_soft: xl sizes CPU maps to the host (so "all" means every
   * bit of the map) and resolves "node:N". Without it, "all" and "node:" are refused and CPU
   * numbers are kept as written (xl drops those beyond the host's map).
   */
  cpuLayout?: CpuLayout;
  /** xl.conf globals (see XlGlobals). */
  globals?: XlGlobals;
  /**
   * Whose xl to follow: '4.17' or '4.20' (see XlVersion). Default '4.17';
   * Host.createDomain passes its host's.
   */
  xen?: XlVersion;
}

export interface ParsedXlConfig {
  /** libxl's JSON shape of the domain configuration (what `xl -N create` prints). */
  config: DomainConfig;
  /**
   * What xl would print on stderr without failing (libxlutil's warnings, xl's WARNING lines),
   * plus one line per key xl does not know: xl ignores those silently; we name them.
   */
  warnings: string[];
}

// ---------------------------------------------------------------- errors and libxl defaults

/** A file libxlutil cannot read (xl prints its parser's message and exits). */
function syntaxError(message: string, details: string[]): XenError {
  return new XenError(message, { code: 'ERR_XLCFG_SYNTAX', op: 'parse xl.cfg', details });
}

/** libxl.h: LIBXL_MEMKB_DEFAULT (~0ULL). */
const MEMKB_DEFAULT = uint64(-1n);
/** libxl.h: LIBXL_MAX_GRANT_DEFAULT (~(uint32_t)0). */
const MAX_GRANT_DEFAULT = 0xffffffff;

// ---------------------------------------------------------------- the port

/** xl 4.17's parse_config_data(): the keys it reads (for the unknown-key warning). xlKeys() has 4.20's. */
export const XL_KEYS: ReadonlySet<string> = new Set([
  'acpi',
  'acpi_firmware',
  'acpi_laptop_slate',
  'acpi_s3',
  'acpi_s4',
  'altp2m',
  'altp2mhvm',
  'apic',
  'bios',
  'bios_path_override',
  'boot',
  'bootloader',
  'bootloader_args',
  'builder',
  'cap',
  'channel',
  'cmdline',
  'cpu_weight',
  'cpuid',
  'cpus',
  'cpus_soft',
  'device_model',
  'device_model_args',
  'device_model_args_hvm',
  'device_model_args_pv',
  'device_model_override',
  'device_model_stubdomain_override',
  'device_model_stubdomain_seclabel',
  'device_model_user',
  'device_model_version',
  'device_tree',
  'disk',
  'display',
  'dm_restrict',
  'driver_domain',
  'dtdev',
  'e820_host',
  'extra',
  'extratime',
  'firmware',
  'firmware_override',
  'gfx_passthru',
  'gic_version',
  'hap',
  'hdtype',
  'hpet',
  'init_seclabel',
  'iomem',
  'ioports',
  'irqs',
  'kernel',
  'keymap',
  'latency',
  'localtime',
  'max_event_channels',
  'max_grant_frames',
  'max_grant_version',
  'max_maptrack_frames',
  'maxmem',
  'maxvcpus',
  'mca_caps',
  'memory',
  'mmio_hole',
  'ms_vm_genid',
  'msr_relaxed',
  'name',
  'nestedhvm',
  'nographic',
  'nomigrate',
  'nx',
  'on_crash',
  'on_poweroff',
  'on_reboot',
  'on_soft_reset',
  'on_watchdog',
  'oos',
  'opengl',
  'p9',
  'pae',
  'passthrough',
  'pci',
  'pci_msitranslate',
  'pci_permissive',
  'pci_power_mgmt',
  'pci_seize',
  'period',
  'pool',
  'pvcalls',
  'pvshim',
  'pvshim_cmdline',
  'pvshim_extra',
  'pvshim_path',
  'ramdisk',
  'rdm',
  'rdm_mem_boundary',
  'root',
  'rtc_timeoffset',
  'sdl',
  'seclabel',
  'serial',
  'shadow_memory',
  'slice',
  'smbios_firmware',
  'soundhw',
  'spice',
  'spice_clipboard_sharing',
  'spice_image_compression',
  'spice_streaming_video',
  'spiceagent_mouse',
  'spicedisable_ticketing',
  'spicehost',
  'spicepasswd',
  'spiceport',
  'spicetls_port',
  'spiceusbredirection',
  'spicevdagent',
  'stdvga',
  'stubdomain_cmdline',
  'stubdomain_kernel',
  'stubdomain_memory',
  'stubdomain_ramdisk',
  'tee',
  'timer_mode',
  'tsc_mode',
  'type',
  'usb',
  'usbctrl',
  'usbdev',
  'usbdevice',
  'usbversion',
  'uuid',
  'vcpus',
  'vdispl',
  'vendor_device',
  'vfb',
  'vga',
  'videoram',
  'vif',
  'vif2',
  'viridian',
  'vkb',
  'vkb_device',
  'vmtrace_buf_kb',
  'vnc',
  'vncdisplay',
  'vnclisten',
  'vncpasswd',
  'vncunused',
  'vncviewer',
  'vnuma',
  'vpmu',
  'vpt_align',
  'vsnd',
  'vtpm',
  'vuart',
  'xauthority',
  'xen_platform_pci',
  'xend_suspend_evtchn_compat',
]);

/** xl 4.20's parse_config_data(): 4.17's keys and those 4.20 added. */
const XL_KEYS_4_20: ReadonlySet<string> = new Set([
  ...XL_KEYS,
  'bootloader_restrict',
  'bootloader_user',
  'hvm_pirq',
  'llc_colors',
  'nr_spis',
  'smbios',
  'sve',
  'virtio',
]);

/** The keys the given xl's parse_config_data() reads (default 4.17's: XL_KEYS). */
export function xlKeys(xen: XlVersion = '4.17'): ReadonlySet<string> {
  return xen === '4.20' ? XL_KEYS_4_20 : XL_KEYS;
}

/**
 * An enumeration's values as the given xl's libxl has them: src/generated holds every version's
 * values, VALUE_VERSIONS those only some versions have (libxl_tee_type's "ffa" is 4.20's).
 */
function valuesIn(values: Record<string, number>, idlName: string, xen: XlVersion): Record<string, number> {
  const only = VALUE_VERSIONS[idlName] ?? {};
  return Object.fromEntries(Object.entries(values).filter(([k]) => !only[k] || (only[k] as readonly string[]).includes(xen)));
}

/** Debian's XENFIRMWAREDIR (pvgrub's "firmware" path) per Xen version. */
const XENFIRMWAREDIR: Record<XlVersion, string> = { '4.17': '/usr/lib/xen-4.17/boot', '4.20': '/usr/lib/xen-4.20/boot' };
/** XEN_LOG_DIR (Debian's, the default), where 4.20's xl puts a xen_9pfsd share by default. */
const XEN_LOG_DIR = '/var/log/xen';
/**
 * The most LLC colours parseXlConfig lists: Xen's CONFIG_MAX_LLC_COLORS is at most 1024 (Arm);
 * xl would build a list of every colour in a range (up to 2^32) before libxl refused it.
 */
const MAX_LLC_COLORS = 65536;

/** Keys of xl this port does not implement: refused rather than silently different. */
const UNSUPPORTED = ['vnuma', 'vsnd', 'vdispl'];

type Obj = Record<string, unknown>;

/** Sets obj[key] unless the value is libxl's default for the field (libxl's JSON omits those). */
function put(obj: Obj, key: string, value: unknown, dflt: unknown = undefined): void {
  if (value === undefined || value === null || value === dflt) delete obj[key];
  else obj[key] = value;
}

/** A CPU map as xl builds it: bits beyond the host's map are dropped (libxl_bitmap_set). */
class CpuMap {
  readonly bits = new Set<number>();
  private cached: number[] | undefined;
  constructor(private readonly size: number | undefined) {}
  /** One more than the highest bit the map can hold: without a layout, any host's. */
  get limit(): number {
    return this.size ?? MAX_HOST_CPUS;
  }
  set(i: number): void {
    this.cached = undefined;
    if (i < this.limit) this.bits.add(i);
  }
  reset(i: number): void {
    this.cached = undefined;
    this.bits.delete(i);
  }
  setAll(): void {
    this.cached = undefined;
    for (let i = 0; i < this.size!; i++) this.bits.add(i);
  }
  /** The set bits; one array per map (a string "cpus" gives every vCPU the same map). */
  json(): number[] {
    this.cached ??= [...this.bits].sort((a, b) => a - b);
    return this.cached;
  }
}

/**
 * No Xen host has more CPUs than this (Kconfig's NR_CPUS is at most 16383): the bits xl would
 * drop on any host, even without opts.cpuLayout.
 */
const MAX_HOST_CPUS = 16384;
/** Xen's node IDs are a u8 (nodeid_t; 0xff is "no node"). */
const MAX_NODES = 255;
/**
 * The most vCPUs Xen gives a domain: x86 PV's MAX_VIRT_CPUS (HVM and PVH: 128, Arm: 128).
 * xl only finds out when Xen refuses the domain; the parser refuses more, since it would
 * build maps for every one of them.
 */
const MAX_VCPUS = 8192;

/**
 * xl_parse.c's parse_config_data(), one run per file: its locals become fields, under xl's
 * names, and the libxl structures it fills are kept as libxl's JSON objects.
 */
class ParseConfigData {
  /** What xl would print on stderr (its own WARNING lines and libxlutil's report stream). */
  readonly warnings: string[] = [];
  /** xl's `XLU_Config *config`. */
  readonly config: XluConfig;
  /** xl's `libxl_domain_config *d_config`. */
  readonly dConfig: Obj = {};
  /** xl's `c_info` (&d_config->c_info). */
  readonly cInfo: Obj = {};
  /** xl's `b_info` (&d_config->b_info). */
  readonly bInfo: Obj = {};
  /** b_info->u.pv / u.hvm / u.pvh, the member of the domain's type ("type.pv" / "type.hvm" / "type.pvh" in the JSON). */
  bInfoU: Obj = {};
  /** xl's globals from xl.conf (xl.c: run_hotplug_scripts, claim_mode, max_grant_frames, blkdev_start, default_vifscript…). */
  readonly xlGlobals: Required<Pick<XlGlobals, 'runHotplugScripts' | 'claimMode'>> & XlGlobals;
  /** d_config->vfbs and d_config->vkbs as xl fills them (vfb list, top-level vnc, vkb list), written out at the end. */
  vfbs: Obj[] = [];
  vkbs: Obj[] = [];
  /** Whose xl this run follows (opts.xen). */
  readonly xen: XlVersion;
  /** xl 4.20's parse_config_data() rather than 4.17's. */
  readonly v420: boolean;

  constructor(
    settings: XlSetting[],
    readonly source: string,
    readonly opts: XlConfigOptions,
  ) {
    this.config = new XluConfig(settings, source, (m) => this.warnings.push(m));
    this.xlGlobals = { runHotplugScripts: true, claimMode: true, ...opts.globals };
    this.xen = opts.xen ?? '4.17';
    this.v420 = this.xen === '4.20';
  }

  /** xl's `fprintf(stderr, …); exit(1);` on a configuration it refuses. */
  reject(message: string): never {
    throw new Reject(message);
  }

  /** The bit count of xl's CPU maps (libxl_cpu_bitmap_alloc(ctx, m, 0): whole bytes). */
  cpuMapSize(): number | undefined {
    const n = this.opts.cpuLayout?.nrCpus;
    return n === undefined ? undefined : Math.ceil(n / 8) * 8;
  }

  // xl_parse.c: parse_config_data()
  parseConfigData(): T.DomainConfig {
    const { config, cInfo, bInfo, dConfig } = this;
    dConfig.c_info = cInfo;
    dConfig.b_info = bInfo;
    for (const key of UNSUPPORTED) {
      const set = find(config.settings, key);
      if (set) {
        throw new XenError(`${this.source}:${set.line}: parseXlConfig does not implement "${key}" (xl ${this.xen} does)`, {
          code: 'ERR_UNSUPPORTED',
          op: 'parse xl.cfg',
        });
      }
    }

    if (config.string('init_seclabel')[0] === 0) put(cInfo, 'ssid_label', config.str('init_seclabel'));
    if (config.string('seclabel')[0] === 0) {
      if (cInfo.ssid_label !== undefined) put(bInfo, 'exec_ssid_label', config.str('seclabel'));
      else put(cInfo, 'ssid_label', config.str('seclabel'));
    }
    cInfo.run_hotplug_scripts = this.xlGlobals.runHotplugScripts ? 'True' : 'False';

    // strncmp(buf, "hvm", strlen(buf)): any prefix, the empty string included, matches.
    const prefixOf = (s: string, word: string) => word.startsWith(s);
    let type: T.DomainType | undefined;
    const typeStr = config.str('type');
    if (typeStr !== undefined) {
      if (prefixOf(typeStr, 'hvm')) type = 'hvm';
      else if (prefixOf(typeStr, 'pv')) type = 'pv';
      else if (prefixOf(typeStr, 'pvh')) type = 'pvh';
      else this.reject(`Invalid domain type ${typeStr}.`);
    }
    const builder = config.str('builder');
    if (builder !== undefined) {
      let bt: T.DomainType;
      if (prefixOf(builder, 'hvm')) bt = 'hvm';
      else if (prefixOf(builder, 'generic')) bt = 'pv';
      else this.reject(`Invalid domain type ${builder}.`);
      if (type !== undefined && type !== bt) this.reject('Contradicting "builder" and "type" options specified.');
      type = bt;
    }
    type ??= 'pv';
    cInfo.type = type;

    put(cInfo, 'hap', config.defbool('hap'));
    const name = config.str('name');
    if (name === undefined) this.reject('Domain name must be specified.');
    cInfo.name = name;

    const uuid = config.str('uuid');
    if (uuid !== undefined) {
      const parsed = parseUuid(uuid);
      if (parsed === undefined) this.reject(`Failed to parse UUID: ${uuid}`);
      put(cInfo, 'uuid', parsed, '00000000-0000-0000-0000-000000000000');
    } else {
      // xl generates a random UUID when the file has none.
      cInfo.uuid = randomUUID();
    }

    put(cInfo, 'oos', config.defbool('oos'));
    if (config.string('pool')[0] === 0) put(cInfo, 'pool_name', config.str('pool'));

    // libxl_domain_build_info_init_type: the union of this type.
    const bInfoU = this.bInfoU;
    bInfo[`type.${type}`] = bInfoU;
    if (type === 'hvm') {
      for (const k of ['vga', 'vnc', 'sdl', 'spice', 'rdm']) bInfoU[k] = {};
    }
    bInfo.sched_params = {};
    bInfo.arch_arm = {};
    bInfo.arch_x86 = {};
    // The RDM settings live in b_info->u.hvm.rdm, which for PV/PVH guests is union memory xl
    // still reads (zeroes: policy "strict") for PCI devices.
    const rdm = { strategy: 0, policy: type === 'hvm' ? -1 : 0 };

    if (type === 'pvh') {
      put(bInfoU, 'pvshim', config.defbool('pvshim'));
      for (const k of ['pvshim_path', 'pvshim_cmdline', 'pvshim_extra'])
        if (config.string(k)[0] === 0) put(bInfoU, k, config.str(k));
    }
    if (this.xlGlobals.blkdevStart !== undefined) bInfo.blkdev_start = this.xlGlobals.blkdevStart;

    const sp = bInfo.sched_params as Obj;
    for (const [key, field] of [
      ['cpu_weight', 'weight'],
      ['cap', 'cap'],
      ['period', 'period'],
      ['slice', 'slice'],
      ['latency', 'latency'],
      ['extratime', 'extratime'],
    ]) {
      const v = config.num(key);
      if (v !== undefined) put(sp, field, int32(v), -1);
    }

    let target = MEMKB_DEFAULT;
    let max = MEMKB_DEFAULT;
    const memory = config.num('memory');
    if (memory !== undefined) target = uint64(memory * 1024n);
    const maxmem = config.num('maxmem');
    if (maxmem !== undefined) max = uint64(maxmem * 1024n);
    if (this.v420) this.llcColors();

    let vcpus = 0n;
    const vcpusL = config.num('vcpus');
    if (vcpusL !== undefined) {
      // libxl_cpu_bitmap_alloc takes an int: a negative one fails.
      if (int32(vcpusL) < 0) this.reject('Unable to allocate cpumap');
      vcpus = vcpusL;
    }
    let maxVcpus = 0;
    const maxvcpusL = config.num('maxvcpus');
    if (maxvcpusL !== undefined) maxVcpus = int32(maxvcpusL);

    const vuart = config.str('vuart');
    if (vuart !== undefined) {
      const v = enumFromString(T.VuartTypeValues, vuart);
      if (v === undefined) this.reject(`ERROR: invalid value "${vuart}" for "vuart"`);
      put(bInfo.arch_arm as Obj, 'vuart', v, 'unknown');
    }

    if (max === MEMKB_DEFAULT) max = target;
    if (maxVcpus === 0) maxVcpus = int32(vcpus);
    if (BigInt(maxVcpus) < vcpus) this.reject('xl: maxvcpus < vcpus');
    if (maxVcpus > MAX_VCPUS) {
      this.reject(
        `${maxVcpus} vCPUs (${maxvcpusL !== undefined ? 'maxvcpus' : 'vcpus'}): Xen gives a domain at most ${MAX_VCPUS} ` +
          '(x86 PV; HVM and PVH at most 128), and would refuse to create it',
      );
    }
    // xl sets bits 0..vcpus-1 of avail_vcpus (vcpus <= maxvcpus <= MAX_VCPUS by now).
    if (vcpusL !== undefined) {
      const avail: number[] = [];
      for (let i = 0; i < Number(vcpusL); i++) avail.push(i);
      put(bInfo, 'avail_vcpus', avail.length ? avail : undefined);
    }
    put(bInfo, 'max_vcpus', maxVcpus, 0);
    put(bInfo, 'max_memkb', max, MEMKB_DEFAULT);
    put(bInfo, 'target_memkb', target, MEMKB_DEFAULT);

    this.parseVcpuAffinity('cpus', true, maxVcpus);
    this.parseVcpuAffinity('cpus_soft', false, maxVcpus);

    const grant = (key: string, field: string, global: number | undefined, dflt: number, asInt: boolean) => {
      const [e, l] = config.long(key, true, 0n, 0x7fffffffn);
      if (e === ESRCH)
        put(bInfo, field, global === undefined ? undefined : asInt ? int32(BigInt(global)) : uint32(BigInt(global)), dflt);
      else if (!e) put(bInfo, field, Number(l), dflt);
      else this.reject(`xl: invalid ${key}`);
    };
    grant('max_grant_frames', 'max_grant_frames', this.xlGlobals.maxGrantFrames, MAX_GRANT_DEFAULT, false);
    grant('max_maptrack_frames', 'max_maptrack_frames', this.xlGlobals.maxMaptrackFrames, MAX_GRANT_DEFAULT, false);
    grant('max_grant_version', 'max_grant_version', this.xlGlobals.maxGrantVersion, -1, true);

    bInfo.claim_mode = this.xlGlobals.claimMode ? 'True' : 'False';

    for (const [key, dflt] of [
      ['on_poweroff', 'destroy'],
      ['on_reboot', 'restart'],
      ['on_watchdog', 'destroy'],
      ['on_crash', 'destroy'],
      ['on_soft_reset', 'soft-reset'],
    ]) {
      const v = config.str(key) ?? dflt;
      const action = lookup(ACTIONS, v);
      if (!action) this.reject(`Unknown ${key} action "${v}" specified`);
      put(dConfig, key, action, 'destroy');
    }

    if (type === 'pv') put(bInfoU, 'e820_host', config.defbool('e820_host'));

    const pciOpt = (k: string) => {
      const v = config.num(k);
      return v === undefined ? 0 : int32(v);
    };
    const pciMsitranslate = pciOpt('pci_msitranslate');
    const pciPowerMgmt = pciOpt('pci_power_mgmt');
    const pciPermissive = pciOpt('pci_permissive');
    const pciSeize = pciOpt('pci_seize');

    const rdmSpec = config.str('rdm');
    if (rdmSpec !== undefined) {
      const [rc, json, report] = native().xlcfgRdm(this.source, rdmSpec);
      this.report(report);
      if (!rc) {
        const r = JSON.parse(json ?? '{}') as T.RdmReserve;
        rdm.strategy = T.RdmReserveStrategyValues[r.strategy ?? 'ignore'];
        rdm.policy = T.RdmReservePolicyValues[r.policy ?? 'invalid'];
      }
    }
    if (type === 'hvm') {
      const r: Obj = {};
      put(r, 'strategy', enumName(T.RdmReserveStrategyValues, rdm.strategy), 'ignore');
      put(r, 'policy', enumName(T.RdmReservePolicyValues, rdm.policy), 'invalid');
      bInfoU.rdm = r;
    }

    const [pciErr, pcis] = config.list('pci');
    if (!pciErr) {
      const devs: unknown[] = [];
      for (const spec of stringItems(pcis)) {
        const [rc, json, report] = native().xlcfgPci(
          this.source,
          spec,
          pciMsitranslate,
          pciPowerMgmt,
          pciPermissive,
          pciSeize,
          rdm.policy,
        );
        this.report(report);
        if (rc) this.reject(`unable to parse PCI_SPEC_STRING \`${spec}' for passthrough`);
        devs.push(JSON.parse(json!));
      }
      put(dConfig, 'pcidevs', devs.length ? devs : undefined);
      if (devs.length && type === 'pv') bInfoU.e820_host = 'True';
    }

    const [dtErr, dtdevs] = config.list('dtdev');
    if (!dtErr) {
      const devs = stringItems(dtdevs).map((path) => ({ path }));
      put(dConfig, 'dtdevs', devs.length ? devs : undefined);
    }

    const passthrough = config.str('passthrough');
    if (passthrough !== undefined) {
      const v = enumFromString(T.PassthroughValues, passthrough);
      if (v === undefined) this.reject(`ERROR: unknown passthrough option '${passthrough}'`);
      put(cInfo, 'passthrough', v, 'default');
    }

    const shadow = config.num('shadow_memory');
    if (shadow !== undefined) put(bInfo, 'shadow_memkb', uint64(shadow * 1024n), MEMKB_DEFAULT);
    put(bInfo, 'disable_migrate', config.defbool('nomigrate'));

    const [tscErr, tscL] = config.long('tsc_mode', true);
    if (!tscErr) {
      const s = enumName(T.TscModeValues, Number(tscL));
      this.warn(
        `WARNING: specifying "tsc_mode" as an integer is deprecated. Please use the named parameter variant. ${s !== undefined ? `e.g. tsc_mode="${s}"` : ''}`,
      );
      if (tscL < 0n || tscL > 3n) this.reject(`ERROR: invalid value ${tscL} for "tsc_mode"`);
      put(bInfo, 'tsc_mode', s, 'default');
    } else {
      const tsc = config.str('tsc_mode');
      if (tsc !== undefined) {
        // 4.20: no longer says so.
        if (!this.v420) this.warn(`got a tsc mode string: "${tsc}"`);
        const v = enumFromString(T.TscModeValues, tsc);
        if (v === undefined) this.reject(`ERROR: invalid value "${tsc}" for "tsc_mode"`);
        put(bInfo, 'tsc_mode', v, 'default');
      }
    }

    const rtc = config.num('rtc_timeoffset');
    if (rtc !== undefined) put(bInfo, 'rtc_timeoffset', uint32(rtc), 0);
    if (config.num('vncviewer') !== undefined) {
      this.warn('WARNING: ignoring "vncviewer" option. Use "-V" option of "xl create" to automatically spawn vncviewer.');
    }
    put(bInfo, 'localtime', config.defbool('localtime'));
    const videoram = config.num('videoram');
    if (videoram !== undefined) put(bInfo, 'video_memkb', uint64(videoram * 1024n), MEMKB_DEFAULT);
    const evtchn = config.num('max_event_channels');
    if (evtchn !== undefined) put(bInfo, 'event_channels', uint32(evtchn), 0);

    for (const k of ['kernel', 'ramdisk', 'device_tree']) if (config.string(k)[0] === 0) put(bInfo, k, config.str(k));
    put(bInfo, 'cmdline', this.parseCmdline());

    put(cInfo, 'driver_domain', config.defbool('driver_domain'));
    put(bInfo, 'acpi', config.defbool('acpi'));

    if (config.string('bootloader')[0] === 0) put(bInfo, 'bootloader', config.str('bootloader'));
    if (this.v420) {
      // 4.20: "pygrub" is refused by an xl built without it (#ifndef HAVE_PYGRUB); Debian's has it.
      // 4.20: bootloader_restrict (xl.conf's as the default) and bootloader_user.
      let restrict = config.defbool('bootloader_restrict');
      if (restrict === undefined && this.xlGlobals.bootloaderRestrict !== undefined)
        restrict = this.xlGlobals.bootloaderRestrict ? 'True' : 'False';
      put(bInfo, 'bootloader_restrict', restrict);
      if (config.string('bootloader_user')[0] === 0) put(bInfo, 'bootloader_user', config.str('bootloader_user'));
    }
    const [blErr, blArgs] = config.stringList('bootloader_args', true);
    if (!blErr) put(bInfo, 'bootloader_args', blArgs.length ? blArgs : undefined);
    else if (blErr === EINVAL) {
      const s = config.str('bootloader_args');
      if (s !== undefined) {
        this.warn('WARNING: Specifying "bootloader_args" as a string is deprecated. Please use a list of arguments.');
        const args = splitStringList(s, ' \t\n');
        // split_string_into_string_list strdup()s strtok's first piece without looking: xl 4.17
        // dies of a NULL pointer on a string of blanks.
        if (!args.length)
          this.reject(
            `"bootloader_args" is a string without an argument (${JSON.stringify(s)}): xl 4.17 crashes on it; use a list`,
          );
        put(bInfo, 'bootloader_args', args);
      }
    }

    const [tmErr, tmL] = config.long('timer_mode', true);
    if (!tmErr) {
      if (type === 'pv') this.reject('ERROR: "timer_mode" option is not supported for PV guests.');
      const s = enumName(T.TimerModeValues, Number(tmL));
      this.warn(
        `WARNING: specifying "timer_mode" as an integer is deprecated. Please use the named parameter variant. ${s !== undefined ? `e.g. timer_mode="${s}"` : ''}`,
      );
      if (tmL < 0n || tmL > 3n) this.reject(`ERROR: invalid value ${tmL} for "timer_mode"`);
      put(bInfo, 'timer_mode', s, 'unknown');
    } else {
      const tm = config.str('timer_mode');
      if (tm !== undefined) {
        if (type === 'pv') this.reject('ERROR: "timer_mode" option is not supported for PV guests.');
        const v = enumFromString(T.TimerModeValues, tm);
        if (v === undefined) this.reject(`ERROR: invalid value "${tm}" for "timer_mode"`);
        put(bInfo, 'timer_mode', v, 'unknown');
      }
    }

    put(bInfo, 'nested_hvm', config.defbool('nestedhvm'));

    if (type === 'hvm') this.hvmBuildInfo();
    else {
      const fw = config.str('firmware');
      if (fw !== undefined) {
        if (bInfo.kernel !== undefined) this.reject('ERROR: both kernel and firmware specified');
        if (!prefixOf(fw, 'pvgrub32') && !prefixOf(fw, 'pvgrub64'))
          this.reject('ERROR: only pvgrub{32|64} supported as firmware options');
        bInfo.kernel = `${XENFIRMWAREDIR[this.xen]}/${fw}.bin`;
      }
      if (bInfo.bootloader === undefined && bInfo.kernel === undefined) this.reject('Neither kernel nor bootloader specified');
    }

    const [a2Err, a2L] = config.long('altp2m', true);
    if (!a2Err) {
      if (a2L < 0n || a2L > 3n) this.reject(`ERROR: invalid value ${a2L} for "altp2m"`);
      put(bInfo, 'altp2m', enumName(T.Altp2mModeValues, Number(a2L)), 'disabled');
    } else {
      const a2 = config.str('altp2m');
      if (a2 !== undefined) {
        const v = enumFromString(T.Altp2mModeValues, a2);
        if (v === undefined) this.reject(`ERROR: invalid value "${a2}" for "altp2m"`);
        put(bInfo, 'altp2m', v, 'disabled');
      }
    }

    const [vtErr, vtL] = config.long('vmtrace_buf_kb', true);
    if (!vtErr && vtL) put(bInfo, 'vmtrace_buf_kb', int32(vtL), 0);

    this.ioportsList();
    this.irqsList();
    this.iomemList();
    this.diskList();
    this.p9List();
    this.vtpmList();
    this.pvcallsList();
    this.channelList();
    this.vifList();
    if (config.list('vif2', true)[0] === 0) this.warn('WARNING: vif2: netchannel2 is deprecated and not supported by xl');
    this.vfbList();
    this.usbctrlList();
    this.usbdevList();
    this.cpuidList();
    this.deviceModelOptions();
    this.topLevelGraphics();
    if (type === 'hvm') this.hvmDeviceOptions();

    const gic = config.str('gic_version', true);
    if (gic !== undefined) {
      const v = enumFromString(T.GicVersionValues, gic);
      if (v === undefined) this.reject(`Unknown gic_version "${gic}" specified`);
      put(bInfo.arch_arm as Obj, 'gic_version', v, 'default');
    }
    const tee = config.str('tee', true);
    if (tee !== undefined) {
      // 4.20: libxl_tee_type has "ffa" too.
      const v = enumFromString(valuesIn(T.TeeTypeValues, 'libxl_tee_type', this.v420 ? '4.20' : '4.17'), tee);
      if (v === undefined) this.reject(`Unknown tee "${tee}" specified`);
      put(bInfo, 'tee', v, 'none');
    }

    if (this.v420) {
      // 4.20: "sve" (libxl_sve_type_from_string) and "nr_spis", into b_info->arch_arm (read on
      // every architecture; libxl refuses them off Arm when it builds the domain).
      const sve = config.str('sve', true);
      if (sve !== undefined) {
        const v = enumFromString(T.SveTypeValues, sve);
        if (v === undefined) this.reject(`Unknown sve "${sve}" specified`);
        put(bInfo.arch_arm as Obj, 'sve_vl', v, 'disabled');
      }
      const spis = config.num('nr_spis');
      if (spis !== undefined) put(bInfo.arch_arm as Obj, 'nr_spis', uint32(spis), 0);
    }

    this.parseVkbList();
    // 4.20: parse_virtio_list(), after parse_vkb_list().
    if (this.v420) this.parseVirtioList();

    put(cInfo, 'xend_suspend_evtchn_compat', config.defbool('xend_suspend_evtchn_compat'));
    const msr = config.defbool('msr_relaxed');
    if (msr !== undefined) {
      (bInfo.arch_x86 as Obj).msr_relaxed = msr;
      this.warn(
        'WARNING: msr_relaxed will be removed in future versions.\nIf it fixes an issue you are having please report to xen-devel@lists.xenproject.org.',
      );
    }
    put(bInfo, 'vpmu', config.defbool('vpmu'));

    const known = xlKeys(this.xen);
    for (const set of config.settings) {
      if (!known.has(set.name)) {
        this.warn(`${this.source}:${set.line}: warning: unknown key \`${set.name}' (xl ${this.xen} ignores it silently)`);
      }
    }
    return dConfig as T.DomainConfig;
  }

  /** xl's `fprintf(stderr, …)` of a warning. */
  warn(msg: string): void {
    this.warnings.push(msg);
  }

  /** What libxlutil wrote to its report stream during a native call: warnings, or an error's text. */
  report(text: string): void {
    for (const line of text.split('\n')) if (line) this.warnings.push(line);
  }

  // xl_parse.c: parse_cmdline()
  parseCmdline(): string | undefined {
    const { config } = this;
    const buf = config.str('cmdline');
    const root = config.str('root');
    const extra = config.str('extra');
    if (buf !== undefined) {
      if (root !== undefined || extra !== undefined) this.warn('Warning: ignoring root= and extra= in favour of cmdline=');
      return buf;
    }
    if (root !== undefined && extra !== undefined) return `root=${root} ${extra}`;
    if (root !== undefined) return `root=${root}`;
    return extra;
  }

  // xl_parse.c: parse_vcpu_affinity() (called for "cpus" and "cpus_soft")
  parseVcpuAffinity(key: 'cpus' | 'cpus_soft', hard: boolean, maxVcpus: number): void {
    const { config, bInfo } = this;
    const [le, list] = config.list(key, true);
    let buf: string | undefined;
    if (le) {
      buf = config.str(key);
      if (buf === undefined) return;
    }
    let n = buf !== undefined || list.length > maxVcpus ? maxVcpus : list.length;
    const maps: CpuMap[] = [];
    if (buf === undefined) {
      for (let j = 0; j < n; j++) {
        const s = item(list, j);
        if (s === undefined) break;
        maps.push(this.parseCpurange(s));
      }
      bInfo.numa_placement = 'False';
    } else {
      const first = this.parseCpurange(buf);
      for (let i = 0; i < maxVcpus; i++) maps.push(first);
      if (!hard) bInfo.numa_placement = 'False';
    }
    n = Math.max(n, 0);
    // xl allocates n maps; those it did not fill (a list shorter than the vCPUs) stay empty,
    // but libxl prints an array of n maps.
    const out = Array.from({ length: n }, (_, i) => maps[i]?.json() ?? []);
    put(bInfo, hard ? 'vcpu_hard_affinity' : 'vcpu_soft_affinity', out.length ? out : undefined);
  }

  // xl_parse.c: parse_cpurange(), with update_cpumap_range() per comma-separated piece
  parseCpurange(spec: string): CpuMap {
    const layout = this.opts.cpuLayout;
    const map = new CpuMap(this.cpuMapSize());
    for (let str of strtok(spec, ',')) {
      const not = str.startsWith('^');
      if (not) str = str.slice(1);
      let nodes = false;
      if (str.startsWith('node:')) {
        str = str.slice(5);
        nodes = true;
      } else if (str.startsWith('nodes:')) {
        str = str.slice(6);
        nodes = true;
      }
      if (str === 'all') {
        if (not) this.reject('Can\'t combine "^" and "all".');
        if (!layout) throw needLayout(spec);
        map.setAll();
        continue;
      }
      const r = parseRange(str);
      if (!r) this.reject(`Invalid pcpu range: ${str}.`);
      if (nodes) {
        if (!layout) throw needLayout(spec);
        for (let i = r[0]; i <= r[1]; i++) {
          // xl stops at the first node the host does not have.
          const cpus = i < MAX_NODES ? layout.cpusOfNode(i) : undefined;
          if (!cpus) this.reject('libxl_node_to_cpumap failed.');
          for (const cpu of cpus) {
            if (not) map.reset(cpu);
            else map.set(cpu);
          }
        }
      } else {
        // xl walks the whole range (up to 2^64 - 2) and libxl drops the bits beyond the map.
        const last = Math.min(r[1], map.limit - 1);
        for (let i = r[0]; i <= last; i++) {
          if (not) map.reset(i);
          else map.set(i);
        }
      }
    }
    return map;
  }

  // parse_config_data(): switch (b_info->type), case LIBXL_DOMAIN_TYPE_HVM ("firmware_override" … "firmware")
  hvmBuildInfo(): void {
    const { config, bInfo, bInfoU } = this;
    if (typeof bInfo.kernel === 'string' && basename(bInfo.kernel) === 'hvmloader') {
      this.warn(
        'WARNING: you seem to be using "kernel" directive to override HVM guest firmware. Ignore that. Use "firmware_override" instead if you really want a non-default firmware',
      );
      delete bInfo.kernel;
    }
    if (config.string('firmware_override')[0] === 0) put(bInfoU, 'firmware', config.str('firmware_override'));
    if (config.string('bios_path_override')[0] === 0) put(bInfoU, 'system_firmware', config.str('bios_path_override'));
    const bios = config.str('bios');
    if (bios !== undefined) {
      const v = enumFromString(T.BiosTypeValues, bios);
      if (v === undefined) this.reject(`ERROR: invalid value "${bios}" for "bios"`);
      put(bInfoU, 'bios', v, 'unknown');
    } else if (bInfoU.system_firmware !== undefined) this.warn('WARNING: bios_path_override given without specific bios name');

    for (const k of ['pae', 'acpi_s3', 'acpi_s4', 'acpi_laptop_slate', 'nx', 'hpet', 'vpt_align'])
      put(bInfoU, k, config.defbool(k));
    put(bInfo, 'apic', config.defbool('apic'));
    // 4.20: "hvm_pirq".
    if (this.v420) put(bInfoU, 'pirq', config.defbool('hvm_pirq'));

    const [ve, viridian] = config.list('viridian', true);
    if (!ve) {
      const width = 64; // LIBXL_BUILDINFO_HVM_VIRIDIAN_ENABLE_DISABLE_WIDTH
      const enable = new CpuMap(width);
      const disable = new CpuMap(width);
      for (let i = 0; i < viridian.length; i++) {
        let s = item(viridian, i);
        if (s === undefined) this.reject("xl: unknown viridian enlightenment '(null)'");
        if (s === 'all') enable.setAll();
        else if (s === 'defaults') bInfoU.viridian = 'True';
        else {
          let [set, reset] = [enable, disable];
          if (s.startsWith('!')) {
            [set, reset] = [disable, enable];
            s = s.slice(1);
          }
          const v = enumFromString(T.ViridianEnlightenmentValues, s);
          if (v === undefined) this.reject(`xl: unknown viridian enlightenment '${s}'`);
          set.set(T.ViridianEnlightenmentValues[v]);
          reset.reset(T.ViridianEnlightenmentValues[v]);
        }
      }
      put(bInfoU, 'viridian_enable', enable.bits.size ? enable.json() : undefined);
      put(bInfoU, 'viridian_disable', disable.bits.size ? disable.json() : undefined);
    } else if (ve === EINVAL) put(bInfoU, 'viridian', config.defbool('viridian', true));

    const hole = config.num('mmio_hole');
    if (hole !== undefined) {
      const kb = BigInt.asUintN(64, hole * 1024n);
      const size = BigInt.asUintN(64, kb * 1024n);
      // HVM_BELOW_4G_MMIO_LENGTH (256 MiB) .. HVM_BELOW_4G_MMIO_START (3 GiB)
      if (size < 0x10000000n || size > 0xf0000000n) this.reject(`ERROR: invalid value ${hole} for "mmio_hole"`);
      put(bInfoU, 'mmio_hole_memkb', Number(kb), MEMKB_DEFAULT);
    }

    const altp2mhvm = config.defbool('altp2mhvm');
    if (altp2mhvm !== undefined) {
      bInfoU.altp2m = altp2mhvm;
      this.warn('WARNING: Specifying "altp2mhvm" is deprecated. Please use "altp2m" instead.');
    }
    for (const k of ['smbios_firmware', 'acpi_firmware']) if (config.string(k)[0] === 0) put(bInfoU, k, config.str(k));
    if (this.v420) this.smbiosList();

    const genid = config.str('ms_vm_genid');
    if (genid !== undefined) {
      if (genid === 'generate') bInfoU.ms_vm_genid = [...randomBytes(16)];
      else if (genid !== 'none') this.reject('ERROR: "ms_vm_genid" option must be "generate" or "none"');
    }

    const boundary = config.num('rdm_mem_boundary');
    if (boundary !== undefined) put(bInfoU, 'rdm_mem_boundary_memkb', uint64(boundary * 1024n), MEMKB_DEFAULT);

    const [me, mca] = config.list('mca_caps', true);
    if (!me) {
      let caps = 0;
      for (let i = 0; i < mca.length; i++) {
        const s = item(mca, i);
        if (s === 'lmce')
          caps |= 1; // XEN_HVM_MCA_CAP_LMCE
        else this.reject(`ERROR: unrecognized MCA capability '${s ?? '(null)'}'.`);
      }
      put(bInfoU, 'mca_caps', caps, 0);
    } else if (me !== ESRCH) this.reject('ERROR: unable to parse mca_caps.');

    const fw = config.str('firmware');
    if (fw !== undefined) {
      const v = enumFromString(T.BiosTypeValues, fw);
      if (v !== undefined) put(bInfoU, 'bios', v, 'unknown');
      else if ('uefi'.startsWith(fw)) bInfoU.bios = 'ovmf';
      else if (!'bios'.startsWith(fw)) put(bInfoU, 'firmware', fw);
    }
  }

  // parse_config_data(): the "ioports" list
  ioportsList(): void {
    const { config, bInfo } = this;
    const [pe, ports] = config.list('ioports');
    if (!pe) {
      const out: T.IoportRange[] = [];
      for (let i = 0; i < ports.length; i++) {
        const buf = item(ports, i);
        if (buf === undefined) this.reject(`xl: Unable to get element #${i} in ioport list`);
        const a = strtol(buf, 16, true);
        if (a.used === 0) this.reject(`xl: Invalid argument parsing ioport: ${buf}`);
        if (a.value >= 0xffffffffn) this.reject(`xl: ioport ${a.value.toString(16)} too big`);
        const start = Number(a.value);
        let end = start;
        const rest = buf.slice(a.used);
        if (rest.startsWith('-')) {
          const e = strtol(rest.slice(1), 16, true);
          if (e.used === 0 || e.used !== rest.length - 1 || start > end)
            this.reject(`xl: Invalid argument parsing ioport: ${buf}`);
          if (e.value >= 0xffffffffn) this.reject(`xl: ioport ${e.value.toString(16)} too big`);
          end = Number(e.value);
        } else if (rest !== '') this.warn(`xl: Invalid argument parsing ioport: ${buf}`);
        const r: Obj = {};
        put(r, 'first', start, 0);
        put(r, 'number', uint32(BigInt(end - start + 1)), 0);
        out.push(r as T.IoportRange);
      }
      put(bInfo, 'ioports', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "irqs" list
  irqsList(): void {
    const { config, bInfo } = this;
    const [ie, irqs] = config.list('irqs');
    if (!ie) {
      const out: number[] = [];
      for (let i = 0; i < irqs.length; i++) {
        const buf = item(irqs, i);
        if (buf === undefined) this.reject(`xl: Unable to get element ${i} in irq list`);
        const r = strtol(buf, 10, true);
        if (r.used === 0 || r.used !== buf.length) this.reject(`xl: Invalid argument parsing irq: ${buf}`);
        if (r.value >= 0xffffffffn) this.reject(`xl: irq ${r.value.toString(16)} too big`);
        out.push(Number(r.value));
      }
      put(bInfo, 'irqs', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "iomem" list
  iomemList(): void {
    const { config, bInfo } = this;
    const [me, iomem] = config.list('iomem');
    if (!me) {
      const out: T.IomemRange[] = [];
      for (let i = 0; i < iomem.length; i++) {
        const buf = item(iomem, i);
        if (buf === undefined) this.reject(`xl: Unable to get element ${i} in iomem list`);
        // sscanf("%" SCNx64 ",%" SCNx64 "%n@%" SCNx64 "%n")
        const m = /^\s*((?:0[xX])?[0-9a-fA-F]+),\s*((?:0[xX])?[0-9a-fA-F]+)(?:@\s*((?:0[xX])?[0-9a-fA-F]+))?/.exec(buf);
        if (!m || m[0].length !== buf.length) this.reject(`xl: Invalid argument parsing iomem: ${buf}`);
        // glibc's sscanf stores ULLONG_MAX for a hex number beyond 64 bits (strtoull's overflow).
        const hex = (h: string) => {
          const v = BigInt('0x' + h.replace(/^0[xX]/, ''));
          return Number(v > 0xffffffffffffffffn ? 0xffffffffffffffffn : v);
        };
        const r: Obj = {};
        put(r, 'start', hex(m[1]), 0);
        put(r, 'number', hex(m[2]), 0);
        if (m[3] !== undefined) put(r, 'gfn', hex(m[3]), MEMKB_DEFAULT);
        out.push(r as T.IomemRange);
      }
      put(bInfo, 'iomem', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "disk" list (xlu_disk_parse() per spec, through parse_disk_config())
  diskList(): void {
    const { config, dConfig } = this;
    const [de, disks] = config.list('disk');
    if (!de) {
      const out: unknown[] = [];
      for (const spec of stringItems(disks)) {
        const [rc, json, report] = native().xlcfgDisk(this.source, spec);
        if (rc) this.reject(report.trim() || `xlu_disk_parse failed: ${rc}`);
        this.report(report);
        out.push(JSON.parse(json!));
      }
      put(dConfig, 'disks', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "p9" list
  p9List(): void {
    const { config, dConfig } = this;
    const [pe, p9s] = config.list('p9');
    if (!pe && this.v420) {
      const out = stringItems(p9s).map((spec) => this.p9Spec420(spec));
      put(dConfig, 'p9s', out.length ? out : undefined);
    } else if (!pe) {
      const out: Obj[] = [];
      // xl declares these outside its loop: an entry that leaves one out reuses the previous
      // entry's; and it calls libxl_device_p9_init() again, so a p9 device has no devid.
      const kv: Record<string, string> = {};
      for (const spec of stringItems(p9s)) {
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          const eq = p.indexOf('=');
          if (eq < 0) break;
          const k = p.slice(0, eq);
          if (!['security_model', 'path', 'tag', 'backend'].includes(k)) this.reject(`Unknown string \`${k}' in 9pfs spec`);
          kv[k] = p.slice(eq + 1);
        }
        if (kv.path === undefined || kv.security_model === undefined || kv.tag === undefined)
          this.reject('9pfs spec missing required field!');
        const p9: Obj = { tag: kv.tag, security_model: kv.security_model, path: kv.path };
        if (kv.backend !== undefined) p9.backend_domname = kv.backend;
        out.push(p9);
      }
      put(dConfig, 'p9s', out.length ? out : undefined);
    }
  }

  // parse_config_data() 4.20: one item of the "p9" list (split_string_into_string_list(buf, ","),
  // split_string_into_pair(…, '=', …, isspace) per piece; no field is required any more, and each
  // entry starts afresh). libxl_device_p9_init() again after ARRAY_EXTEND_INIT: no devid.
  p9Spec420(spec: string): Obj {
    const p9: Obj = {};
    const pairs = splitStringList(spec, ',');
    // split_string_into_string_list() strdup()s strtok's first piece without looking: xl dies of
    // a NULL pointer on a spec of commas only (or an empty one).
    if (!pairs.length) this.reject(`p9 spec ${JSON.stringify(spec)} without a key=value: xl ${this.xen} crashes on it`);
    for (const pair of pairs) {
      const kv = splitPairTrim(pair, '=');
      if (!kv) this.reject(`failed to parse 9pfs configuration: ${pair}`);
      const [key, value] = kv;
      if (key === 'security_model') p9.security_model = value;
      else if (key === 'path') p9.path = value;
      else if (key === 'tag') p9.tag = value;
      else if (key === 'backend') p9.backend_domname = value;
      else if (key === 'type') {
        const t = enumFromString(T.P9TypeValues, value);
        if (t === undefined) this.reject(`failed to parse 9pfs type: ${value}`);
        put(p9, 'type', t, 'unknown');
      } else if (key === 'max-files') put(p9, 'max_files', int32(parseUlong(value)), 0);
      else if (key === 'max-open-files') put(p9, 'max_open_files', int32(parseUlong(value)), 0);
      else if (key === 'max-space') put(p9, 'max_space', int32(parseUlong(value)), 0);
      // p9->auto_delete = strtoul(value, NULL, 0): a bool, true for any non-zero number.
      else if (key === 'auto-delete') put(p9, 'auto_delete', strtoulLoose(value, 0) !== 0n ? true : undefined);
      else this.reject(`Unknown 9pfs parameter '${key}'`);
    }
    // A xen_9pfsd share without a path gets XEN_LOG_DIR "/guests/<name>".
    if (p9.type === 'xen_9pfsd' && p9.path === undefined) p9.path = `${XEN_LOG_DIR}/guests/${this.cInfo.name as string}`;
    return p9;
  }

  // parse_config_data() 4.20: the "llc_colors" list (after "maxmem"), into b_info->llc_colors
  llcColors(): void {
    const { config, bInfo } = this;
    const [e, list] = config.list('llc_colors');
    if (e) return;
    const colors: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const buf = item(list, i);
      if (buf === undefined) this.reject(`xl: Can't get element ${i} in LLC color list`);
      // sscanf(buf, "%" SCNu32 "-%" SCNu32, &start, &end) != 2, then sscanf(buf, "%" SCNu32, &start)
      const a = scanU32(buf);
      if (a === undefined) this.reject(`xl: Invalid LLC color range: ${buf}`);
      const start = a.value;
      let end = start;
      if (buf[a.used] === '-') {
        const b = scanU32(buf.slice(a.used + 1));
        if (b !== undefined) {
          end = b.value;
          if (start > end) this.reject(`xl: Start LLC color is greater than end: ${buf}`);
        }
      }
      if (colors.length + (end - start) + 1 > MAX_LLC_COLORS)
        this.reject(`xl: ${buf}: more than ${MAX_LLC_COLORS} LLC colors (Xen has at most 1024; xl would list them all)`);
      for (let k = start; k <= end; k++) colors.push(k);
    }
    put(bInfo, 'llc_colors', colors.length ? colors : undefined);
  }

  // parse_config_data() 4.20, HVM: switch (xlu_cfg_get_list(config, "smbios", …)), into b_info->u.hvm.smbios
  smbiosList(): void {
    const { config, bInfoU } = this;
    const [e, list] = config.list('smbios');
    if (e === ESRCH) return;
    if (e) this.reject('xl: Unable to parse smbios options.');
    const out: Obj[] = [];
    let numOem = 1;
    for (let i = 0; i < list.length; i++) {
      const buf = item(list, i);
      if (buf === undefined) this.reject(`xl: Unable to get element #${i} in smbios list`);
      const eq = buf.indexOf('=');
      if (eq < 0) this.reject(`xl: failed to split "${buf}" at '='`);
      const option = buf.slice(0, eq);
      const value = buf.slice(eq + 1);
      if (value === '') this.reject(`xl: empty value not allowed for smbios "${option}="`);
      const type = enumFromString(T.SmbiosTypeValues, option);
      if (type === undefined) this.reject(`xl: unknown smbios type '${option}'`);
      if (type === 'oem') {
        if (numOem > 99) this.reject('xl: smbios limited to 99 oem strings');
        numOem++;
      }
      out.push({ key: type, value });
    }
    put(bInfoU, 'smbios', out.length ? out : undefined);
  }

  // xl_parse.c 4.20: parse_virtio_list(), with parse_virtio_config() per piece, into d_config->virtios
  parseVirtioList(): void {
    const { config, dConfig } = this;
    const [e, list] = config.list('virtio');
    if (e) return;
    const out: Obj[] = [];
    for (const spec of stringItems(list)) {
      // ARRAY_EXTEND_INIT: devid is the index.
      const virtio: Obj = { devid: out.length };
      out.push(virtio);
      const pieces = strtok(spec, ',');
      for (let i = 0; i < pieces.length; i++) {
        let p = ltrimSpaces(pieces[i]);
        // "Type may contain a comma": type=virtio… takes the next piece along.
        const t = option(p, 'type');
        if (t !== undefined && t.startsWith('virtio')) {
          // strlen(NULL) when nothing follows: xl dies of a NULL pointer.
          if (i + 1 >= pieces.length)
            this.reject(`virtio spec "${spec}": type=${t} needs a ",<device>" part (xl ${this.xen} crashes without one)`);
          p = `${p},${pieces[++i]}`;
        }
        this.parseVirtioConfig(virtio, p);
      }
    }
    put(dConfig, 'virtios', out.length ? out : undefined);
  }

  // xl_parse.c 4.20: parse_virtio_config(): one "key=value" of a virtio spec
  parseVirtioConfig(virtio: Obj, token: string): void {
    let v: string | undefined;
    if ((v = option(token, 'backend')) !== undefined) virtio.backend_domname = v;
    else if ((v = option(token, 'type')) !== undefined) virtio.type = v;
    else if ((v = option(token, 'transport')) !== undefined) {
      const t = enumFromString(T.VirtioTransportValues, v);
      // libxl_virtio_transport_from_string() fails: xl exits 1 without a word.
      if (t === undefined) this.reject(`unknown virtio transport "${v}" (xl ${this.xen} exits without a message)`);
      put(virtio, 'transport', t, 'unknown');
    } else if ((v = option(token, 'grant_usage')) !== undefined) {
      virtio.grant_usage = strtoulLoose(v, 0) !== 0n ? 'True' : 'False';
    } else this.reject(`Unknown string "${token}" in virtio spec`);
  }

  // parse_config_data(): the "vtpm" list
  vtpmList(): void {
    const { config, dConfig } = this;
    const [te, vtpms] = config.list('vtpm');
    if (!te) {
      const out: Obj[] = [];
      for (const spec of stringItems(vtpms)) {
        const vtpm: Obj = { devid: out.length };
        let gotBackend = false;
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          const eq = p.indexOf('=');
          if (eq < 0) break;
          const k = p.slice(0, eq);
          const v = p.slice(eq + 1);
          if (k === 'backend') {
            vtpm.backend_domname = v;
            gotBackend = true;
          } else if (k === 'uuid') {
            const parsed = parseUuid(v);
            if (parsed === undefined) this.reject(`Failed to parse vtpm UUID: ${v}`);
            put(vtpm, 'uuid', parsed, '00000000-0000-0000-0000-000000000000');
          } else this.reject(`Unknown string \`${k}' in vtpm spec`);
        }
        if (!gotBackend) this.reject('vtpm spec missing required backend field!');
        out.push(vtpm);
      }
      put(dConfig, 'vtpms', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "pvcalls" list
  pvcallsList(): void {
    const { config, dConfig } = this;
    const [ce, pvcalls] = config.list('pvcalls');
    if (!ce) {
      const out: Obj[] = [];
      for (const spec of stringItems(pvcalls)) {
        const dev: Obj = { devid: out.length };
        let backend: string | undefined;
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          const eq = p.indexOf('=');
          if (eq < 0) break;
          if (p.slice(0, eq) === 'backend') backend = p.slice(eq + 1);
          else this.reject(`Unknown string \`${p.slice(0, eq)}' in pvcalls spec`);
        }
        if (backend !== undefined) dev.backend_domname = backend;
        out.push(dev);
      }
      put(dConfig, 'pvcallsifs', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "channel" list
  channelList(): void {
    const { config, dConfig } = this;
    const [e, channels] = config.list('channel');
    if (e) return;
    const out: Obj[] = [];
    for (const spec of stringItems(channels)) {
      // 4.20: ARRAY_EXTEND_INIT_NODEVID, so no devid; 4.17: the index.
      const chn: Obj = this.v420 ? {} : { devid: out.length };
      let path: string | undefined;
      let connection: 'unknown' | 'pty' | 'socket' = 'unknown';
      for (const pair of splitStringList(spec, ',')) {
        // 4.20's split_string_into_pair splits at the first '=' and trims; 4.17's takes the
        // first two strtok pieces, trimmed after.
        const kv = this.v420 ? splitPairTrim(pair, '=') : splitPair(pair, '=');
        if (!kv) this.reject(`failed to parse channel configuration: ${pair}`);
        const key = isspaceTrim(kv[0]);
        const value = isspaceTrim(kv[1]);
        if (key === 'backend') chn.backend_domname = value;
        else if (key === 'name') chn.name = value;
        else if (key === 'path') path = value;
        else if (key === 'connection') {
          if (value === 'pty' || value === 'socket') connection = value;
          else this.reject(`unknown channel connection '${value}'`);
        } else this.warn(`unknown channel parameter '${key}', ignoring`);
      }
      if (connection === 'unknown') this.reject("channel has unknown 'connection'");
      if (connection === 'socket') {
        if (path === undefined) this.reject("channel connection 'socket' requires path=..");
        chn['connection.socket'] = { path };
      } else chn['connection.pty'] = {};
      out.push(chn);
    }
    put(dConfig, 'channels', out.length ? out : undefined);
  }

  // parse_config_data(): the "vif" list (set_default_nic_values(), then parse_nic_config() per key=value)
  vifList(): void {
    const { config, dConfig } = this;
    const [e, nics] = config.list('vif');
    if (e) return;
    const out: Obj[] = [];
    for (const spec of stringItems(nics)) {
      const nic: Obj = { devid: out.length };
      if (this.xlGlobals.vifScript !== undefined) nic.script = this.xlGlobals.vifScript;
      if (this.xlGlobals.vifBridge !== undefined) nic.bridge = this.xlGlobals.vifBridge;
      if (this.xlGlobals.vifGatewaydev !== undefined) nic.gatewaydev = this.xlGlobals.vifGatewaydev;
      if (this.xlGlobals.vifBackend !== undefined) nic.backend_domname = this.xlGlobals.vifBackend;
      for (const p of strtok(spec, ',')) this.parseNicConfig(nic, ltrimSpaces(p));
      out.push(nic);
    }
    put(dConfig, 'nics', out.length ? out : undefined);
  }

  // xl_parse.c: parse_nic_config(): one "key=value" of a vif spec (unknown ones are reported, not fatal)
  parseNicConfig(nic: Obj, token: string): void {
    let v: string | undefined;
    const strings: [string, string][] = [
      ['bridge', 'bridge'],
      ['gatewaydev', 'gatewaydev'],
      ['ip', 'ip'],
      ['script', 'script'],
      ['backend', 'backend_domname'],
      ['vifname', 'ifname'],
      ['model', 'model'],
    ];
    if ((v = option(token, 'type')) !== undefined) {
      if (v === 'vif') nic.nictype = 'vif';
      else if (v === 'ioemu') nic.nictype = 'vif_ioemu';
      else this.warn("Invalid parameter `type'.");
      return;
    }
    if ((v = option(token, 'mac')) !== undefined) {
      // Bytes before a bad one stay set (xl writes them one by one).
      const bytes = typeof nic.mac === 'string' ? nic.mac.split(':').map((x) => parseInt(x, 16)) : [0, 0, 0, 0, 0, 0];
      if (!parseMac(v, bytes)) this.warn("Invalid parameter `mac'.");
      put(nic, 'mac', bytes.map((x) => x.toString(16).padStart(2, '0')).join(':'), '00:00:00:00:00:00');
      return;
    }
    if ((v = option(token, 'netdev')) !== undefined) {
      this.warn('the netdev parameter is deprecated, please use gatewaydev instead');
      nic.gatewaydev = v;
      return;
    }
    for (const [key, field] of strings) {
      if ((v = option(token, key)) !== undefined) {
        nic[field] = v;
        return;
      }
    }
    if ((v = option(token, 'rate')) !== undefined) {
      const [rc, json, report] = native().xlcfgVifRate(this.source, v);
      if (rc) this.reject(report.trim() || `xlu_vif_parse_rate failed: ${rc}`);
      const [bytes, usecs] = JSON.parse(json!) as [number, number];
      put(nic, 'rate_bytes_per_interval', bytes, 0);
      put(nic, 'rate_interval_usecs', usecs, 0);
      return;
    }
    const colo = /^(colo_[a-z0-9_]+|forwarddev)=/.exec(token);
    if (colo && COLO_FIELDS.has(colo[1])) {
      nic[colo[1] === 'forwarddev' ? 'coloft_forwarddev' : colo[1]] = token.slice(colo[0].length);
      return;
    }
    if (option(token, 'accel') !== undefined) {
      this.warn('the accel parameter for vifs is currently not supported');
      return;
    }
    if ((v = option(token, 'devid')) !== undefined) {
      nic.devid = int32(parseUlong(v));
      return;
    }
    if ((v = option(token, 'mtu')) !== undefined) {
      put(nic, 'mtu', uint32(parseUlong(v)), 0);
      return;
    }
    // 4.20: "vlan=" (4.17 warns "unrecognized argument").
    if (this.v420 && (v = option(token, 'vlan')) !== undefined) {
      nic.vlan = v;
      return;
    }
    if (token === 'trusted') nic.trusted = 'True';
    else if (token === 'untrusted') nic.trusted = 'False';
    else this.warn(`unrecognized argument \`${token}'`);
  }

  // parse_config_data(): the "vfb" list (a vkb per vfb)
  vfbList(): void {
    const { config } = this;
    const vfbs: Obj[] = [];
    const vkbs: Obj[] = [];
    const [fe, cvfbs] = config.list('vfb');
    if (!fe) {
      for (const spec of stringItems(cvfbs)) {
        const vnc: Obj = {};
        const sdl: Obj = {};
        const vfb: Obj = { devid: vfbs.length, vnc, sdl };
        vfbs.push(vfb);
        vkbs.push({ devid: vkbs.length });
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          const eq = p.indexOf('=');
          if (eq < 0) break;
          const k = p.slice(0, eq);
          const v = p.slice(eq + 1);
          if (k === 'vnc') vnc.enable = atoi(v) ? 'True' : 'False';
          else if (k === 'vnclisten') vnc.listen = v;
          else if (k === 'vncpasswd') vnc.passwd = v;
          else if (k === 'vncdisplay') put(vnc, 'display', uint32(BigInt(atoi(v))), 0);
          else if (k === 'vncunused') vnc.findunused = atoi(v) ? 'True' : 'False';
          else if (k === 'keymap') vfb.keymap = v;
          else if (k === 'sdl') sdl.enable = atoi(v) ? 'True' : 'False';
          else if (k === 'opengl') sdl.opengl = atoi(v) ? 'True' : 'False';
          else if (k === 'display') sdl.display = v;
          else if (k === 'xauthority') sdl.xauthority = v;
        }
      }
    }
    this.vfbs = vfbs;
    this.vkbs = vkbs;
  }

  // parse_config_data(): the "usbctrl" list (parse_usbctrl_config() per spec)
  usbctrlList(): void {
    const { config, dConfig } = this;
    const [ue, usbctrls] = config.list('usbctrl');
    if (!ue) {
      const out: Obj[] = [];
      for (const spec of stringItems(usbctrls)) {
        const ctrl: Obj = { devid: out.length };
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          let v: string | undefined;
          if ((v = option(p, 'type')) !== undefined) {
            const t = enumFromString(T.UsbctrlTypeValues, v);
            if (t === undefined) this.reject(`Invalid usb controller type '${v}'`);
            put(ctrl, 'type', t, 'auto');
          } else if ((v = option(p, 'version')) !== undefined) put(ctrl, 'version', atoi(v), 0);
          else if ((v = option(p, 'ports')) !== undefined) put(ctrl, 'ports', atoi(v), 0);
          else this.reject(`Unknown string \`${p}' in usbctrl spec`);
        }
        out.push(ctrl);
      }
      put(dConfig, 'usbctrls', out.length ? out : undefined);
    }
  }

  // parse_config_data(): the "usbdev" list (parse_usbdev_config() per spec)
  usbdevList(): void {
    const { config, dConfig } = this;
    const [de2, usbdevs] = config.list('usbdev');
    if (!de2) {
      const out: Obj[] = [];
      for (const spec of stringItems(usbdevs)) {
        const dev: Obj = {};
        let type: string | undefined;
        const host: Obj = {};
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          let v: string | undefined;
          if ((v = option(p, 'type')) !== undefined) {
            const t = enumFromString(T.UsbdevTypeValues, v);
            if (t === undefined) this.reject(`Invalid usb device type: ${v}`);
            type = t;
          } else if ((v = option(p, 'hostbus')) !== undefined)
            put(host, 'hostbus', Number(BigInt.asUintN(8, strtoulLoose(v, 0))), 0);
          else if ((v = option(p, 'hostaddr')) !== undefined)
            put(host, 'hostaddr', Number(BigInt.asUintN(8, strtoulLoose(v, 0))), 0);
          else if ((v = option(p, 'controller')) !== undefined) dev.ctrl = atoi(v);
          else if ((v = option(p, 'port')) !== undefined) put(dev, 'port', atoi(v), 0);
          else this.reject(`Unknown string \`${p}' in usbdev spec`);
        }
        // libxl prints the union only for a known type (xl does not default it).
        if (type !== undefined) dev[`type.${type}`] = host;
        put(dev, 'ctrl', dev.ctrl, -1);
        out.push(dev);
      }
      put(dConfig, 'usbdevs', out.length ? out : undefined);
    }
  }

  // parse_config_data(): switch (xlu_cfg_get_list(config, "cpuid", …)): a list, or a "host,…" string
  cpuidList(): void {
    const { config, bInfo } = this;
    const [e, cpuids] = config.list('cpuid', true);
    let codes: number[] = [];
    let items: string[] = [];
    let json: string | null = null;
    if (!e) {
      items = stringItems(cpuids);
      [codes, json] = native().xlcfgCpuid(true, items);
      const why = [
        '',
        'illegal leaf number',
        'illegal subleaf number',
        'missing colon',
        'invalid register name (must be e[abcd]x)',
        'policy string must be exactly 32 characters long',
      ];
      codes.forEach((rc, i) => {
        if (rc) this.warn(`while parsing CPUID line: "${items[i]}":\n  error #${rc}: ${why[rc] ?? 'unknown error'}`);
      });
    } else if (e === EINVAL) {
      const buf = config.str('cpuid');
      if (buf !== undefined) {
        const parts = strtok(buf, ',');
        if (parts.length === 0) return;
        if (parts[0] !== 'host') {
          this.warn(`while parsing CPUID string: "${buf}":\n  error: first word must be "host"`);
          return;
        }
        items = parts.slice(1);
        [codes, json] = native().xlcfgCpuid(false, items);
        const why: Record<number, string> = {
          1: 'missing "=" in key=value',
          2: 'unknown CPUID flag name',
          3: 'illegal CPUID value (must be: [0|1|x|k|s])',
          [-5]: 'out of memory',
        };
        codes.forEach((rc, i) => {
          if (rc) this.warn(`while parsing CPUID flag: "${items[i]}":\n  error #${rc}: ${why[rc] ?? 'unknown error'}`);
        });
      }
    }
    if (json) bInfo.cpuid = JSON.parse(json);
  }

  // parse_config_data(): "parse device model arguments" ("device_model" … "device_model_args_hvm")
  deviceModelOptions(): void {
    const { config, bInfo, cInfo } = this;
    const dm = config.str('device_model');
    if (dm !== undefined) {
      this.warn(
        'WARNING: ignoring device_model directive.\nWARNING: Use "device_model_override" instead if you really want a non-default device_model',
      );
      if (dm.includes('stubdom-dm')) {
        this.warn(
          cInfo.type === 'hvm'
            ? 'WARNING: Or use "device_model_stubdomain_override" if you  want to enable stubdomains'
            : 'WARNING: ignoring "device_model_stubdomain_override" directive for pv guest',
        );
      }
    }
    if (config.string('device_model_override')[0] === 0) put(bInfo, 'device_model', config.str('device_model_override'));
    const version = config.str('device_model_version');
    if (version !== undefined) {
      if (version === 'qemu-xen-traditional') bInfo.device_model_version = 'qemu_xen_traditional';
      else if (version === 'qemu-xen') bInfo.device_model_version = 'qemu_xen';
      else this.reject(`Unknown device_model_version "${version}" specified`);
    } else if (bInfo.device_model !== undefined) this.warn('WARNING: device model override given without specific DM version');
    put(bInfo, 'device_model_stubdomain', config.defbool('device_model_stubdomain_override'));
    if (config.string('device_model_stubdomain_seclabel')[0] === 0)
      put(bInfo, 'device_model_ssid_label', config.str('device_model_stubdomain_seclabel'));
    for (const k of ['device_model_user', 'stubdomain_kernel', 'stubdomain_cmdline', 'stubdomain_ramdisk']) {
      if (config.string(k)[0] === 0) put(bInfo, k, config.str(k));
    }
    const stubMem = config.num('stubdomain_memory');
    if (stubMem !== undefined) put(bInfo, 'stubdomain_memkb', uint64(stubMem * 1024n), MEMKB_DEFAULT);
    for (const [key, field] of [
      ['device_model_args', 'extra'],
      ['device_model_args_pv', 'extra_pv'],
      ['device_model_args_hvm', 'extra_hvm'],
    ]) {
      const [e, list] = config.stringList(key);
      if (e && e !== ESRCH) this.reject(`xl: Unable to parse ${key}.`);
      if (!e) put(bInfo, field, list.length ? list : undefined);
    }
  }

  // parse_config_data(): the top-level VNC/SDL options (a vfb for a PV guest without vfb=[…]), and "dm_restrict"
  topLevelGraphics(): void {
    const { config, cInfo, dConfig, bInfoU } = this;
    if (cInfo.type === 'pv' && !this.vfbs.length) {
      const vnc = config.num('vnc');
      if (vnc !== undefined && vnc) {
        const vncInfo: Obj = {};
        const sdl: Obj = {};
        const vfb: Obj = { devid: this.vfbs.length, vnc: vncInfo, sdl };
        this.vfbs.push(vfb);
        this.vkbs.push({ devid: this.vkbs.length });
        this.parseTopLevelVncOptions(vncInfo);
        this.parseTopLevelSdlOptions(sdl);
        if (config.string('keymap')[0] === 0) put(vfb, 'keymap', config.str('keymap'));
      }
    } else {
      // For a PV guest with vfb=[…] (and for PVH) xl writes these into b_info->u.hvm, union
      // memory libxl does not print for those types.
      const vnc: Obj = cInfo.type === 'hvm' ? (bInfoU.vnc as Obj) : {};
      const sdl: Obj = cInfo.type === 'hvm' ? (bInfoU.sdl as Obj) : {};
      this.parseTopLevelVncOptions(vnc);
      this.parseTopLevelSdlOptions(sdl);
    }
    for (const vfb of this.vfbs) put(vfb, 'devid', vfb.devid, -1);
    put(dConfig, 'vfbs', this.vfbs.length ? this.vfbs : undefined);
    put(this.bInfo, 'dm_restrict', config.defbool('dm_restrict'));
  }

  // xl_parse.c: parse_top_level_vnc_options()
  parseTopLevelVncOptions(vnc: Obj): void {
    const { config } = this;
    put(vnc, 'enable', config.defbool('vnc'));
    if (config.string('vnclisten')[0] === 0) put(vnc, 'listen', config.str('vnclisten'));
    if (config.string('vncpasswd')[0] === 0) put(vnc, 'passwd', config.str('vncpasswd'));
    const display = config.num('vncdisplay');
    if (display !== undefined) put(vnc, 'display', uint32(display), 0);
    put(vnc, 'findunused', config.defbool('vncunused'));
  }

  // xl_parse.c: parse_top_level_sdl_options()
  parseTopLevelSdlOptions(sdl: Obj): void {
    const { config } = this;
    put(sdl, 'enable', config.defbool('sdl'));
    put(sdl, 'opengl', config.defbool('opengl'));
    if (config.string('display')[0] === 0) put(sdl, 'display', config.str('display'));
    if (config.string('xauthority')[0] === 0) put(sdl, 'xauthority', config.str('xauthority'));
  }

  // parse_config_data(): if (c_info->type == LIBXL_DOMAIN_TYPE_HVM) { "vga" … "vendor_device" }
  hvmDeviceOptions(): void {
    const { config, bInfoU } = this;
    const vga = bInfoU.vga as Obj;
    const vgaStr = config.str('vga');
    if (vgaStr !== undefined) {
      const kinds: Record<string, string> = { stdvga: 'std', cirrus: 'cirrus', none: 'none', qxl: 'qxl' };
      const kind = lookup(kinds, vgaStr);
      if (!kind) this.reject(`Unknown vga "${vgaStr}" specified`);
      vga.kind = kind;
    } else {
      const std = config.num('stdvga');
      if (std !== undefined) vga.kind = std ? 'std' : 'cirrus';
    }
    const hdtype = config.str('hdtype');
    if (hdtype !== undefined) {
      const v = enumFromString(T.HdtypeValues, hdtype);
      if (v === undefined) this.reject(`ERROR: invalid value "${hdtype}" for "hdtype"`);
      put(bInfoU, 'hdtype', v, 'ide');
    }
    if (config.string('keymap')[0] === 0) put(bInfoU, 'keymap', config.str('keymap'));
    const spice = bInfoU.spice as Obj;
    put(spice, 'enable', config.defbool('spice'));
    const port = config.num('spiceport');
    if (port !== undefined) put(spice, 'port', int32(port), 0);
    const tls = config.num('spicetls_port');
    if (tls !== undefined) put(spice, 'tls_port', int32(tls), 0);
    if (config.string('spicehost')[0] === 0) put(spice, 'host', config.str('spicehost'));
    put(spice, 'disable_ticketing', config.defbool('spicedisable_ticketing'));
    if (config.string('spicepasswd')[0] === 0) put(spice, 'passwd', config.str('spicepasswd'));
    put(spice, 'agent_mouse', config.defbool('spiceagent_mouse'));
    put(spice, 'vdagent', config.defbool('spicevdagent'));
    put(spice, 'clipboard_sharing', config.defbool('spice_clipboard_sharing'));
    const usbredir = config.num('spiceusbredirection');
    if (usbredir !== undefined) put(spice, 'usbredirection', int32(usbredir), 0);
    if (config.string('spice_image_compression')[0] === 0) put(spice, 'image_compression', config.str('spice_image_compression'));
    if (config.string('spice_streaming_video')[0] === 0) put(spice, 'streaming_video', config.str('spice_streaming_video'));
    put(bInfoU, 'nographic', config.defbool('nographic'));

    const [gpErr, gpL] = config.long('gfx_passthru', true);
    if (!gpErr) bInfoU.gfx_passthru = gpL ? 'True' : 'False';
    else {
      const gp = config.str('gfx_passthru');
      if (gp !== undefined) {
        const v = enumFromString(T.GfxPassthruKindValues, gp);
        if (v === undefined) this.reject(`ERROR: invalid value "${gp}" for "gfx_passthru"`);
        put(bInfoU, 'gfx_passthru_kind', v, 'default');
        bInfoU.gfx_passthru = 'True';
      }
    }

    const listOrString = (key: string, listField: string, field: string) => {
      const [e, list] = config.stringList(key, true);
      if (!e) put(bInfoU, listField, list.length ? list : undefined);
      else if (e === EINVAL) {
        const s = config.str(key);
        if (s === undefined) this.reject(`xl: Unable to parse ${key}.`);
        bInfoU[field] = s;
      }
    };
    listOrString('serial', 'serial_list', 'serial');
    if (config.string('boot')[0] === 0) put(bInfoU, 'boot', config.str('boot'));
    put(bInfoU, 'usb', config.defbool('usb'));
    const usbversion = config.num('usbversion');
    if (usbversion !== undefined) put(bInfoU, 'usbversion', int32(usbversion), 0);
    listOrString('usbdevice', 'usbdevice_list', 'usbdevice');
    put(bInfoU, 'vkb_device', config.defbool('vkb_device'));
    if (config.string('soundhw')[0] === 0) put(bInfoU, 'soundhw', config.str('soundhw'));
    put(bInfoU, 'xen_platform_pci', config.defbool('xen_platform_pci'));

    const vnc = bInfoU.vnc as Obj;
    if (typeof vnc.listen === 'string' && vnc.display && vnc.listen.includes(':')) {
      this.reject('ERROR: Display specified both in vnclisten and vncdisplay!');
    }
    const vendor = config.str('vendor_device');
    if (vendor !== undefined) {
      const v = enumFromString(T.VendorDeviceValues, vendor);
      if (v === undefined) this.reject(`xl: unknown vendor_device '${vendor}'`);
      put(bInfoU, 'vendor_device', v, 'none');
    }
  }

  // xl_parse.c: parse_vkb_list(), with parse_vkb_config() per key=value
  parseVkbList(): void {
    const { config, dConfig } = this;
    const [e, list] = config.list('vkb');
    if (!e) {
      for (const spec of stringItems(list)) {
        const vkb: Obj = { devid: this.vkbs.length };
        this.vkbs.push(vkb);
        let backendType = 'unknown';
        const nums: Record<string, number> = {};
        for (let p of strtok(spec, ',')) {
          p = ltrimSpaces(p);
          let v: string | undefined;
          if ((v = option(p, 'backend')) !== undefined) vkb.backend_domname = v;
          else if ((v = option(p, 'backend-type')) !== undefined) {
            const t = enumFromString(T.VkbBackendValues, v);
            if (t === undefined) this.reject(`Unknown backend_type "${v}" in vkb spec`);
            backendType = t;
          } else if ((v = option(p, 'unique-id')) !== undefined) vkb.unique_id = v;
          else {
            const m = /^([a-z-]+)=/.exec(p);
            const field = m && lookup(VKB_NUMBERS, m[1]);
            if (!field) this.reject(`Unknown string "${p}" in vkb spec`);
            nums[field] = uint32(strtoulLoose(p.slice(m![0].length), 0));
          }
        }
        if (backendType === 'unknown') this.reject('backend-type should be set in vkb spec');
        vkb.backend_type = backendType;
        const mt = nums.multi_touch_height || nums.multi_touch_width || nums.multi_touch_num_contacts;
        if (mt) nums.feature_multi_touch = 1;
        if (nums.feature_multi_touch && !mt) {
          this.reject(
            'multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set for multi touch in vkb spec',
          );
        }
        for (const [k, v] of Object.entries(nums)) {
          if (k.startsWith('feature_')) put(vkb, k, v ? true : undefined);
          else put(vkb, k, v, 0);
        }
      }
    }
    for (const vkb of this.vkbs) put(vkb, 'devid', vkb.devid, -1);
    put(dConfig, 'vkbs', this.vkbs.length ? this.vkbs : undefined);
  }
}

const VKB_NUMBERS: Record<string, string> = {
  'feature-disable-keyboard': 'feature_disable_keyboard',
  'feature-disable-pointer': 'feature_disable_pointer',
  'feature-abs-pointer': 'feature_abs_pointer',
  'feature-raw-pointer': 'feature_raw_pointer',
  'feature-multi-touch': 'feature_multi_touch',
  'multi-touch-width': 'multi_touch_width',
  'multi-touch-height': 'multi_touch_height',
  'multi-touch-num-contacts': 'multi_touch_num_contacts',
  width: 'width',
  height: 'height',
};

const COLO_FIELDS = new Set([
  'forwarddev',
  ...[
    'sock_mirror_id',
    'sock_mirror_ip',
    'sock_mirror_port',
    'sock_compare_sec_in_id',
    'sock_compare_sec_in_ip',
    'sock_compare_sec_in_port',
    'sock_redirector0_id',
    'sock_redirector0_ip',
    'sock_redirector0_port',
    'sock_redirector1_id',
    'sock_redirector1_ip',
    'sock_redirector1_port',
    'sock_redirector2_id',
    'sock_redirector2_ip',
    'sock_redirector2_port',
    'sock_compare_pri_in_id',
    'sock_compare_pri_in_ip',
    'sock_compare_pri_in_port',
    'sock_compare_notify_id',
    'sock_compare_notify_ip',
    'sock_compare_notify_port',
    'filter_mirror_queue',
    'filter_mirror_outdev',
    'filter_redirector0_queue',
    'filter_redirector0_indev',
    'filter_redirector0_outdev',
    'filter_redirector1_queue',
    'filter_redirector1_indev',
    'filter_redirector1_outdev',
    'compare_pri_in',
    'compare_sec_in',
    'compare_out',
    'compare_notify_dev',
    'sock_sec_redirector0_id',
    'sock_sec_redirector0_ip',
    'sock_sec_redirector0_port',
    'sock_sec_redirector1_id',
    'sock_sec_redirector1_ip',
    'sock_sec_redirector1_port',
    'filter_sec_redirector0_queue',
    'filter_sec_redirector0_indev',
    'filter_sec_redirector0_outdev',
    'filter_sec_redirector1_queue',
    'filter_sec_redirector1_indev',
    'filter_sec_redirector1_outdev',
    'filter_sec_rewriter0_queue',
    'checkpoint_host',
    'checkpoint_port',
  ].map((s) => `colo_${s}`),
]);

/**
 * sscanf's "%" SCNu32 (glibc): blanks skipped, a sign, decimal digits, converted as strtoul() does
 * (negatives wrap, overflow saturates) and cut to 32 bits; undefined when there is no number.
 */
function scanU32(s: string): { value: number; used: number } | undefined {
  const r = strtol(s, 10, true);
  return r.used === 0 ? undefined : { value: uint32(r.value), used: r.used };
}

function needLayout(spec: string): XenError {
  return new XenError(`parse xl.cfg: the CPU list ${JSON.stringify(spec)} depends on the host's CPUs: pass opts.cpuLayout`, {
    code: 'ERR_INVALID_ARG',
    op: 'parse xl.cfg',
  });
}

/**
 * Parses an xl.cfg(5) file into libxl's domain configuration, exactly as `xl -N create` of Xen
 * 4.17 or 4.20 (opts.xen, default 4.17) prints it (modulo key order). Throws a XenError: ERR_XLCFG_SYNTAX for a file
 * xl cannot read (the message is xl's, "<file>:<line>: config parsing error near …"),
 * ERR_INVALID_ARG for a configuration xl refuses (xl's message), ERR_UNSUPPORTED for vnuma/vsnd/vdispl.
 */
export function parseXlConfig(text: string, opts: XlConfigOptions = {}): ParsedXlConfig {
  if (typeof text !== 'string')
    throw new XenError('parse xl.cfg: the configuration is a string', { code: 'ERR_INVALID_ARG', op: 'parse xl.cfg' });
  if (opts.xen !== undefined && !XL_VERSIONS.includes(opts.xen))
    throw new XenError(`parse xl.cfg: xen is one of ${XL_VERSIONS.map((v) => `'${v}'`).join(', ')}`, {
      code: 'ERR_INVALID_ARG',
      op: 'parse xl.cfg',
    });
  const source = opts.path ?? '<xl.cfg>';
  const syntax = parseXlSyntax(text, source);
  if (syntax.error) {
    const details = [syntax.error.message];
    if (syntax.error.python) {
      details.push(
        'warning: Config file looks like it contains Python code.',
        'warning:  Arbitrary Python is no longer supported.',
        'warning:  See https://wiki.xen.org/wiki/PythonInXlConfig',
      );
    }
    throw syntaxError(syntax.error.message, details);
  }
  const port = new ParseConfigData(syntax.settings, source, opts);
  try {
    const config = port.parseConfigData();
    return { config, warnings: port.warnings };
  } catch (e) {
    if (e instanceof Reject) {
      // libxlutil's own messages already start with the file name.
      const message = e.message.startsWith(`${source}:`) ? e.message : `${source}: ${e.message}`;
      throw new XenError(message, { code: 'ERR_INVALID_ARG', op: 'parse xl.cfg', details: [...port.warnings, e.message] });
    }
    throw e;
  }
}
