// The command table of `xenlight`, in the spirit of xl's tools/xl/xl_cmdtable.c: every command
// once, with its help, arguments and options, the xl command it mirrors (null for xenlight's
// own), and its area: the file src/cli/<area>.ts whose `handlers[name]` runs it. main.ts builds
// commander's program from this list; test/unit/cli-table.test.ts and scripts/gen-xl-compat.mjs
// (docs/xl-compat.md) read it. To add a command: an entry here, a handler in its area file.
//
// Area files are loaded when one of their commands runs (`xenlight list` loads domain.ts, not
// sched.ts or the box's modules). The table itself needs the argument parsers (common.ts, and
// domain.ts's ssh and address parsers, which stay next to their use) and top's column names.
import { Argument, InvalidArgumentError, Option } from 'commander';
import {
  boxMiBArg,
  envPair,
  intArg,
  memoryMiBArg,
  positiveNumber,
  secondsArg,
  tcpPort,
  tmemTarget,
  triggerArg,
  vcpuOrAll,
} from './common';
import { hostPort, sshHost } from './domain';
import { COLUMNS } from './top';

/** The area files, each with its `handlers` by command name. */
export interface Areas {
  domain: typeof import('./domain');
  host: typeof import('./host');
  sched: typeof import('./sched');
  devices: typeof import('./devices');
  debug: typeof import('./debug');
  box: typeof import('./box');
  top: typeof import('./top');
}
export type Area = keyof Areas;

/** Loads an area file (on the first use of one of its commands). */
export const AREAS: { [A in Area]: () => Areas[A] } = {
  /* eslint-disable @typescript-eslint/no-require-imports */
  domain: () => require('./domain'),
  host: () => require('./host'),
  sched: () => require('./sched'),
  devices: () => require('./devices'),
  debug: () => require('./debug'),
  box: () => require('./box'),
  top: () => require('./top'),
  /* eslint-enable @typescript-eslint/no-require-imports */
};

interface EntryBase {
  /** What `xenlight --help` says of it (commander's description). */
  summary: string;
  /** The xl command (4.17's, or one 4.20 added) it mirrors, or null: xenlight's own (or gone from xl, as tmem). */
  xl: string | null;
  aliases?: string[];
  /** Its arguments and options, in the order help lists them. */
  args?: Argument[];
  options?: Option[];
  /** Not listed by --help (what `create` starts in the background). */
  hidden?: boolean;
  /** Options after the first argument belong to the command it runs (`box run xl list -l`). */
  passThrough?: boolean;
}

/** A command: `name` is a key of its area's `handlers` ("box up" for a subcommand of box). */
export type CommandEntry = { [A in Area]: EntryBase & { area: A; name: keyof Areas[A]['handlers'] & string } }[Area];

/** A command that only groups subcommands (`box`): no handler of its own. */
export interface GroupEntry extends EntryBase {
  name: string;
  area: Area;
  group: true;
}

export type TableEntry = CommandEntry | GroupEntry;

export const isGroup = (e: TableEntry): e is GroupEntry => 'group' in e;

// Shorthands with commander's own signatures (a new object for each use): `.argument(name, description, parser, default)`
// and `.option(flags, description, parser or default, default)`.
function arg(name: string, description?: string, parse?: ((v: string) => unknown) | unknown, dflt?: unknown): Argument {
  const a = new Argument(name, description);
  if (typeof parse === 'function') return a.default(dflt).argParser(parse as (v: string) => unknown);
  return a.default(parse);
}
function opt(
  flags: string,
  description?: string,
  parse?: ((v: string, prev: never) => unknown) | unknown,
  dflt?: unknown,
): Option {
  const o = new Option(flags, description);
  if (typeof parse === 'function') return o.default(dflt).argParser(parse as (v: string, prev: unknown) => unknown);
  return o.default(parse);
}

const domain = () => arg('<domain>');
const json = (description = 'as JSON') => opt('--json', description, false);
const force = () => opt('-f, --force', 'destroy the backend without waiting for the guest', false);
/** `--xen` of the box: which Xen it runs (each version's dom0 is a Debian release's). */
const xenVersion = () =>
  opt(
    '--xen <version>',
    "the box's Xen: 4.17 (Debian 12, the host's own root; default) or 4.20 (a Debian 13 root)",
    (v: string) => {
      if (v !== '4.17' && v !== '4.20') throw new InvalidArgumentError('the box runs Xen 4.17 or 4.20');
      return v;
    },
  );
