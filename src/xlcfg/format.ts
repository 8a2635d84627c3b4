// libxl domain config (libxl's JSON) → xl.cfg text that parseXlConfig (and xl 4.17, or 4.20 with
// opts.xen) read back as the same config. Where the config holds something xl.cfg cannot say, formatXlConfig
// throws rather than write a file that would mean something else.
import { XenError } from '../core/errors';
import * as T from '../generated/libxl-types';
import type { DomainConfig } from '../generated/libxl-types';
import type { XlVersion } from './parse-config';

const OP = 'format xl.cfg';
const MEMKB_DEFAULT = 2 ** 64 - 1;

function cannot(what: string): XenError {
  return new XenError(`${OP}: xl.cfg cannot express ${what}`, { code: 'ERR_INVALID_ARG', op: OP });
}

/** A quoted string with libxlutil's escapes (its numeric escapes are broken, so none are used). */
export function quoteXlString(s: string): string {
  if (s.includes('\0')) throw cannot('a string with a NUL character');
  const esc: Record<string, string> = {
    '\\': '\\\\',
    '"': '\\"',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\v': '\\v',
  };
  // eslint-disable-next-line no-control-regex -- \x07 (BEL) is one of the escapes xl's lexer reads back
  return `"${s.replace(/[\\"\n\r\t\x07\b\f\v]/g, (c) => esc[c])}"`;
}

/**
 * A value inside a comma-separated device spec: xl splits on ",", so none may appear. xl
 * trims the spaces before each "key=" (the value keeps its own); a channel's keys and values
 * lose their blanks on both ends (`trimmed`).
 */
function specValue(v: string, what: string, trimmed = false): string {
  if (v.includes(',')) throw cannot(`a "," in ${what}`);
  if (trimmed && v !== v.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '')) throw cannot(`blanks around ${what}`);
  return v;
}

const defboolNum = (v: T.Defbool | undefined) => (v === 'True' ? '1' : '0');

type Obj = Record<string, unknown>;

class Writer {
  readonly lines: string[] = [];
  /** Fields of the config written so far, to refuse the ones not written. */
  line(key: string, value: string): void {
    this.lines.push(`${key} = ${value}`);
  }
  str(key: string, v: string | undefined): void {
    if (v !== undefined) this.line(key, quoteXlString(v));
  }
  num(key: string, v: number | undefined): void {
    // xl.cfg's NUMBER has no sign: a negative number is written as a string (same value).
    if (v !== undefined) this.line(key, v < 0 ? `"${v}"` : String(v));
  }
  bool(key: string, v: T.Defbool | undefined): void {
    if (v !== undefined && v !== '<default>') this.line(key, defboolNum(v));
  }
  list(key: string, items: string[] | undefined): void {
    if (items !== undefined) this.line(key, `[ ${items.map(quoteXlString).join(', ')} ]`);
  }
}

/** Checks that an object has only the keys this formatter writes. */
function only(obj: object | undefined, keys: string[], where: string): void {
  for (const k of Object.keys(obj ?? {})) if (!keys.includes(k)) throw cannot(`${where}.${k}`);
}

function kib(v: number, what: string): number {
  if (v % 1024 !== 0) throw cannot(`${what} that is not a whole MiB (${v} KiB)`);
  return v / 1024;
}

function cpus(map: number[]): string {
  return map.join(',');
}

/** Bytes per second and interval that libxlutil turns back into these two numbers. */
function vifRate(bytes: number, usecs: number): string {
  const b = BigInt(bytes);
  const u = BigInt(usecs);
  for (const [suffix, mult] of [
    ['', 1n],
    ['K', 1000n],
    ['M', 1000000n],
    ['G', 1000000000n],
  ] as const) {
    let per = (b * 1000000n + u * mult - 1n) / (u * mult);
    if (per === 0n) per = 1n; // libxlutil refuses a rate of 0; a small one can round down to 0 bytes
    if (per > 0xffffffffn) continue;
    if ((per * mult * u) / 1000000n === b) return `${per}${suffix}B/s@${usecs}us`;
  }
  throw cannot(`a vif rate of ${bytes} bytes per ${usecs} µs`);
}

/** Options of formatXlConfig. */
export interface FormatXlConfigOptions {
  /** The xl that is to read the text: '4.17' (default) or '4.20', whose fields it may then write. */
  xen?: XlVersion;
}

function formatDisk(d: T.DeviceDisk & { grant_usage?: T.Defbool }, i: number): string {
  only(
    d,
    [
      'pdev_path',
      'vdev',
      'backend',
      'format',
      'script',
      'removable',
      'readwrite',
      'is_cdrom',
      'direct_io_safe',
      'discard_enable',
      'colo_enable',
      'colo_restore_enable',
      'colo_host',
      'colo_port',
      'colo_export',
      'active_disk',
      'hidden_disk',
      'backend_domname',
      'specification',
      // 4.20's libxlutil (the host's, the addon's): grant_usage=0|1.
      'grant_usage',
    ],
    `disks[${i}]`,
  );
  const parts: string[] = [];
  if (d.vdev === undefined) throw cannot(`disks[${i}] without a vdev`);
  parts.push(`vdev=${specValue(d.vdev, 'a disk vdev')}`);
  const cdrom = d.is_cdrom === 1;
  if (cdrom) {
    parts.push('devtype=cdrom');
    if (d.removable !== 1 || d.readwrite) throw cannot(`disks[${i}]: a CD-ROM is removable and read-only`);
  } else {
    if (d.removable) throw cannot(`disks[${i}]: a removable disk that is not a CD-ROM`);
    parts.push(`access=${d.readwrite === 1 ? 'rw' : 'ro'}`);
  }
  const format = d.format ?? 'unknown';
  const empty = cdrom && (d.pdev_path === undefined || d.pdev_path === '');
  if (empty) {
    if (format !== 'empty') throw cannot(`disks[${i}]: an empty CD-ROM has format "empty"`);
  } else if (format === 'unknown') throw cannot(`disks[${i}] with format "${format}"`);
  else parts.push(`format=${format}`); // "empty" too: libxlutil keeps it, a target or not
  if (d.backend !== undefined && d.backend !== 'unknown') parts.push(`backendtype=${d.backend}`);
  if (d.backend_domname !== undefined) parts.push(`backend=${specValue(d.backend_domname, 'a disk backend')}`);
  if (d.script !== undefined) parts.push(`script=${specValue(d.script, 'a disk script')}`);
  if (d.specification !== undefined && d.specification !== 'unknown') parts.push(`specification=${d.specification}`);
  if (d.direct_io_safe) parts.push('direct-io-safe');
  if (d.discard_enable === 'True') parts.push('discard');
  if (d.discard_enable === 'False') parts.push('no-discard');
  if (d.colo_enable === 'True') parts.push('colo');
  if (d.colo_enable === 'False') parts.push('no-colo');
  if (d.colo_restore_enable !== undefined) throw cannot(`disks[${i}].colo_restore_enable`);
  if (d.colo_host !== undefined) parts.push(`colo-host=${specValue(d.colo_host, 'colo-host')}`);
  if (d.colo_port !== undefined) parts.push(`colo-port=${d.colo_port}`);
  if (d.colo_export !== undefined) parts.push(`colo-export=${specValue(d.colo_export, 'colo-export')}`);
  if (d.active_disk !== undefined) parts.push(`active-disk=${specValue(d.active_disk, 'active-disk')}`);
  if (d.hidden_disk !== undefined) parts.push(`hidden-disk=${specValue(d.hidden_disk, 'hidden-disk')}`);
  if (d.grant_usage === 'True') parts.push('grant_usage=1');
  if (d.grant_usage === 'False') parts.push('grant_usage=0');
  // target= takes the rest of the spec, commas included: it goes last.
  if (d.pdev_path !== undefined) {
    // target=.* stops at a newline (flex's "."); a positional target could hold one, but not
    // "=" or ",": refused rather than half written.
    if (d.pdev_path.includes('\n')) throw cannot(`disks[${i}]: a newline in the target`);
    // libxlutil strips one "," from the end of target=…: a target that ends in "," gets one more.
    parts.push(`target=${d.pdev_path}${d.pdev_path.endsWith(',') ? ',' : ''}`);
  }
  return parts.join(', ');
}