const state = () =>
  opt('--state <dir>', 'state directory of the box (default: $XENLIGHT_BOX_STATE, else .cache/box of the package)');

export const COMMANDS: TableEntry[] = [
  // ------------------------------------------------------------------ domains (domain.ts)
  {
    name: 'list',
    aliases: ['li'],
    area: 'domain',
    xl: 'list',
    summary: 'List domains (xl list)',
    args: [arg('[domain]', 'only this domain')],
    options: [
      opt('-l, --long', "each domain's libxl configuration, as JSON", false),
      opt('-v, --verbose', 'UUID, shutdown reason code and security label', false),
      opt('-Z, --context', 'security label', false),
      opt('-c, --cpupool', 'the CPU pool of each domain', false),
      json('the domains as JSON (libxl_dominfo with names)'),
    ],
  },
  { name: 'domid', area: 'domain', xl: 'domid', summary: 'The domid of a domain name', args: [arg('<name>')] },
  {
    name: 'domname',
    area: 'domain',
    xl: 'domname',
    summary: 'The name of a domid',
    args: [arg('<domid>', 'domid', intArg('domid', 0, 0x7fef))],
  },
  {
    name: 'create',
    area: 'domain',
    xl: 'create',
    summary: 'Create a domain from an xl.cfg file; extra key=value arguments are added to it (xl create)',
    args: [arg('<file>', 'xl.cfg file'), arg('[key=value...]', 'more configuration lines')],
    options: [
      opt('-p, --paused', 'leave the domain paused after it is created', false),
      opt('-c, --console', "attach to the domain's console after creation", false),
      opt('-F, --foreground', 'stay in the foreground and apply its on_poweroff/on_reboot/on_crash actions until it dies', false),
      opt('-e, --no-monitor', 'leave its on_poweroff/on_reboot/on_crash actions to no one (as xl create -e)'),
      opt('-n, --dryrun', 'print the libxl configuration (JSON) and create nothing', false),
      opt('-q, --quiet', 'no progress lines on stderr', false),
      json('print {"domid", "name"} of the new domain'),
    ],
  },
  {
    name: 'console',
    area: 'domain',
    xl: 'console',
    summary: "Attach to a domain's console (Ctrl-] detaches on a terminal; from a pipe, ends after stdin does)",
    args: [domain()],
    options: [
      new Option('-t, --type <type>', 'console type').choices(['pv', 'serial']).default('pv'),
      opt('-n, --num <n>', 'console number', intArg('console number', 0, 255), 0),
    ],
  },
  { name: 'pause', area: 'domain', xl: 'pause', summary: 'Pause a domain (xl pause)', args: [domain()] },
  { name: 'unpause', area: 'domain', xl: 'unpause', summary: 'Unpause a domain (xl unpause)', args: [domain()] },
  { name: 'suspend', area: 'domain', xl: 'suspend', summary: 'Suspend a domain to RAM (xl 4.20 suspend)', args: [domain()] },
  { name: 'resume', area: 'domain', xl: 'resume', summary: 'Resume a domain from RAM (xl 4.20 resume)', args: [domain()] },
  { name: 'destroy', area: 'domain', xl: 'destroy', summary: 'Terminate a domain at once (xl destroy)', args: [domain()] },
  {
    name: 'shutdown',
    area: 'domain',
    xl: 'shutdown',
    summary: 'Ask domains to shut down (xl shutdown)',
    args: [arg('[domain...]')],
    options: [
      opt('-a, --all', 'every domain but dom0', false),
      opt('-w, --wait', 'wait until each has shut down', false),
      opt('--timeout <seconds>', 'with -w: give up after this long', intArg('timeout', 1), 0),
    ],
  },
  {
    name: 'reboot',
    area: 'domain',
    xl: 'reboot',
    summary: 'Ask domains to reboot (xl reboot)',
    args: [arg('[domain...]')],
    options: [opt('-a, --all', 'every domain but dom0', false)],
  },
  { name: 'rename', area: 'domain', xl: 'rename', summary: 'Rename a domain (xl rename)', args: [domain(), arg('<new-name>')] },
  {
    name: 'mem-set',
    area: 'domain',
    xl: 'mem-set',
    summary: "Set a domain's memory target (xl mem-set; MiB unless a unit b/k/m/g/t)",
    args: [domain(), arg('<memory>', 'size', memoryMiBArg)],
  },
  {
    name: 'mem-max',
    area: 'domain',
    xl: 'mem-max',
    summary: "Set a domain's maximum memory (xl mem-max)",
    args: [domain(), arg('<memory>', 'size', memoryMiBArg)],
  },
  {
    name: 'vcpu-set',
    area: 'domain',
    xl: 'vcpu-set',
    summary: 'Set the number of online vCPUs (xl vcpu-set)',
    args: [domain(), arg('<count>', 'vCPUs', intArg('count', 1, 512))],
  },
  {
    name: 'sysrq',
    area: 'domain',
    xl: 'sysrq',
    summary: 'Send a magic SysRq key to the guest kernel (xl sysrq)',
    args: [domain(), arg('<key>')],
  },
  {
    name: 'trigger',
    area: 'domain',
    xl: 'trigger',
    summary: 'Send a trigger: power, sleep, nmi, init, reset, s3resume (xl trigger)',
    args: [domain(), arg('<trigger>', 'trigger', triggerArg), arg('[vcpu]', 'vCPU', intArg('vcpu', 0, 511), 0)],
  },
  {
    name: 'dump-core',
    area: 'domain',
    xl: 'dump-core',
    summary: "Write a domain's memory to an ELF core file, mode 0600 (xl dump-core)",
    args: [domain(), arg('<file>')],
  },
  {
    name: 'save',
    area: 'domain',
    xl: 'save',
    summary: "Save a domain to a file in xl's format, then destroy it (xl save)",
    args: [domain(), arg('<file>')],
    options: [
      opt('-c, --checkpoint', 'leave the domain running (a checkpoint)', false),
      opt('-q, --quiet', 'no progress on stderr', false),
    ],
  },
  {
    name: 'restore',
    area: 'domain',
    xl: 'restore',
    summary: 'Restore a domain saved by save or xl save (xl restore)',
    args: [arg('[config-or-file]', 'an xl.cfg file to use instead of the saved configuration, then the file'), arg('[file]')],
    options: [
      opt('-p, --paused', 'leave the domain paused', false),
      opt('-F, --foreground', 'stay and apply its lifecycle actions until it dies', false),
      opt('-e, --no-monitor', 'leave its lifecycle actions to no one'),
      opt('-q, --quiet', 'no progress on stderr', false),
      json('print {"domid", "name"}'),
    ],
  },
  {
    name: 'migrate',
    area: 'domain',
    xl: 'migrate',
    summary: 'Live-migrate a domain: over ssh to `xenlight migrate-receive` (as xl migrate), or over TCP',
    args: [domain(), arg('[host]', 'destination for ssh', sshHost)],
    options: [
      opt('-s, --ssh-command <command>', 'ssh program and its options (split on spaces; no shell)', 'ssh'),
      opt('-C, --receive-command <command>', 'the command run on the destination', 'xenlight migrate-receive'),
      opt('--tcp <address>', 'connect to `xenlight migrate-receive --listen` at host:port instead of ssh', hostPort),
      opt('--debug', 'libxl verifies the transfer (xl migrate --debug)', false),
      opt('-q, --quiet', 'no progress on stderr', false),
    ],
  },
  {
    name: 'migrate-receive',
    area: 'domain',
    xl: 'migrate-receive',
    summary: 'Receive a migrating domain on stdin/stdout (what migrate runs over ssh) or one TCP connection',
    options: [
      opt('--listen <address>', 'accept one TCP connection at host:port (default 127.0.0.1)', hostPort),
      opt('-p, --paused', 'leave the domain paused', false),
      opt('-F, --foreground', 'stay and apply its lifecycle actions until it dies', false),
      opt('-e, --no-monitor', 'leave its lifecycle actions to no one'),
      opt('-q, --quiet', 'no progress on stderr', false),
    ],
  },
  {
    // xl forks this into its own process (no command of its own).
    name: 'monitor',
    area: 'domain',
    xl: null,
    hidden: true,
    summary: "Apply a running guest's lifecycle actions until it is gone (what create leaves in the background)",
    args: [domain()],
  },

  // ------------------------------------------------------------------ host (host.ts)
  {
    name: 'info',
    area: 'host',
    xl: 'info',
    summary: 'Host and hypervisor information (xl info); with a key prefix, only those values',
    args: [arg('[key]', 'print the values of the keys starting with this')],
    options: [json('all of it as JSON, with libxl physinfo and version_info')],
  },
  {
    name: 'dmesg',
    area: 'host',
    xl: 'dmesg',
    summary: "The hypervisor's console ring (xl dmesg)",
    options: [opt('-c, --clear', 'clear the ring after reading it', false), json('the lines as a JSON array')],
  },
  {
    name: 'claims',
    area: 'host',
    xl: 'claims',
    summary: 'Outstanding memory claims of the domains (xl claims)',
    options: [json()],
  },
  {
    name: 'psr-cmt-attach',
    area: 'host',
    xl: 'psr-cmt-attach',
    summary: 'Start Intel CMT monitoring of a domain',
    args: [domain()],
  },
  {
    name: 'psr-cmt-detach',
    area: 'host',
    xl: 'psr-cmt-detach',
    summary: 'Stop Intel CMT monitoring of a domain',
    args: [domain()],
  },
  {
    name: 'psr-cmt-show',
    area: 'host',
    xl: 'psr-cmt-show',
    summary: 'Intel CMT values of the monitored domains',
    args: [arg('[type]', 'cache-occupancy, total-mem-bandwidth or local-mem-bandwidth', 'cache-occupancy')],
    options: [new Option('--type <type>').choices(['cache-occupancy', 'total-mem-bandwidth', 'local-mem-bandwidth']), json()],
  },
  // tmem: xl's until Xen 4.13 removed it (xl 4.17 has none of these).
  {
    name: 'tmem-list',
    area: 'host',
    xl: null,
    summary: 'Transcendent memory of domains (gone from Xen since 4.13)',
    args: [arg('[domid]', 'a domid, or all with -a', tmemTarget)],
    options: [opt('-a, --all', 'every domain', false), opt('-l, --long', 'long form', false)],
  },
  {
    name: 'tmem-freeze',
    area: 'host',
    xl: null,
    summary: 'tmem freeze (gone from Xen since 4.13)',
    args: [arg('[domid]', 'a domid, or all with -a', tmemTarget)],
    options: [opt('-a, --all', 'every domain', false)],
  },
  {
    name: 'tmem-thaw',
    area: 'host',
    xl: null,
    summary: 'tmem thaw (gone from Xen since 4.13)',
    args: [arg('[domid]', 'a domid, or all with -a', tmemTarget)],
    options: [opt('-a, --all', 'every domain', false)],
  },
  {
    name: 'tmem-set',
    area: 'host',
    xl: null,
    summary: 'tmem weight or compress of a domain (gone from Xen since 4.13)',
    args: [arg('<domid>', 'a domid or all', tmemTarget)],
    options: [
      opt('-w, --weight <n>', 'weight', intArg('weight', 0, 0xffffffff)),
      opt('-p, --compress <n>', 'compress', intArg('compress', 0, 1)),
    ],
  },
  {
    name: 'tmem-shared-auth',
    area: 'host',
    xl: null,
    summary: 'tmem shared-pool authorisation (gone from Xen since 4.13)',
    args: [arg('<domid>', 'a domid or all', tmemTarget)],
    options: [
      opt('-u, --uuid <uuid>', 'the pool UUID').makeOptionMandatory(),
      opt('-A, --auth <0|1>', 'deny or allow', intArg('auth', 0, 1)).makeOptionMandatory(),
    ],
  },
  { name: 'tmem-freeable', area: 'host', xl: null, summary: 'MiB tmem could give back (gone from Xen since 4.13)' },
  {
    name: 'exporter',
    area: 'host',
    xl: null,
    summary: 'Serve Prometheus metrics of the host and its domains (read-only)',
    options: [
      opt('-l, --listen <address>', 'host:port, [v6]:port or a port (loopback)', '127.0.0.1:9603'),
      opt('--path <path>', 'metrics path', '/metrics'),
      opt('--min-interval <ms>', 'reuse a sample younger than this', intArg('min-interval', 1), 1000),
    ],
  },

  // ------------------------------------------------------------------ scheduling (sched.ts)
  {
    name: 'vcpu-list',
    area: 'sched',
    xl: 'vcpu-list',
    summary: 'vCPUs of domains (xl vcpu-list)',
    args: [arg('[domain...]')],
    options: [json()],
  },
  {
    name: 'vcpu-pin',
    area: 'sched',
    xl: 'vcpu-pin',
    summary: 'Set hard (and soft) affinity of a vCPU or all; "-" keeps one as it is (xl vcpu-pin)',
    args: [
      domain(),
      arg('<vcpu>', 'a vCPU number or all', vcpuOrAll),
      arg('<hard>', 'CPU list ("0-1", "all", "node:0", "^1")'),
      arg('[soft]', 'CPU list'),
    ],
  },
  ...(['credit', 'credit2'] as const).map((sched): TableEntry => ({
    name: `sched-${sched}` as const,
    area: 'sched',
    xl: `sched-${sched}`,
    summary: `${sched} scheduler: show or set a domain's weight/cap, or a pool's parameters with -s (xl sched-${sched})`,
    options: [
      opt('-d, --domain <domain>', 'the domain'),
      opt('-w, --weight <n>', 'weight (1-65535)', intArg('weight', 1, 65535)),
      opt('-c, --cap <n>', 'cap, percent of one CPU (0 = none)', intArg('cap', 0, 65535)),
      opt('-p, --cpupool <pool>', 'only this CPU pool'),
      opt('-s, --schedparam', 'show or set the pool-wide parameters', false),
      opt('-r, --ratelimit_us <us>', 'with -s: rate limit', intArg('ratelimit', 0, 2 ** 31 - 1)),
      json(),
      ...(sched === 'credit'
        ? [
            opt('-t, --tslice_ms <ms>', 'with -s: time slice', intArg('tslice', 1, 2 ** 31 - 1)),
            opt('-m, --migration_delay_us <us>', 'with -s: vCPU migration delay', intArg('migration delay', 0, 2 ** 31 - 1)),
          ]
        : []),
    ],
  })),
  {
    name: 'sched-rtds',
    area: 'sched',
    xl: 'sched-rtds',
    summary: 'RTDS scheduler: show or set period/budget/extratime of a domain or some vCPUs (xl sched-rtds)',
    options: [
      opt('-d, --domain <domain>', 'the domain'),
      opt('-v, --vcpuid <vcpu...>', 'vCPU numbers, or all'),
      opt('-p, --period <us>', 'period, microseconds', intArg('period', 1)),
      opt('-b, --budget <us>', 'budget, microseconds', intArg('budget', 1)),
      opt('-e, --extratime <0|1>', 'may run beyond its budget', intArg('extratime', 0, 1)),
      opt('-c, --cpupool <pool>', 'only this CPU pool'),
      json(),
    ],
  },
  {
    name: 'cpupool-list',
    area: 'sched',
    xl: 'cpupool-list',
    summary: 'CPU pools (xl cpupool-list)',
    args: [arg('[pool]')],
    options: [opt('-c, --cpus', 'the CPUs of each pool', false), json()],
  },
  {
    name: 'cpupool-create',
    area: 'sched',
    xl: 'cpupool-create',
    summary: 'Create a CPU pool from a file and/or name="…" sched="…" cpus="…" arguments (xl cpupool-create)',
    args: [arg('[file-or-setting...]')],
    options: [json('print the new pool as JSON')],
  },
  { name: 'cpupool-destroy', area: 'sched', xl: 'cpupool-destroy', summary: 'Destroy an empty CPU pool', args: [arg('<pool>')] },
  {
    name: 'cpupool-rename',
    area: 'sched',
    xl: 'cpupool-rename',
    summary: 'Rename a CPU pool',
    args: [arg('<pool>'), arg('<new-name>')],
  },
  {
    name: 'cpupool-cpu-add',
    area: 'sched',
    xl: 'cpupool-cpu-add',
    summary: 'Add CPUs ("2", "1-3", "node:0") to a pool',
    args: [arg('<pool>'), arg('<cpus>')],
  },
  {
    name: 'cpupool-cpu-remove',
    area: 'sched',
    xl: 'cpupool-cpu-remove',
    summary: 'Remove CPUs from a pool',
    args: [arg('<pool>'), arg('<cpus>')],
  },
  {
    name: 'cpupool-migrate',
    area: 'sched',
    xl: 'cpupool-migrate',
    summary: 'Move a domain to a CPU pool',
    args: [domain(), arg('<pool>')],
  },

  // ------------------------------------------------------------------ devices (devices.ts)
  {
    name: 'block-list',
    area: 'devices',
    xl: 'block-list',
    summary: 'Disks of domains (xl block-list)',
    args: [arg('<domain...>')],
    options: [json()],
  },
  {
    name: 'block-attach',
    area: 'devices',
    xl: 'block-attach',
    summary: 'Attach a disk: xl disk spec, e.g. "phy:/dev/vg/lv,xvdb,w" (xl block-attach)',
    args: [domain(), arg('<disk-spec...>', 'the spec (its parts may be separate arguments, as xl takes them)')],
    options: [json('print the attached disk as JSON')],
  },
  {
    name: 'block-detach',
    area: 'devices',
    xl: 'block-detach',
    summary: 'Detach a disk by its vdev (xvdb) or devid (xl block-detach)',
    args: [domain(), arg('<vdev>')],
    options: [force()],
  },
  {
    name: 'cd-insert',
    area: 'devices',
    xl: 'cd-insert',
    summary: 'Insert a CD image into an emulated drive (xl cd-insert)',
    args: [domain(), arg('<vdev>'), arg('<target>', 'image path, or format:path')],
  },
  {
    name: 'cd-eject',
    area: 'devices',
    xl: 'cd-eject',
    summary: 'Eject the CD of an emulated drive (xl cd-eject)',
    args: [domain(), arg('<vdev>')],
  },
  {
    name: 'network-list',
    area: 'devices',
    xl: 'network-list',
    summary: 'Network interfaces of domains (xl network-list)',
    args: [arg('<domain...>')],
    options: [json()],
  },
  {
    name: 'network-attach',
    area: 'devices',
    xl: 'network-attach',
    summary: 'Attach a vif: xl vif spec, e.g. "bridge=xenbr0,mac=00:16:3e:…" (xl network-attach)',
    args: [domain(), arg('[vif-spec...]')],
    options: [json('print the new interface as JSON')],
  },
  {
    name: 'network-detach',
    area: 'devices',
    xl: 'network-detach',
    summary: 'Detach a vif by devid or MAC (xl network-detach)',
    args: [domain(), arg('<devid-or-mac>')],
    options: [force()],
  },
  {
    name: 'pci-list',
    area: 'devices',
    xl: 'pci-list',
    summary: 'PCI devices passed through to a domain (xl pci-list)',
    args: [domain()],
    options: [json()],
  },
  {
    name: 'pci-attach',
    area: 'devices',
    xl: 'pci-attach',
    summary: 'Pass a host PCI device through: "0000:00:01.0[@vslot][,opts]" (xl pci-attach)',
    args: [domain(), arg('<bdf>')],
  },
  {
    name: 'pci-detach',
    area: 'devices',
    xl: 'pci-detach',
    summary: 'Take a PCI device back from a domain (xl pci-detach)',
    args: [domain(), arg('<bdf>')],
    options: [opt('-f, --force', 'without waiting for the guest', false)],
  },
  {
    name: 'pci-assignable-list',
    area: 'devices',
    xl: 'pci-assignable-list',
    summary: 'Host PCI devices ready for passthrough (xl pci-assignable-list)',
    options: [json()],
  },
  {
    name: 'pci-assignable-add',
    area: 'devices',
    xl: 'pci-assignable-add',
    summary: 'Bind a host PCI device to pciback (xl pci-assignable-add)',
    args: [arg('<bdf>')],
  },
  {
    name: 'pci-assignable-remove',
    area: 'devices',
    xl: 'pci-assignable-remove',
    summary: 'Release a device from pciback (xl pci-assignable-remove)',
    args: [arg('<bdf>')],
    options: [opt('-r, --rebind', 'give it back to its original driver', false)],
  },
  {
    name: 'usb-list',
    area: 'devices',
    xl: 'usb-list',
    summary: 'USB controllers and devices of a domain (xl usb-list)',
    args: [domain()],
    options: [json()],
  },
  {
    name: 'usbctrl-attach',
    area: 'devices',
    xl: 'usbctrl-attach',
    summary: 'Add a USB controller: "type=devicemodel,version=2,ports=4" (xl usbctrl-attach)',
    args: [domain(), arg('[spec...]')],
    options: [json('print the controller as JSON')],
  },
  {
    name: 'usbctrl-detach',
    area: 'devices',
    xl: 'usbctrl-detach',
    summary: 'Remove a USB controller (xl usbctrl-detach)',
    args: [domain(), arg('<devid>', 'controller', intArg('devid', 0, 65535))],
  },
  {
    name: 'usbdev-attach',
    area: 'devices',
    xl: 'usbdev-attach',
    summary: 'Pass a host USB device through: "hostbus=1,hostaddr=2[,controller=0,port=1]" (xl usbdev-attach)',
    args: [domain(), arg('<spec...>')],
  },
  {
    name: 'usbdev-detach',
    area: 'devices',
    xl: 'usbdev-detach',
    summary: 'Remove a USB device by controller and port (xl usbdev-detach)',
    args: [
      domain(),
      arg('<controller>', 'controller', intArg('controller', 0, 65535)),
      arg('<port>', 'port', intArg('port', 1, 65535)),
    ],
  },

  // ------------------------------------------------------------------ debugging (debug.ts)
  {
    name: 'debug-keys',
    area: 'debug',
    xl: 'debug-keys',
    summary: 'Send debug keys to Xen (xl debug-keys); the output is in `xenlight dmesg`',
    args: [arg('<keys>')],
  },
  {
    // What Xen's xenctx tool prints (not an xl command).
    name: 'vcpu-context',
    area: 'debug',
    xl: null,
    summary: "Registers of a guest's vCPU (what xenctx prints)",
    args: [domain(), arg('[vcpu]', 'vCPU number', intArg('vcpu', 0, 4095), 0)],
    options: [json('as JSON (register values as hex strings)')],
  },
  {
    // Xen's gdbsx tool, which Debian does not ship (not an xl command).
    name: 'gdbsx',
    area: 'debug',
    xl: null,
    summary: 'A gdb server for a guest: in gdb, `set architecture i386:x86-64` and `target remote HOST:PORT`',
    args: [domain(), arg('[port]', 'TCP port (default: any free one, printed)', intArg('port', 0, 65535), 0)],
    options: [
      opt('--host <address>', 'address to listen on', '127.0.0.1'),
      opt('--once', 'exit when the first gdb disconnects', false),
    ],
  },

  // ------------------------------------------------------------------ Xen in a box (box.ts)
  {
    name: 'box',
    area: 'box',
    xl: null,
    group: true,
    summary: 'Xen in a box: real Xen and dom0 under QEMU (no KVM needed), kept up between commands for CI',
  },
  {
    name: 'box up',
    area: 'box',
    xl: null,
    summary: 'Boot a box in the background, or find the one already up; prints how long the boot took',
    options: [
      xenVersion(),
      state(),
      opt('--cache <dir>', 'where built images are cached (default: $XENLIGHT_BOX_CACHE, else .cache/testbed of the package)'),
      opt('--xfer <dir>', 'host directory shared read-write as /xfer in dom0 (default: xfer in the state directory)'),
      opt('--memory <MiB>', 'memory of the emulated machine', boxMiBArg),
      opt('--dom0-memory <MiB>', 'memory of dom0', boxMiBArg),
      opt('--fresh', 'stop a box that is up and rebuild the images first', false),
      opt('--timeout <seconds>', 'give up (and kill QEMU) if dom0 is not ready by then', secondsArg, 600),
      opt('--serial', 'copy the serial console (Xen, dom0 kernel) to stderr while booting', false),
      opt('--gdb <port>', "QEMU's gdb stub on 127.0.0.1:<port>, for gdb on Xen (xen-syms) and dom0's kernel", tcpPort),
      opt('--gdb-wait', 'with --gdb: start with the CPUs stopped until gdb continues them', false),
      json('print the status as JSON'),
    ],
  },
  {
    name: 'box run',
    area: 'box',
    xl: null,
    passThrough: true,
    summary:
      'Run a command as root in dom0 of the box that is up; its output streams here, its exit status is ours ' +
      '(124: --timeout, 130: interrupted; the box stays up)',
    args: [arg('<command...>', 'the command and its arguments (put -- before it if it has options)')],
    options: [
      state(),
      opt('--shell', 'run the words as one sh command line', false),
      opt('--cwd <dir>', "working directory in dom0 (default: this one; the host's files are there, read-only)"),
      opt('-e, --env <NAME=value>', 'extra environment (repeatable)', envPair),
      opt('--timeout <seconds>', 'cancel the command (kill all it started) after this long', secondsArg),
      opt('--serial', 'copy the serial console to stderr while the command runs', false),
    ],
  },
  {
    name: 'box down',
    area: 'box',
    xl: null,
    summary: 'Power the box off (QEMU is killed by pid if dom0 does not stop); nothing running is not an error',
    options: [state(), opt('--grace <seconds>', 'how long dom0 may take to power off', secondsArg, 30)],
  },
  {
    name: 'box status',
    area: 'box',
    xl: null,
    summary: 'Whether a box is up (exit 0), down (3) or dead: its QEMU gone (4)',
    options: [state(), json('as JSON')],
  },
  {
    // The testbed: `npm run testbed -- <command…>`, `npm run demo`, the benches.
    name: 'box exec',
    area: 'box',
    xl: null,
    passThrough: true,
    summary:
      'Boot a box of its own, run a command as root in dom0 (cwd: this directory), power off; its output ' +
      'streams here, its exit status is ours (124: time limit, 125: the box failed)',
    args: [arg('<command...>', 'the command and its arguments (put -- before it if it has options)')],
    options: [
      xenVersion(),
      opt('--shell', 'run the command words as one shell command line (sh syntax)', false),
      opt('--timeout <seconds>', 'wall-clock limit for boot, command and power-off (default 1800)', positiveNumber('--timeout')),
      opt('--memory <MiB>', 'memory of the emulated machine (default 4096)', positiveNumber('--memory')),
      opt('--xfer <dir>', 'host directory shared read-write as /xfer in dom0 (default: a fresh temporary one)'),
      opt('--serial', 'copy the serial console (Xen, dom0 kernel) to stderr', false),
      opt('--quiet', 'no timing line at the end', false),
    ],
  },

  // ------------------------------------------------------------------ live view (top.ts)
  {
    // xl top runs xentop; this is xentop's table from the API.
    name: 'top',
    area: 'top',
    xl: 'top',
    summary: 'Live view of the domains like xentop; -b prints what xentop -b prints',
    options: [
      opt('-b, --batch', 'batch mode: print the table each update, no terminal control', false),
      opt('-d, --delay <seconds>', 'seconds between updates', intArg('delay', 1), 3),
      opt('-i, --iterations <n>', 'number of updates before exiting', intArg('iterations', 1)),
      opt('-n, --networks', 'per-vif lines', false),
      opt('-x, --vbds', 'per-block-device lines', false),
      opt('-v, --vcpus', 'per-vCPU seconds', false),
      new Option('-s, --sort <column>', 'sort column').choices(COLUMNS.map((c) => c.header)).default('NAME'),
      opt('-r, --reverse', 'reverse the sort order', false),
      json('one JSON sample per update (batch)'),
    ],
  },
];

/**
 * Why an xl 4.17 command has no xenlight equivalent, where there is more to say than "not
 * written yet" (docs/xl-compat.md's "not there yet" list is generated from the xl command list,
 * this table's xl column and these reasons: scripts/gen-xl-compat.mjs, `npm run gen:docs`).
 */
export const XL_ABSENT_REASONS: Record<string, string> = {
  'config-update': 'deprecated by xl itself ("avoid using this command when possible")',
  'button-press': 'deprecated by xl itself for `trigger` (power, sleep), which xenlight has',
  remus: 'Remus and COLO replication: not there yet',
  devd: 'a daemon that starts device backends in a driver domain, not a command',
  'psr-cat-set': 'Intel RDT allocation: only monitoring (psr-cmt-*) is there',
  'psr-cat-show': 'Intel RDT allocation: only monitoring (psr-cmt-*) is there',
  'psr-mba-set': 'Intel RDT allocation: only monitoring (psr-cmt-*) is there',
  'psr-mba-show': 'Intel RDT allocation: only monitoring (psr-cmt-*) is there',
  getenforce: 'the XSM/FLASK security module: not written yet',
  setenforce: 'the XSM/FLASK security module: not written yet',
  loadpolicy: 'the XSM/FLASK security module: not written yet',
};