function formatNic(n: T.DeviceNic & { vlan?: string }, i: number, v420: boolean): string {
  const parts: string[] = [];
  const fields: [keyof T.DeviceNic, string][] = [
    ['bridge', 'bridge'],
    ['ip', 'ip'],
    ['script', 'script'],
    ['backend_domname', 'backend'],
    ['ifname', 'vifname'],
    ['model', 'model'],
    ['gatewaydev', 'gatewaydev'],
  ];
  const known = [
    'devid',
    'mac',
    'nictype',
    'mtu',
    'rate_bytes_per_interval',
    'rate_interval_usecs',
    'trusted',
    'coloft_forwarddev',
    ...(v420 ? ['vlan'] : []),
  ];
  for (const k of Object.keys(n)) {
    if (!known.includes(k) && !fields.some(([f]) => f === k) && !k.startsWith('colo_')) throw cannot(`nics[${i}].${k}`);
  }
  // xl reads devid as an unsigned long into an int: -1 is written 4294967295.
  if (n.devid !== i) parts.push(`devid=${(n.devid ?? -1) >>> 0}`);
  if (n.mac !== undefined) parts.push(`mac=${n.mac}`);
  for (const [f, key] of fields) if (n[f] !== undefined) parts.push(`${key}=${specValue(String(n[f]), `a vif ${key}`)}`);
  for (const [k, v] of Object.entries(n)) {
    if (k.startsWith('colo_')) parts.push(`${k}=${specValue(String(v), `a vif ${k}`)}`);
  }
  if (n.coloft_forwarddev !== undefined) parts.push(`forwarddev=${specValue(n.coloft_forwarddev, 'forwarddev')}`);
  if (n.nictype === 'vif') parts.push('type=vif');
  else if (n.nictype === 'vif_ioemu') parts.push('type=ioemu');
  else if (n.nictype !== undefined && n.nictype !== 'unknown') throw cannot(`nics[${i}].nictype ${n.nictype}`);
  if (n.mtu !== undefined) parts.push(`mtu=${n.mtu}`);
  if (n.vlan !== undefined) parts.push(`vlan=${specValue(n.vlan, 'a vif vlan')}`);
  if (n.rate_bytes_per_interval !== undefined || n.rate_interval_usecs !== undefined) {
    if (!n.rate_interval_usecs) throw cannot(`nics[${i}]: a rate without an interval`);
    parts.push(`rate=${vifRate(n.rate_bytes_per_interval ?? 0, n.rate_interval_usecs)}`);
  }
  if (n.trusted === 'True') parts.push('trusted');
  if (n.trusted === 'False') parts.push('untrusted');
  return parts.join(', ');
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function formatPci(p: T.DevicePci, i: number): string {
  only(
    p,
    [
      'func',
      'dev',
      'bus',
      'domain',
      'vdevfn',
      'vfunc_mask',
      'msitranslate',
      'power_mgmt',
      'permissive',
      'seize',
      'rdm_policy',
      'name',
    ],
    `pcidevs[${i}]`,
  );
  if (p.vdevfn && p.vdevfn & 7) throw cannot(`pcidevs[${i}].vdevfn ${p.vdevfn} (a slot has function 0)`);
  const parts: string[] = [];
  if (p.name !== undefined) {
    // A device by its name (xl pci-assignable-add -n): no BDF, the slot as vslot=.
    if (p.domain || p.bus || p.dev || p.func || p.vfunc_mask !== undefined) throw cannot(`pcidevs[${i}]: both a name and a BDF`);
    parts.push(`name=${specValue(p.name, 'a PCI name')}`);
    if (p.vdevfn) parts.push(`vslot=${hex(p.vdevfn >> 3, 2)}`);
  } else {
    let bdf = `${hex(p.domain ?? 0, 4)}:${hex(p.bus ?? 0, 2)}:${hex(p.dev ?? 0, 2)}.`;
    if (p.vfunc_mask === 0xffffffff) {
      if (p.func) throw cannot(`pcidevs[${i}]: all functions with func ${p.func}`);
      bdf += '*';
    } else if (p.vfunc_mask === 1) bdf += String(p.func ?? 0);
    else throw cannot(`pcidevs[${i}].vfunc_mask ${p.vfunc_mask}`);
    if (p.vdevfn) bdf += `@${hex(p.vdevfn >> 3, 2)}`;
    parts.push(bdf);
  }
  for (const k of ['permissive', 'msitranslate', 'seize', 'power_mgmt'] as const) parts.push(`${k}=${p[k] ? 1 : 0}`);
  if (p.rdm_policy !== undefined && p.rdm_policy !== 'invalid') parts.push(`rdm_policy=${p.rdm_policy}`);
  return parts.join(',');
}

/**
 * Writes a domain configuration (libxl's JSON, as parseXlConfig returns it) as xl.cfg text.
 * Parsing the text gives the same configuration back; a config without a UUID gets a new
 * random one from the parser, as from xl. Throws ERR_INVALID_ARG for what xl.cfg cannot say
 * (e.g. CPUID policies, vNUMA, fields libxl fills in itself).
 */
export function formatXlConfig(config: DomainConfig, opts: FormatXlConfigOptions = {}): string {
  if (typeof config !== 'object' || config === null)
    throw new XenError(`${OP}: the config is an object`, { code: 'ERR_INVALID_ARG', op: OP });
  if (opts.xen !== undefined && opts.xen !== '4.17' && opts.xen !== '4.20')
    throw new XenError(`${OP}: xen is '4.17' or '4.20'`, { code: 'ERR_INVALID_ARG', op: OP });
  const v420 = opts.xen === '4.20';
  const w = new Writer();
  const handled = new Set(['sched_params', 'arch_arm', 'arch_x86', 'claim_mode']);
  const c = config.c_info ?? {};
  const b = (config.b_info ?? {}) as T.DomainBuildInfo & Obj;
  only(
    config,
    [
      'c_info',
      'b_info',
      'disks',
      'nics',
      'pcidevs',
      'dtdevs',
      'vfbs',
      'vkbs',
      'vtpms',
      'p9s',
      'pvcallsifs',
      'channels',
      'usbctrls',
      'usbdevs',
      'on_poweroff',
      'on_reboot',
      'on_watchdog',
      'on_crash',
      'on_soft_reset',
      ...(v420 ? ['virtios'] : []),
    ],
    'config',
  );
  only(
    c,
    [
      'type',
      'hap',
      'oos',
      'ssid_label',
      'name',
      'uuid',
      'pool_name',
      'run_hotplug_scripts',
      'driver_domain',
      'passthrough',
      'xend_suspend_evtchn_compat',
    ],
    'c_info',
  );
  if (c.run_hotplug_scripts !== 'True') throw cannot("c_info.run_hotplug_scripts other than xl's default (xl.conf sets it)");
  if (b.claim_mode !== 'True') throw cannot("b_info.claim_mode other than xl's default (xl.conf sets it)");

  const type = c.type ?? 'pv';
  if (!['pv', 'pvh', 'hvm'].includes(type)) throw cannot(`c_info.type ${type}`);
  w.str('type', type);
  if (c.name === undefined) throw cannot('a domain without a name');
  w.str('name', c.name);
  w.str('uuid', c.uuid);
  w.bool('hap', c.hap);
  w.bool('oos', c.oos);
  w.str('pool', c.pool_name);
  w.bool('driver_domain', c.driver_domain);
  if (c.passthrough !== undefined) w.str('passthrough', c.passthrough);
  w.bool('xend_suspend_evtchn_compat', c.xend_suspend_evtchn_compat);
  // seclabel lands in c_info.ssid_label unless init_seclabel took it (then in exec_ssid_label).
  handled.add('exec_ssid_label');
  if (b.exec_ssid_label !== undefined) {
    if (c.ssid_label === undefined) throw cannot('b_info.exec_ssid_label without c_info.ssid_label');
    w.str('init_seclabel', c.ssid_label);
    w.str('seclabel', b.exec_ssid_label);
  } else w.str('seclabel', c.ssid_label);

  const u = (b[`type.${type}` as keyof typeof b] ?? {}) as Obj;
  handled.add(`type.${type}`);
  for (const k of Object.keys(b)) {
    if (k.startsWith('type.') && k !== `type.${type}`) throw cannot(`b_info.${k} for a ${type} guest`);
  }
  const take = <K extends string>(k: K) => {
    handled.add(k);
    return b[k as keyof typeof b] as never;
  };

  // Memory: xl sets max to target unless maxmem says otherwise.
  const target = take('target_memkb') as number | undefined;
  const max = take('max_memkb') as number | undefined;
  if (target !== undefined) w.num('memory', kib(target, 'memory'));
  if (max !== undefined && max !== target) w.num('maxmem', kib(max, 'maxmem'));
  if (max === undefined && target !== undefined) throw cannot('a target_memkb without max_memkb');

  const avail = take('avail_vcpus') as number[] | undefined;
  const maxVcpus = (take('max_vcpus') as number | undefined) ?? 0;
  const vcpus = avail?.length ?? 0;
  if (avail && avail.some((v, i) => v !== i)) throw cannot('b_info.avail_vcpus other than 0..n-1');
  if (vcpus) w.num('vcpus', vcpus);
  if (maxVcpus !== vcpus) w.num('maxvcpus', maxVcpus);

  // Affinity: the string form copies one map to every vCPU; the list form also turns NUMA
  // placement off (and so does a soft affinity in either form).
  const hard = take('vcpu_hard_affinity') as number[][] | undefined;
  const soft = take('vcpu_soft_affinity') as number[][] | undefined;
  const placement = take('numa_placement') as T.Defbool | undefined;
  const sameForAll = (maps: number[][]) => {
    if (maps.length !== maxVcpus) return false;
    // The parser gives every vCPU the same array for the string form (up to 8192 × 16384).
    const first = cpus(maps[0]);
    return maps.every((m) => m === maps[0] || cpus(m) === first);
  };
  // An empty map is "" (no CPU); a list may be shorter than the vCPUs, not longer.
  const affinity = (key: string, maps: number[][] | undefined, listForm: boolean) => {
    if (!maps) return;
    if (!listForm && sameForAll(maps)) w.str(key, cpus(maps[0]));
    else {
      if (maps.length > maxVcpus) throw cannot(`${key}: ${maps.length} maps for ${maxVcpus} vCPUs`);
      w.list(key, maps.map(cpus));
    }
  };
  const placementOff = placement === 'False';
  if (placement === 'True') throw cannot('b_info.numa_placement "True"');
  // Without placement off, only the string form of cpus (one map for every vCPU) is possible.
  if (!placementOff && (soft || (hard && !sameForAll(hard)))) throw cannot('vCPU affinity with NUMA placement not "False"');
  affinity('cpus', hard, placementOff && !soft);
  affinity('cpus_soft', soft, false);
  // An empty list turns placement off and gives no vCPU a map.
  if (placementOff && !hard && !soft) w.line('cpus', '[ ]');

  const sp = (b.sched_params ?? {}) as Obj;
  only(sp, ['weight', 'cap', 'period', 'slice', 'latency', 'extratime'], 'b_info.sched_params');
  w.num('cpu_weight', sp.weight as number | undefined);
  for (const k of ['cap', 'period', 'slice', 'latency', 'extratime']) w.num(k, sp[k] as number | undefined);

  for (const [k, key] of [
    ['max_grant_frames', 'max_grant_frames'],
    ['max_maptrack_frames', 'max_maptrack_frames'],
    ['max_grant_version', 'max_grant_version'],
    ['event_channels', 'max_event_channels'],
    ['rtc_timeoffset', 'rtc_timeoffset'],
    ['vmtrace_buf_kb', 'vmtrace_buf_kb'],
  ] as const) {
    w.num(key, take(k));
  }
  for (const [k, key] of [
    ['shadow_memkb', 'shadow_memory'],
    ['video_memkb', 'videoram'],
    ['stubdomain_memkb', 'stubdomain_memory'],
  ] as const) {
    const v = take(k) as number | undefined;
    if (v !== undefined && v !== MEMKB_DEFAULT) w.num(key, kib(v, key));
  }
  for (const [k, key] of [
    ['localtime', 'localtime'],
    ['disable_migrate', 'nomigrate'],
    ['acpi', 'acpi'],
    ['nested_hvm', 'nestedhvm'],
    ['apic', 'apic'],
    ['dm_restrict', 'dm_restrict'],
    ['vpmu', 'vpmu'],
    ['device_model_stubdomain', 'device_model_stubdomain_override'],
  ] as const) {
    w.bool(key, take(k));
  }
  for (const [k, key] of [
    ['kernel', 'kernel'],
    ['ramdisk', 'ramdisk'],
    ['cmdline', 'cmdline'],
    ['device_tree', 'device_tree'],
    ['bootloader', 'bootloader'],
    ['device_model', 'device_model_override'],
    ['device_model_ssid_label', 'device_model_stubdomain_seclabel'],
    ['device_model_user', 'device_model_user'],
    ['stubdomain_kernel', 'stubdomain_kernel'],
    ['stubdomain_cmdline', 'stubdomain_cmdline'],
    ['stubdomain_ramdisk', 'stubdomain_ramdisk'],
    ['blkdev_start', ''],
  ] as const) {
    const v = take(k) as string | undefined;
    if (v === undefined) continue;
    if (!key) throw cannot(`b_info.${k} (xl.conf sets it)`);
    w.str(key, v);
  }
  if (type === 'hvm' && typeof b.kernel === 'string' && b.kernel.split('/').pop() === 'hvmloader')
    throw cannot('an HVM kernel named hvmloader');
  w.list('bootloader_args', take('bootloader_args'));
  if (v420) {
    w.bool('bootloader_restrict', take('bootloader_restrict'));
    w.str('bootloader_user', take('bootloader_user'));
    const colors = take('llc_colors') as number[] | undefined;
    w.list('llc_colors', colors?.map(String));
  }
  for (const [k, key] of [
    ['extra', 'device_model_args'],
    ['extra_pv', 'device_model_args_pv'],
    ['extra_hvm', 'device_model_args_hvm'],
  ] as const) {
    w.list(key, take(k));
  }
  const dmv = take('device_model_version') as string | undefined;
  if (dmv === 'qemu_xen') w.str('device_model_version', 'qemu-xen');
  else if (dmv === 'qemu_xen_traditional') w.str('device_model_version', 'qemu-xen-traditional');
  else if (dmv !== undefined) throw cannot(`device_model_version ${dmv}`);
  for (const [k, key] of [
    ['tsc_mode', 'tsc_mode'],
    ['timer_mode', 'timer_mode'],
    ['altp2m', 'altp2m'],
    ['tee', 'tee'],
  ] as const) {
    const v = take(k) as string | undefined;
    if (v !== undefined) w.str(key, v);
  }
  for (const k of ['ioports', 'irqs', 'iomem']) handled.add(k);
  if (b.ioports?.some((r) => !r.number)) throw cannot('an I/O port range of 0 ports');
  // xl computes number = end - start + 1 in 32 bits (and never checks end >= start: "3f8-2ff"
  // is 4294967048 ports), so the end is written modulo 2^32.
  if (b.ioports) {
    w.list(
      'ioports',
      b.ioports.map((r, i) => {
        const first = r.first ?? 0;
        const end = (first + (r.number ?? 0) - 1) % 2 ** 32;
        if (first >= 0xffffffff || end >= 0xffffffff)
          throw cannot(`b_info.ioports[${i}] ending at ${end.toString(16)} (xl: "too big")`);
        return `${first.toString(16)}-${end.toString(16)}`;
      }),
    );
  }
  if (b.irqs) w.list('irqs', b.irqs.map(String));
  if (b.iomem) {
    w.list(
      'iomem',
      b.iomem.map(
        (r) =>
          `${(r.start ?? 0).toString(16)},${(r.number ?? 0).toString(16)}${r.gfn !== undefined ? `@${r.gfn.toString(16)}` : ''}`,
      ),
    );
  }
  const cpuid = take('cpuid') as { cpuid?: T.CpuidLeaf[]; msr?: unknown[] } | undefined;
  if (cpuid) {
    // The xend form, leaf[,subleaf]:eXx=<32 policy characters>,…, says everything a leaf holds.
    if (cpuid.msr?.length) throw cannot('MSR policies (cpuid.msr)');
    w.list(
      'cpuid',
      (cpuid.cpuid ?? []).map((l, i) => {
        // A leaf without registers ("1:") is what libxl keeps of a line it could not parse.
        const regs = (['eax', 'ebx', 'ecx', 'edx'] as const).filter((r) => l[r] !== undefined);
        if (regs.some((r) => !/^[01xks]{32}$/.test(l[r]!)))
          throw cannot(`cpuid[${i}]: a register policy that is not 32 of [01xks]`);
        return `${l.leaf}${l.subleaf !== undefined ? `,${l.subleaf}` : ''}:${regs.map((r) => `${r}=${l[r]}`).join(',')}`;
      }),
    );
  }
  const arm = (b.arch_arm ?? {}) as Obj;
  only(arm, ['vuart', 'gic_version', ...(v420 ? ['sve_vl', 'nr_spis'] : [])], 'b_info.arch_arm');
  if (arm.vuart) w.str('vuart', arm.vuart as string);
  if (arm.gic_version) w.str('gic_version', arm.gic_version as string);
  if (arm.sve_vl !== undefined) w.str('sve', arm.sve_vl as string);
  w.num('nr_spis', arm.nr_spis as number | undefined);
  only(b.arch_x86, ['msr_relaxed'], 'b_info.arch_x86');
  w.bool('msr_relaxed', b.arch_x86?.msr_relaxed);
  for (const k of Object.keys(b)) if (!handled.has(k)) throw cannot(`b_info.${k}`);

  // The type's own fields.
  if (type === 'pv') {
    only(u, ['e820_host'], 'b_info.type.pv');
    // xl turns e820_host on for a PV guest with PCI devices.
    if (u.e820_host !== undefined && !(u.e820_host === 'True' && config.pcidevs?.length))
      w.bool('e820_host', u.e820_host as T.Defbool);
  } else if (type === 'pvh') {
    only(u, ['pvshim', 'pvshim_path', 'pvshim_cmdline', 'pvshim_extra'], 'b_info.type.pvh');
    w.bool('pvshim', u.pvshim as T.Defbool);
    for (const k of ['pvshim_path', 'pvshim_cmdline', 'pvshim_extra']) w.str(k, u[k] as string | undefined);
  } else formatHvm(w, u, v420);

  for (const [k, dflt] of [
    ['on_poweroff', 'destroy'],
    ['on_reboot', 'restart'],
    ['on_watchdog', 'destroy'],
    ['on_crash', 'destroy'],
    ['on_soft_reset', 'soft_reset'],
  ] as const) {
    const v = config[k] ?? 'destroy';
    if (v !== dflt) w.str(k, v.replace('restart_rename', 'rename-restart').replace('_', '-'));
  }

  if (config.disks) w.list('disk', config.disks.map(formatDisk));
  if (config.nics)
    w.list(
      'vif',
      config.nics.map((n, i) => formatNic(n, i, v420)),
    );
  if (config.pcidevs) w.list('pci', config.pcidevs.map(formatPci));
  if (config.dtdevs)
    w.list(
      'dtdev',
      config.dtdevs.map((d) => d.path ?? ''),
    );
  formatOtherDevices(w, config, v420);
  return w.lines.join('\n') + '\n';
}

function formatHvm(w: Writer, u: Obj, v420: boolean): void {
  const known = [
    'firmware',
    'bios',
    'pae',
    'acpi_s3',
    'acpi_s4',
    'acpi_laptop_slate',
    'nx',
    'viridian',
    'viridian_enable',
    'viridian_disable',
    'hpet',
    'vpt_align',
    'mmio_hole_memkb',
    'altp2m',
    'system_firmware',
    'smbios_firmware',
    'acpi_firmware',
    'nographic',
    'vga',
    'vnc',
    'sdl',
    'spice',
    'keymap',
    'gfx_passthru',
    'gfx_passthru_kind',
    'serial',
    'boot',
    'usb',
    'usbversion',
    'usbdevice',
    'vkb_device',
    'soundhw',
    'xen_platform_pci',
    'usbdevice_list',
    'serial_list',
    'rdm_mem_boundary_memkb',
    'mca_caps',
    'hdtype',
    'vendor_device',
    'rdm',
    ...(v420 ? ['pirq', 'smbios'] : []),
  ];
  only(u, known, 'b_info.type.hvm');
  w.bool('hvm_pirq', u.pirq as T.Defbool);
  const smbios = u.smbios as { key?: string; value?: string }[] | undefined;
  if (smbios) {
    if (smbios.filter((e) => e.key === 'oem').length > 99) throw cannot('more than 99 smbios oem strings (xl refuses them)');
    w.list(
      'smbios',
      smbios.map((e, i) => {
        if (!e.key || !e.value) throw cannot(`b_info.type.hvm.smbios[${i}] without a key and a value`);
        return `${e.key}=${e.value}`;
      }),
    );
  }
  w.str('firmware_override', u.firmware as string | undefined);
  w.str('bios_path_override', u.system_firmware as string | undefined);
  if (u.bios !== undefined) w.str('bios', u.bios as string);
  for (const k of [
    'pae',
    'acpi_s3',
    'acpi_s4',
    'acpi_laptop_slate',
    'nx',
    'hpet',
    'vpt_align',
    'nographic',
    'usb',
    'vkb_device',
    'xen_platform_pci',
  ]) {
    w.bool(k, u[k] as T.Defbool);
  }
  w.bool('altp2mhvm', u.altp2m as T.Defbool); // deprecated in xl (a warning), but the only way to this field
  const en = u.viridian_enable as number[] | undefined;
  const dis = u.viridian_disable as number[] | undefined;
  if (en || dis) {
    const name = (n: number) => {
      const v = Object.entries(T.ViridianEnlightenmentValues).find(([, x]) => x === n);
      if (!v) throw cannot(`viridian enlightenment ${n}`);
      return v[0];
    };
    // "all" sets all 64 bits of the enable map (most have no name); "!x" then moves x to disable.
    const all = en !== undefined && (dis ?? []).every((n) => !en.includes(n)) && en.length + (dis ?? []).length === 64;
    const items = [
      ...(u.viridian === 'True' ? ['defaults'] : []),
      ...(all ? ['all'] : (en ?? []).map(name)),
      ...(dis ?? []).map((n) => `!${name(n)}`),
    ];
    if (u.viridian === 'False') throw cannot('viridian "False" with enlightenments');
    w.list('viridian', items);
  } else w.bool('viridian', u.viridian as T.Defbool);
  if (u.mmio_hole_memkb !== undefined) w.num('mmio_hole', kib(u.mmio_hole_memkb as number, 'mmio_hole'));
  w.str('smbios_firmware', u.smbios_firmware as string | undefined);
  w.str('acpi_firmware', u.acpi_firmware as string | undefined);
  if (u.rdm_mem_boundary_memkb !== undefined)
    w.num('rdm_mem_boundary', kib(u.rdm_mem_boundary_memkb as number, 'rdm_mem_boundary'));
  if (u.mca_caps !== undefined) {
    if (u.mca_caps !== 1) throw cannot(`mca_caps ${u.mca_caps}`);
    w.list('mca_caps', ['lmce']);
  }
  const rdm = (u.rdm ?? {}) as Obj;
  only(rdm, ['strategy'], 'b_info.type.hvm.rdm'); // libxlutil 4.17 cannot parse a policy
  if (rdm.strategy === 'host') w.str('rdm', 'strategy=host');
  const vga = (u.vga ?? {}) as Obj;
  only(vga, ['kind'], 'b_info.type.hvm.vga');
  if (vga.kind !== undefined) w.str('vga', vga.kind === 'std' ? 'stdvga' : (vga.kind as string));
  if (u.hdtype !== undefined) w.str('hdtype', u.hdtype as string);
  w.str('keymap', u.keymap as string | undefined);
  const vnc = (u.vnc ?? {}) as Obj;
  only(vnc, ['enable', 'listen', 'passwd', 'display', 'findunused'], 'b_info.type.hvm.vnc');
  w.bool('vnc', vnc.enable as T.Defbool);
  w.str('vnclisten', vnc.listen as string | undefined);
  w.str('vncpasswd', vnc.passwd as string | undefined);
  w.num('vncdisplay', vnc.display as number | undefined);
  w.bool('vncunused', vnc.findunused as T.Defbool);
  const sdl = (u.sdl ?? {}) as Obj;
  only(sdl, ['enable', 'opengl', 'display', 'xauthority'], 'b_info.type.hvm.sdl');
  w.bool('sdl', sdl.enable as T.Defbool);
  w.bool('opengl', sdl.opengl as T.Defbool);
  w.str('display', sdl.display as string | undefined);
  w.str('xauthority', sdl.xauthority as string | undefined);
  const spice = (u.spice ?? {}) as Obj;
  only(
    spice,
    [
      'enable',
      'port',
      'tls_port',
      'host',
      'disable_ticketing',
      'passwd',
      'agent_mouse',
      'vdagent',
      'clipboard_sharing',
      'usbredirection',
      'image_compression',
      'streaming_video',
    ],
    'b_info.type.hvm.spice',
  );
  w.bool('spice', spice.enable as T.Defbool);
  w.num('spiceport', spice.port as number | undefined);
  w.num('spicetls_port', spice.tls_port as number | undefined);
  w.str('spicehost', spice.host as string | undefined);
  w.bool('spicedisable_ticketing', spice.disable_ticketing as T.Defbool);
  w.str('spicepasswd', spice.passwd as string | undefined);
  w.bool('spiceagent_mouse', spice.agent_mouse as T.Defbool);
  w.bool('spicevdagent', spice.vdagent as T.Defbool);
  w.bool('spice_clipboard_sharing', spice.clipboard_sharing as T.Defbool);
  w.num('spiceusbredirection', spice.usbredirection as number | undefined);
  w.str('spice_image_compression', spice.image_compression as string | undefined);
  w.str('spice_streaming_video', spice.streaming_video as string | undefined);
  if (u.gfx_passthru_kind !== undefined) {
    if (u.gfx_passthru !== 'True') throw cannot('gfx_passthru_kind without gfx_passthru');
    w.str('gfx_passthru', u.gfx_passthru_kind as string);
  } else w.bool('gfx_passthru', u.gfx_passthru as T.Defbool);
  if (u.serial_list !== undefined) {
    if (u.serial !== undefined) throw cannot('both serial and serial_list');
    w.list('serial', u.serial_list as string[]);
  } else w.str('serial', u.serial as string | undefined);
  w.str('boot', u.boot as string | undefined);
  w.num('usbversion', u.usbversion as number | undefined);
  if (u.usbdevice_list !== undefined) {
    if (u.usbdevice !== undefined) throw cannot('both usbdevice and usbdevice_list');
    w.list('usbdevice', u.usbdevice_list as string[]);
  } else w.str('usbdevice', u.usbdevice as string | undefined);
  w.str('soundhw', u.soundhw as string | undefined);
  if (u.vendor_device !== undefined) w.str('vendor_device', u.vendor_device as string);
}

function formatOtherDevices(w: Writer, config: T.DomainConfig, v420: boolean): void {
  const indexed = (arr: { devid?: number }[] | undefined, what: string) => {
    arr?.forEach((d, i) => {
      if (d.devid !== i) throw cannot(`${what}[${i}] with devid ${d.devid ?? -1} (xl numbers them 0, 1, …)`);
    });
  };
  if (config.vtpms) {
    indexed(config.vtpms, 'vtpms');
    w.list(
      'vtpm',
      config.vtpms.map((v, i) => {
        only(v, ['devid', 'backend_domname', 'uuid'], `vtpms[${i}]`);
        if (v.backend_domname === undefined) throw cannot(`vtpms[${i}] without a backend`);
        return [`backend=${specValue(v.backend_domname, 'a vtpm backend')}`, ...(v.uuid ? [`uuid=${v.uuid}`] : [])].join(',');
      }),
    );
  }
  if (config.p9s && v420) {
    // 4.20: key=value pairs split at the first "=" and trimmed; no field is required.
    w.list(
      'p9',
      (config.p9s as Obj[]).map((p, i) => {
        const fields: [string, string][] = [
          ['tag', 'tag'],
          ['security_model', 'security_model'],
          ['path', 'path'],
          ['backend_domname', 'backend'],
          ['type', 'type'],
          ['max_files', 'max-files'],
          ['max_open_files', 'max-open-files'],
          ['max_space', 'max-space'],
        ];
        only(p, [...fields.map(([f]) => f), 'auto_delete'], `p9s[${i}]`);
        const parts: string[] = [];
        for (const [f, key] of fields) {
          const v = p[f];
          if (v === undefined) continue;
          // parse_ulong() into an int: -1 is written 4294967295.
          const text = typeof v === 'number' ? String(v >>> 0) : specValue(String(v), `a 9pfs ${key}`, true);
          if (text === '') throw cannot(`p9s[${i}]: an empty ${key}`);
          parts.push(`${key}=${text}`);
        }
        if (p.auto_delete) parts.push('auto-delete=1');
        if (!parts.length) throw cannot(`p9s[${i}] without a field (xl 4.20 crashes on an empty p9 spec)`);
        return parts.join(',');
      }),
    );
  } else if (config.p9s) {
    w.list(
      'p9',
      config.p9s.map((p, i) => {
        only(p, ['tag', 'security_model', 'path', 'backend_domname'], `p9s[${i}]`);
        if (p.tag === undefined || p.security_model === undefined || p.path === undefined)
          throw cannot(`p9s[${i}] without tag, security_model and path`);
        if (i > 0 && p.backend_domname === undefined && config.p9s![i - 1].backend_domname !== undefined) {
          throw cannot(`p9s[${i}] without a backend after one with a backend (xl carries it over)`);
        }
        return [
          `tag=${specValue(p.tag, 'a 9pfs tag')}`,
          `security_model=${specValue(p.security_model, 'a 9pfs security_model')}`,
          `path=${specValue(p.path, 'a 9pfs path')}`,
          ...(p.backend_domname !== undefined ? [`backend=${specValue(p.backend_domname, 'a 9pfs backend')}`] : []),
        ].join(',');
      }),
    );
  }
  if (config.pvcallsifs) {
    indexed(config.pvcallsifs, 'pvcallsifs');
    w.list(
      'pvcalls',
      config.pvcallsifs.map((p, i) => {
        only(p, ['devid', 'backend_domname'], `pvcallsifs[${i}]`);
        return p.backend_domname !== undefined ? `backend=${specValue(p.backend_domname, 'a pvcalls backend')}` : '';
      }),
    );
  }
  if (config.channels) {
    // 4.20 gives channels no devid; 4.17 numbers them.
    if (!v420) indexed(config.channels, 'channels');
    else {
      config.channels.forEach((ch, i) => {
        if (ch.devid !== undefined) throw cannot(`channels[${i}] with a devid (xl 4.20 gives none)`);
      });
    }
    w.list(
      'channel',
      config.channels.map((ch, i) => {
        only(ch, ['devid', 'backend_domname', 'name', 'connection.pty', 'connection.socket'], `channels[${i}]`);
        const parts: string[] = [];
        // xl splits each pair at '=' (4.17: strtok, so a second '=' cuts the value) and refuses a
        // pair with nothing after it; an empty value is written "key= " (trimmed to "").
        const pair = (key: string, v: string, what: string) => {
          specValue(v, what, true);
          if (!v420 && v.includes('=')) throw cannot(`a "=" in ${what} (xl 4.17 cuts the value there)`);
          return `${key}=${v === '' ? ' ' : v}`;
        };
        if (ch.name !== undefined) parts.push(pair('name', ch.name, 'a channel name'));
        if (ch.backend_domname !== undefined) parts.push(pair('backend', ch.backend_domname, 'a channel backend'));
        const sock = (ch as Obj)['connection.socket'] as { path?: string } | undefined;
        if (sock) parts.push('connection=socket', pair('path', sock.path ?? '', 'a channel path'));
        else if ((ch as Obj)['connection.pty']) parts.push('connection=pty');
        else throw cannot(`channels[${i}] without a connection`);
        return parts.join(',');
      }),
    );
  }
  const virtios = (config as { virtios?: Obj[] }).virtios;
  if (virtios) {
    // 4.20: parse_virtio_list(); a type that starts with "virtio" takes the next comma's piece along.
    indexed(virtios, 'virtios');
    w.list(
      'virtio',
      virtios.map((v, i) => {
        only(v, ['devid', 'backend_domname', 'type', 'transport', 'grant_usage'], `virtios[${i}]`);
        const parts: string[] = [];
        if (v.backend_domname !== undefined) parts.push(`backend=${specValue(v.backend_domname as string, 'a virtio backend')}`);
        if (v.type !== undefined) {
          const t = v.type as string;
          const pieces = t.split(',');
          const ok = t.startsWith('virtio') ? pieces.length === 2 && pieces[1] !== '' : pieces.length === 1;
          if (!ok) throw cannot(`virtios[${i}].type ${JSON.stringify(t)} (only "virtio<…>,<…>" may hold a comma, one)`);
          parts.push(`type=${t}`);
        }
        if (v.transport !== undefined && v.transport !== 'unknown') parts.push(`transport=${v.transport as string}`);
        if (v.grant_usage === 'True') parts.push('grant_usage=1');
        if (v.grant_usage === 'False') parts.push('grant_usage=0');
        return parts.join(',');
      }),
    );
  }
  // vfb=[…] makes one vkb per vfb; further vkbs come from vkb=[…].
  const vfbs = config.vfbs ?? [];
  const vkbs = config.vkbs ?? [];
  indexed(vfbs, 'vfbs');
  indexed(vkbs, 'vkbs');
  vkbs.slice(0, vfbs.length).forEach((k, i) => only(k, ['devid'], `vkbs[${i}] (the keyboard of vfbs[${i}])`));
  if (vkbs.length < vfbs.length) throw cannot('a vfb without its vkb');
  if (vfbs.length) {
    w.list(
      'vfb',
      vfbs.map((f, i) => {
        only(f, ['devid', 'vnc', 'sdl', 'keymap'], `vfbs[${i}]`);
        const parts: string[] = [];
        const vnc = (f.vnc ?? {}) as Obj;
        const sdl = (f.sdl ?? {}) as Obj;
        only(vnc, ['enable', 'listen', 'passwd', 'display', 'findunused'], `vfbs[${i}].vnc`);
        only(sdl, ['enable', 'opengl', 'display', 'xauthority'], `vfbs[${i}].sdl`);
        if (vnc.enable !== undefined) parts.push(`vnc=${defboolNum(vnc.enable as T.Defbool)}`);
        if (vnc.listen !== undefined) parts.push(`vnclisten=${specValue(vnc.listen as string, 'vnclisten')}`);
        if (vnc.passwd !== undefined) parts.push(`vncpasswd=${specValue(vnc.passwd as string, 'vncpasswd')}`);
        if (vnc.display !== undefined) parts.push(`vncdisplay=${vnc.display}`);
        if (vnc.findunused !== undefined) parts.push(`vncunused=${defboolNum(vnc.findunused as T.Defbool)}`);
        if (f.keymap !== undefined) parts.push(`keymap=${specValue(f.keymap, 'keymap')}`);
        if (sdl.enable !== undefined) parts.push(`sdl=${defboolNum(sdl.enable as T.Defbool)}`);
        if (sdl.opengl !== undefined) parts.push(`opengl=${defboolNum(sdl.opengl as T.Defbool)}`);
        if (sdl.display !== undefined) parts.push(`display=${specValue(sdl.display as string, 'display')}`);
        if (sdl.xauthority !== undefined) parts.push(`xauthority=${specValue(sdl.xauthority as string, 'xauthority')}`);
        // An empty vfb spec still makes a vfb; a lone "," keeps the list item non-empty for humans.
        return parts.join(',');
      }),
    );
  }
  const extraVkbs = vkbs.slice(vfbs.length);
  if (extraVkbs.length) {
    w.list(
      'vkb',
      extraVkbs.map((k, j) => {
        const i = vfbs.length + j;
        const fields: Record<string, string> = {
          feature_disable_keyboard: 'feature-disable-keyboard',
          feature_disable_pointer: 'feature-disable-pointer',
          feature_abs_pointer: 'feature-abs-pointer',
          feature_raw_pointer: 'feature-raw-pointer',
          feature_multi_touch: 'feature-multi-touch',
          multi_touch_width: 'multi-touch-width',
          multi_touch_height: 'multi-touch-height',
          multi_touch_num_contacts: 'multi-touch-num-contacts',
          width: 'width',
          height: 'height',
        };
        only(k, ['devid', 'backend_domname', 'backend_type', 'unique_id', ...Object.keys(fields)], `vkbs[${i}]`);
        if (k.backend_type === undefined || k.backend_type === 'unknown') throw cannot(`vkbs[${i}] without a backend_type`);
        const parts = [`backend-type=${k.backend_type}`];
        if (k.backend_domname !== undefined) parts.push(`backend=${specValue(k.backend_domname, 'a vkb backend')}`);
        if (k.unique_id !== undefined) parts.push(`unique-id=${specValue(k.unique_id, 'a vkb unique-id')}`);
        for (const [f, key] of Object.entries(fields)) {
          const v = (k as Obj)[f];
          if (v !== undefined) parts.push(`${key}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`);
        }
        return parts.join(',');
      }),
    );
  }
  if (config.usbctrls) {
    indexed(config.usbctrls, 'usbctrls');
    w.list(
      'usbctrl',
      config.usbctrls.map((u, i) => {
        only(u, ['devid', 'type', 'version', 'ports'], `usbctrls[${i}]`);
        const parts: string[] = [];
        if (u.type !== undefined) parts.push(`type=${u.type}`);
        if (u.version !== undefined) parts.push(`version=${u.version}`);
        if (u.ports !== undefined) parts.push(`ports=${u.ports}`);
        return parts.join(',');
      }),
    );
  }
  if (config.usbdevs) {
    w.list(
      'usbdev',
      config.usbdevs.map((u, i) => {
        only(u, ['ctrl', 'port', 'type.hostdev'], `usbdevs[${i}]`);
        const host = (u as Obj)['type.hostdev'] as { hostbus?: number; hostaddr?: number } | undefined;
        const parts: string[] = [];
        if (host) {
          parts.push('type=hostdev');
          if (host.hostbus !== undefined) parts.push(`hostbus=${host.hostbus}`);
          if (host.hostaddr !== undefined) parts.push(`hostaddr=${host.hostaddr}`);
        }
        if (u.ctrl !== undefined) parts.push(`controller=${u.ctrl}`);
        if (u.port !== undefined) parts.push(`port=${u.port}`);
        return parts.join(',');
      }),
    );
  }
}
