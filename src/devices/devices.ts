// A domain's devices — disks, NICs, PCI, USB — as `xl block-*`, `network-*`, `pci-*` and
// `usb*` handle them. Specs are the strings xl takes (parsed exactly as xl parses them, by the
// xl.cfg mapper); every attach and detach is a libxl asynchronous operation. When an attach
// fails, libxl removes what it had set up; the tests check that nothing is left half-attached.
import * as fs from 'node:fs';
import type { DomainHandle } from '../core/context';
import { invalidArg, XenError } from '../core/errors';
import type { DomainEvent } from '../core/events';
import type { NativeContext } from '../core/native';
import type {
  DeviceDisk,
  DeviceNic,
  DevicePci,
  DeviceUsbctrl,
  DeviceUsbdev,
  Diskinfo,
  Nicinfo,
  Usbctrlinfo,
  VersionInfo,
} from '../generated/libxl-types';
import { parseXlConfig, quoteXlString, xlVersionOf } from '../xlcfg';
import type { XlVersion } from '../xlcfg';

/** The kinds of device (`nic` is xl.cfg's `vif`); exported as `DeviceKind`. */
export type Kind = 'disk' | 'nic' | 'pci' | 'usbctrl' | 'usbdev';
/** The xl.cfg key whose list items are this kind's spec strings. */
const CFG_KEY: Record<Kind, string> = { disk: 'disk', nic: 'vif', pci: 'pci', usbctrl: 'usbctrl', usbdev: 'usbdev' };
const CFG_FIELD: Record<Kind, 'disks' | 'nics' | 'pcidevs' | 'usbctrls' | 'usbdevs'> = {
  disk: 'disks',
  nic: 'nics',
  pci: 'pcidevs',
  usbctrl: 'usbctrls',
  usbdev: 'usbdevs',
};

/**
 * A spec string as xl parses it for `block-attach`, `network-attach`, `pci-attach`, `usb*-attach`:
 * as Xen 4.17's xl does, or as `xen`'s (XlVersion; a device's attach passes its host's).
 */
export function parseDeviceSpec<T>(kind: Kind, spec: string, op: string, xen?: XlVersion): T {
  if (!Object.prototype.hasOwnProperty.call(CFG_KEY, kind)) throw invalidArg(op, `unknown device kind ${JSON.stringify(kind)}`);
  if (typeof spec !== 'string' || spec.length === 0) throw invalidArg(op, 'a device spec is a non-empty string');
  // xl takes a spec from argv, a C string: it cannot hold a NUL (nor can an xl.cfg string).
  if (spec.includes('\0')) throw invalidArg(op, `bad ${CFG_KEY[kind]} spec ${JSON.stringify(spec)}: it contains a NUL character`);
  // The same mapper as xl.cfg's device lists: xl's *-attach commands call the same parsers.
  const text = `name = "spec"\ntype = "pv"\nkernel = "/spec"\n${CFG_KEY[kind]} = [ ${quoteXlString(spec)} ]\n`;
  let parsed;
  try {
    parsed = parseXlConfig(text, { path: `${CFG_KEY[kind]} spec`, xen });
  } catch (err) {
    // The parser's own refusals; anything else is a bug, not a bad spec.
    if (!(err instanceof XenError)) throw err;
    throw new XenError(`${op}: bad ${CFG_KEY[kind]} spec ${JSON.stringify(spec)}: ${err.message}`, {
      code: 'ERR_INVALID_ARG',
      op,
      cause: err,
    });
  }
  // xl warns about a bad option and goes on without it; an API caller gets an error instead.
  if (parsed.warnings.length > 0) {
    throw new XenError(`${op}: bad ${CFG_KEY[kind]} spec ${JSON.stringify(spec)}: ${parsed.warnings.join('; ')}`, {
      code: 'ERR_INVALID_ARG',
      op,
    });
  }
  const list = (parsed.config as Record<string, unknown>)[CFG_FIELD[kind]] as T[] | undefined;
  if (!list || list.length !== 1) throw invalidArg(op, `bad ${CFG_KEY[kind]} spec ${JSON.stringify(spec)}`);
  return list[0];
}

/** Options of every attach and detach. */
export interface DeviceOptions {
  /** Aborts the operation (libxl_ao_abort): libxl stops it and undoes what it had done. */
  signal?: AbortSignal;
}

/** How long a device model may take to pick up a qdisk disk (it takes ~1 s in the box). */
const QDISK_CONNECT_MS = 15_000;
/** xenbus states (xen/io/xenbus.h). */
const XENBUS_INITIALISING = 1;

interface Listed<C, I> {
  config: C;
  info?: I;
}

/** Options of a device set's `detach()`: `force` removes the device without the guest's consent. */
export interface DetachOptions extends DeviceOptions {
  force?: boolean;
}

/** Options of `disks.ejects()`. */
export interface EjectsOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** A PCI device of a domain (`pci.list()`): libxl's device with its BDF as xl prints it. */
export type PciDeviceStatus = DevicePci & { bdf: string };

/** Options of `host.pci.removeAssignable()`: `rebind` gives the device back to its dom0 driver. */
export interface RemoveAssignableOptions {
  rebind?: boolean;
}

abstract class DeviceSet<C extends object> {
  /** `identity` tells this kind's devices apart (vdev, devid…), to find what an add left. */
  constructor(
    protected readonly dom: DomainHandle,
    protected readonly kind: Kind,
    private readonly identity: (d: Listed<C, unknown>) => string,
  ) {}

  protected ctx(op: string): NativeContext {
    return this.dom.ctx.native(op);
  }

  /** The domain is there and not on its way out (a destroyed domain lingers while it dies). */
  protected async alive(op: string): Promise<void> {
    const info = await this.dom.info();
    if (info.dying) throw new XenError(`${op}: domain ${this.dom.id} is being destroyed`, { code: 'ERROR_DOMAIN_NOTFOUND', op });
  }

  protected async raw<I>(op: string): Promise<Listed<C, I>[]> {
    await this.alive(op);
    return JSON.parse(this.ctx(op).deviceList(this.kind, this.dom.id)) as Listed<C, I>[];
  }

  protected async run(verb: 'add' | 'remove' | 'destroy', device: C, op: string, signal?: AbortSignal): Promise<void> {
    await this.alive(op);
    await this.dom.ctx.trackAbortable(op, signal, (c, abortId) =>
      c.deviceOp(this.kind, verb, this.dom.id, JSON.stringify(device), abortId),
    );
  }

  /**
   * Adds a device and resolves to what it added. libxl leaves the xenstore nodes of a failed
   * or aborted add behind (its failure path removes nothing; xl leaves them too): those are
   * destroyed before the error is passed on, so a failed attach leaves nothing half-attached.
   */
  protected async add(device: C, op: string, signal?: AbortSignal): Promise<Listed<C, unknown>[]> {
    const before = new Set((await this.raw(op)).map(this.identity));
    const added = async () => (await this.raw(op)).filter((d) => !before.has(this.identity(d)));
    try {
      await this.run('add', device, op, signal);
    } catch (err) {
      const left = await added().catch(() => []);
      // usbdev has no destroy in libxl; its remove is the forced one.
      for (const d of left) await this.run(this.kind === 'usbdev' ? 'remove' : 'destroy', d.config, op).catch(() => undefined);
      await this.dom.removeLeftoversIfGone().catch(() => undefined);
      throw err;
    }
    return this.settledAdd(added);
  }

  /**
   * What follows a successful add (reading it back, waiting for its backend) fails if the guest
   * died meanwhile; a destroy that walked the guest's devices before the add wrote its nodes
   * left them, so they are removed once the guest is gone.
   */
  protected async settledAdd<T>(then: () => Promise<T>): Promise<T> {
    try {
      return await then();
    } catch (err) {
      await this.dom.removeLeftoversIfGone().catch(() => undefined);
      throw err;
    }
  }

  protected toConfig(spec: string | C, op: string): C {
    if (typeof spec === 'string') {
      const v = JSON.parse(this.ctx(op).versionInfoJson()) as VersionInfo;
      const xen = xlVersionOf(v.xen_version_major ?? 0, v.xen_version_minor ?? 0);
      const config = parseDeviceSpec<C>(this.kind, spec, op, xen) as C & { devid?: number };
      // In an xl.cfg list a device's devid is its index (0 here); an attach leaves it to libxl
      // (the next free one), as xl's *-attach do, unless the spec names one (a vif's devid=).
      if ('devid' in config && !/(^|,)\s*devid\s*=/.test(spec)) delete config.devid;
      return config;
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
      throw invalidArg(op, 'a device is a spec string or a config object');
    return spec;
  }
}

/** `xl block-list` row. */
export interface DiskStatus {
  vdev: string;
  devid: number;
  backendDomid: number;
  /** xenbus state: 4 = connected. */
  state: number;
  evtch: number;
  ringRef: number;
  backendPath: string;
  config: DeviceDisk;
}

export class Disks extends DeviceSet<DeviceDisk> {
  /** @internal Made by the Domain (`dom.disks`). */
  constructor(dom: DomainHandle) {
    super(dom, 'disk', (d) => d.config.vdev ?? '');
  }

  /** `xl block-list`. */
  async list(): Promise<DiskStatus[]> {
    const rows = await this.raw<Diskinfo>(`block-list of domain ${this.dom.id}`);
    return rows.map(({ config, info }) => ({
      vdev: config.vdev ?? '',
      devid: info?.devid ?? -1,
      backendDomid: info?.backend_id ?? config.backend_domid ?? 0,
      state: info?.state ?? 0,
      evtch: info?.evtch ?? -1,
      ringRef: info?.rref ?? -1,
      backendPath: info?.backend ?? '',
      config,
    }));
  }

  /**
   * `xl block-attach`: an xl disk spec (`file:/img,xvdb,w`, `format=qcow2,vdev=…`) or a config.
   * Resolves once the backend has taken the disk. A qdisk disk (qcow2, …) needs a QEMU that
   * serves this guest: libxl writes the backend's nodes and returns at once, so this waits for
   * the backend, and when none comes, removes the disk and rejects with ERR_NO_BACKEND.
   */
  async attach(spec: string | DeviceDisk, opts: DeviceOptions = {}): Promise<DiskStatus> {
    const op = `block-attach to domain ${this.dom.id}`;
    const disk = this.toConfig(spec, op);
    if (!disk.vdev) throw invalidArg(op, 'the disk needs a vdev');
    if ((await this.list()).some((d) => d.vdev === disk.vdev)) throw invalidArg(op, `vdev ${disk.vdev} is in use`);
    if (disk.pdev_path && !disk.is_cdrom && (disk.backend_domid ?? 0) === 0 && !fs.existsSync(disk.pdev_path)) {
      throw new XenError(`${op}: ${disk.pdev_path}: no such file or device`, { code: 'ERR_NOT_FOUND', op, errno: 2 });
    }
    await this.add(disk, op, opts.signal);
    return this.settledAdd(() => this.connected(disk, op));
  }

  /** The disk just added, once its backend left Initialising (or removed again, and why). */
  private async connected(disk: DeviceDisk, op: string): Promise<DiskStatus> {
    const listed = async () => {
      const now = (await this.list()).find((d) => d.vdev === disk.vdev);
      if (!now) throw new XenError(`${op}: ${disk.vdev} is not listed after the attach`, { code: 'ERR_INTERNAL', op });
      return now;
    };
    let now = await listed();
    for (const deadline = Date.now() + QDISK_CONNECT_MS; now.state === XENBUS_INITIALISING && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 200));
      now = await listed();
    }
    if (now.state === XENBUS_INITIALISING) {
      const removed = await this.run('destroy', now.config, op).then(
        () => undefined,
        (err: unknown) => err,
      );
      throw new XenError(
        `${op}: no ${now.config.backend ?? ''} backend took ${disk.vdev} within ${QDISK_CONNECT_MS / 1000} s ` +
          `(${now.backendPath} stayed Initialising), so it was removed again` +
          (removed ? ` (libxl's removal reported: ${(removed as Error).message})` : '') +
          '. A qdisk disk is served by the QEMU that libxl starts for a guest: HVM guests have one, PV guests only ' +
          'when created with a qdisk disk (or another device that needs QEMU)',
        { code: 'ERR_NO_BACKEND', op, cause: removed },
      );
    }
    return now;
  }

  /** `xl block-detach [-f]`: by vdev (`xvdb`) or devid. */
  async detach(vdevOrDevid: string | number, opts: DetachOptions = {}): Promise<void> {
    const op = `block-detach ${vdevOrDevid} from domain ${this.dom.id}`;
    const found = (await this.list()).find((d) => d.vdev === vdevOrDevid || d.devid === vdevOrDevid);
    if (!found) throw new XenError(`${op}: no such disk`, { code: 'ERR_NOT_FOUND', op });
    try {
      await this.run(opts.force ? 'destroy' : 'remove', found.config, op, opts.signal);
    } catch (err) {
      if (!this.backendRemovedUnderLibxl(err, found, op)) throw err;
      // A QEMU backend (qdisk) that reached Closed removes its own backend directory; when it
      // does so before libxl reads the state it waited for, libxl fails the removal with
      // ERROR_INVAL ("… but it was removed") and skips its own clean-up, leaving the frontend's
      // nodes. The device is gone from the backend, so finish what libxl would have done.
      await this.run('destroy', found.config, op);
    }
  }

  /** libxl's "unable to remove" after the backend's own directory vanished (see detach). */
  private backendRemovedUnderLibxl(err: unknown, found: DiskStatus, op: string): boolean {
    return (
      err instanceof XenError &&
      err.code === 'ERROR_INVAL' &&
      found.config.backend === 'qdisk' &&
      found.backendPath !== '' &&
      this.ctx(op).xenstoreRead(`${found.backendPath}/state`) === null
    );
  }

  /** `xl cd-insert`: a new medium (an image file's path) in an HVM guest's CD-ROM drive. */
  async insert(vdev: string, target: string, opts: DeviceOptions = {}): Promise<void> {
    const op = `cd-insert ${vdev} of domain ${this.dom.id}`;
    if (typeof target !== 'string' || target.length === 0) throw invalidArg(op, 'target is a path');
    await this.changeMedium(op, vdev, target, opts.signal);
  }

  /** `xl cd-eject`: an empty medium. */
  async eject(vdev: string, opts: DeviceOptions = {}): Promise<void> {
    await this.changeMedium(`cd-eject ${vdev} of domain ${this.dom.id}`, vdev, '', opts.signal);
  }

  /**
   * `disk-eject` events of a drive: the guest ejected its medium (the device model wrote
   * `eject` to the drive's xenstore node). xl's own monitor answers them with `cd-eject`; the
   * lifecycle monitor of createDomain does the same.
   */
  ejects(vdev: string, opts: EjectsOptions = {}): AsyncIterableIterator<Extract<DomainEvent, { type: 'disk-eject' }>> {
    const all = this.dom.ctx.events({ domid: this.dom.id, diskEjects: [vdev], signal: opts.signal });
    return (async function* () {
      for await (const ev of all) if (ev.type === 'disk-eject') yield ev;
    })();
  }

  private async changeMedium(op: string, vdev: string, target: string, signal?: AbortSignal): Promise<void> {
    if (typeof vdev !== 'string' || vdev.length === 0) throw invalidArg(op, 'vdev is a drive name such as hdc');
    const drive = (await this.list()).find((d) => d.vdev === vdev);
    if (!drive) throw new XenError(`${op}: no such drive`, { code: 'ERR_NOT_FOUND', op });
    if (!drive.config.is_cdrom) throw invalidArg(op, `${vdev} is not a CD-ROM drive`);
    // The spec xl's cd-insert/cd-eject build (tools/xl/xl_block.c), parsed the same way.
    const disk = parseDeviceSpec<DeviceDisk>('disk', `vdev=${vdev},access=r,devtype=cdrom,target=${target}`, op);
    // libxl does not check the file for qdisk (xl stats it first, for the same reason).
    if (disk.format !== 'empty' && !fs.existsSync(disk.pdev_path ?? '')) {
      throw new XenError(`${op}: cannot stat file: ${disk.pdev_path}`, { code: 'ERR_NOT_FOUND', op, errno: 2 });
    }
    await this.dom.ctx.trackAbortable(op, signal, (c, abortId) => c.cdromInsert(this.dom.id, JSON.stringify(disk), abortId));
  }
}

/** `xl network-list` row. */
export interface NicStatus {
  devid: number;
  mac: string;
  backendDomid: number;
  state: number;
  evtch: number;
  txRingRef: number;
  rxRingRef: number;
  backendPath: string;
  config: DeviceNic;
}

export class Nics extends DeviceSet<DeviceNic> {
  /** @internal Made by the Domain (`dom.nics`). */
  constructor(dom: DomainHandle) {
    super(dom, 'nic', (d) => String((d.info as Nicinfo | undefined)?.devid ?? d.config.devid));
  }

  /** `xl network-list`. */
  async list(): Promise<NicStatus[]> {
    const rows = await this.raw<Nicinfo>(`network-list of domain ${this.dom.id}`);
    return rows.map(({ config, info }) => ({
      devid: info?.devid ?? config.devid ?? -1,
      mac: config.mac ?? '',
      backendDomid: info?.backend_id ?? config.backend_domid ?? 0,
      state: info?.state ?? 0,
      evtch: info?.evtch ?? -1,
      txRingRef: info?.rref_tx ?? -1,
      rxRingRef: info?.rref_rx ?? -1,
      backendPath: info?.backend ?? '',
      config,
    }));
  }

  /** `xl network-attach`: an xl vif spec (`bridge=xenbr0,mac=00:16:3e:…,rate=10Mb/s`) or a config. */
  async attach(spec: string | DeviceNic = '', opts: DeviceOptions = {}): Promise<NicStatus> {
    const op = `network-attach to domain ${this.dom.id}`;
    // An empty spec is xl's default vif.
    const nic = spec === '' ? {} : this.toConfig(spec, op);
    const [added] = await this.add(nic, op, opts.signal);
    return this.settledAdd(async () => {
      const now = (await this.list()).find((n) => n.devid === (added?.info as Nicinfo | undefined)?.devid);
      if (!now) throw new XenError(`${op}: the new vif is not listed after the attach`, { code: 'ERR_INTERNAL', op });
      return now;
    });
  }

  /** `xl network-detach`: by devid or MAC address. */
  async detach(devidOrMac: number | string, opts: DetachOptions = {}): Promise<void> {
    const op = `network-detach ${devidOrMac} from domain ${this.dom.id}`;
    const found = (await this.list()).find(
      (n) => n.devid === devidOrMac || (typeof devidOrMac === 'string' && n.mac.toLowerCase() === devidOrMac.toLowerCase()),
    );
    if (!found) throw new XenError(`${op}: no such vif`, { code: 'ERR_NOT_FOUND', op });
    await this.run(opts.force ? 'destroy' : 'remove', found.config, op, opts.signal);
  }
}

/** A PCI address as xl writes it: `0000:00:04.0`. */
export function formatBdf(p: DevicePci): string {
  const h = (n: number | undefined, w: number) => (n ?? 0).toString(16).padStart(w, '0');
  return `${h(p.domain, 4)}:${h(p.bus, 2)}:${h(p.dev, 2)}.${(p.func ?? 0).toString(16)}`;
}

export class PciDevices extends DeviceSet<DevicePci> {
  /** @internal Made by the Domain (`dom.pci`). */
  constructor(dom: DomainHandle) {
    super(dom, 'pci', (d) => formatBdf(d.config));
  }

  /** `xl pci-list`. */
  async list(): Promise<PciDeviceStatus[]> {
    const rows = await this.raw<never>(`pci-list of domain ${this.dom.id}`);
    return rows.map(({ config }) => ({ ...config, bdf: formatBdf(config) }));
  }

  /** `xl pci-attach`: a BDF or xl pci spec (`0000:00:04.0,permissive=1`). */
  async attach(spec: string | DevicePci, opts: DeviceOptions = {}): Promise<void> {
    const op = `pci-attach to domain ${this.dom.id}`;
    await this.add(this.toConfig(spec, op), op, opts.signal);
  }

  /** `xl pci-detach [-f]`. */
  async detach(spec: string | DevicePci, opts: DetachOptions = {}): Promise<void> {
    const op = `pci-detach from domain ${this.dom.id}`;
    const want = formatBdf(this.toConfig(spec, op));
    const found = (await this.list()).find((p) => p.bdf === want);
    if (!found) throw new XenError(`${op}: ${want} is not attached`, { code: 'ERR_NOT_FOUND', op });
    const { bdf: _bdf, ...config } = found;
    await this.run(opts.force ? 'destroy' : 'remove', config, op, opts.signal);
  }
}

/** `xl usb-list`: a controller and the devices on its ports. */
export interface UsbController {
  devid: number;
  type: string;
  version: number;
  ports: number;
  state?: number;
  backendPath?: string;
  devices: DeviceUsbdev[];
  config: DeviceUsbctrl;
}

export class UsbDevices {
  private readonly ctrls: UsbSet<DeviceUsbctrl>;
  private readonly devs: UsbSet<DeviceUsbdev>;

  /** @internal Made by the Domain (`dom.usb`). */
  constructor(private readonly dom: DomainHandle) {
    this.ctrls = new UsbSet<DeviceUsbctrl>(dom, 'usbctrl', (d) => String(d.config.devid));
    this.devs = new UsbSet<DeviceUsbdev>(dom, 'usbdev', (d) => `${d.config.ctrl}/${d.config.port}`);
  }

  /** `xl usb-list`. */
  async list(): Promise<UsbController[]> {
    const ctrls = await this.ctrls.listRaw<Usbctrlinfo>();
    const devs = await this.devs.listRaw();
    return ctrls.map(({ config, info }) => ({
      devid: config.devid ?? info?.devid ?? -1,
      type: info?.type ?? config.type ?? 'auto',
      version: info?.version ?? config.version ?? 0,
      ports: info?.ports ?? config.ports ?? 0,
      state: info?.state,
      backendPath: info?.backend,
      devices: devs.map((d) => d.config).filter((d) => d.ctrl === config.devid),
      config,
    }));
  }

  /** `xl usbctrl-attach`: spec `type=qusb,version=2,ports=4` or a config. */
  async attachController(spec: string | DeviceUsbctrl = '', opts: DeviceOptions = {}): Promise<UsbController> {
    const op = `usbctrl-attach to domain ${this.dom.id}`;
    const [added] = await this.ctrls.attach(spec === '' ? {} : spec, op, opts.signal);
    const now = (await this.list()).find((c) => c.devid === added?.config.devid);
    if (!now) throw new XenError(`${op}: the controller is not listed after the attach`, { code: 'ERR_INTERNAL', op });
    return now;
  }

  /** `xl usbctrl-detach`. */
  async detachController(devid: number, opts: DeviceOptions = {}): Promise<void> {
    const op = `usbctrl-detach ${devid} from domain ${this.dom.id}`;
    const found = (await this.list()).find((c) => c.devid === devid);
    if (!found) throw new XenError(`${op}: no such controller`, { code: 'ERR_NOT_FOUND', op });
    await this.ctrls.remove(found.config, op, opts.signal);
  }

  /** `xl usbdev-attach`: spec `hostbus=1,hostaddr=2[,controller=0,port=1]` or a config. */
  async attachDevice(spec: string | DeviceUsbdev, opts: DeviceOptions = {}): Promise<void> {
    // hostdev is libxl's default type; libxl's JSON keeps hostbus/hostaddr only under a type.
    if (typeof spec === 'string' && !/(^|,)\s*type=/.test(spec)) spec = `type=hostdev,${spec}`;
    await this.devs.attach(spec, `usbdev-attach to domain ${this.dom.id}`, opts.signal);
  }

  /** `xl usbdev-detach <ctrl> <port>`. */
  async detachDevice(ctrl: number, port: number, opts: DeviceOptions = {}): Promise<void> {
    const op = `usbdev-detach ${ctrl}/${port} from domain ${this.dom.id}`;
    const found = (await this.devs.listRaw()).find((d) => d.config.ctrl === ctrl && d.config.port === port);
    if (!found) throw new XenError(`${op}: no device there`, { code: 'ERR_NOT_FOUND', op });
    await this.devs.remove(found.config, op, opts.signal);
  }
}

/** USB controllers or USB devices: listed, attached and removed as they are. */
class UsbSet<C extends object> extends DeviceSet<C> {
  listRaw<I = never>() {
    return this.raw<I>(`usb-list of domain ${this.dom.id}`);
  }
  attach(spec: string | C, op: string, signal?: AbortSignal) {
    return this.add(this.toConfig(spec, op), op, signal);
  }
  remove(config: C, op: string, signal?: AbortSignal) {
    return this.run('remove', config, op, signal);
  }
}

let makeHostPci: (native: (op: string) => NativeContext) => HostPci;

/** The Host's way to make its `pci` (the constructor is not part of the API). */
export const newHostPci = (native: (op: string) => NativeContext): HostPci => makeHostPci(native);

/** The host's side of PCI passthrough (`xl pci-assignable-*`). */
export class HostPci {
  static {
    makeHostPci = (native) => new HostPci(native);
  }

  /** Made by the Host (`host.pci`; newHostPci, not part of the API). */
  private constructor(private readonly native: (op: string) => NativeContext) {}

  /** `xl pci-assignable-list`. */
  async assignable(): Promise<string[]> {
    const list = JSON.parse(this.native('pci-assignable-list').pciAssignableList()) as DevicePci[];
    return list.map(formatBdf);
  }

  /** `xl pci-assignable-add`: binds the device to pciback. */
  async makeAssignable(bdf: string): Promise<void> {
    const op = `pci-assignable-add ${bdf}`;
    this.native(op).pciAssignable(JSON.stringify(parseDeviceSpec<DevicePci>('pci', bdf, op)), 'add', false);
  }

  /** `xl pci-assignable-remove [-r]`: `rebind` gives it back to its original driver. */
  async removeAssignable(bdf: string, opts: RemoveAssignableOptions = {}): Promise<void> {
    const op = `pci-assignable-remove ${bdf}`;
    this.native(op).pciAssignable(JSON.stringify(parseDeviceSpec<DevicePci>('pci', bdf, op)), 'remove', opts.rebind ?? false);
  }
}

/** The host's USB devices (`host.usb`), the ones `usbdev-attach hostbus=… hostaddr=…` takes. */
export class HostUsb {
  /** Every USB device of this host but the root hubs, from sysfs (xl has no command for it). */
  async list(): Promise<HostUsbDevice[]> {
    return hostUsbDevices();
  }
}

/** A USB device of the host, for `usbdev-attach hostbus=… hostaddr=…`. */
export interface HostUsbDevice {
  hostbus: number;
  hostaddr: number;
  vendorId: string;
  productId: string;
  product?: string;
}

/** The host's USB devices (sysfs), to choose what to pass through. */
export function hostUsbDevices(sysfs = '/sys/bus/usb/devices'): HostUsbDevice[] {
  if (!fs.existsSync(sysfs)) return [];
  const read = (dir: string, f: string) => {
    try {
      return fs.readFileSync(`${sysfs}/${dir}/${f}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const out: HostUsbDevice[] = [];
  for (const dir of fs.readdirSync(sysfs)) {
    const bus = read(dir, 'busnum');
    const dev = read(dir, 'devnum');
    const vendor = read(dir, 'idVendor');
    if (!bus || !dev || !vendor || dir.startsWith('usb')) continue; // root hubs are not passed through
    out.push({
      hostbus: Number(bus),
      hostaddr: Number(dev),
      vendorId: vendor,
      productId: read(dir, 'idProduct') ?? '',
      product: read(dir, 'product'),
    });
  }
  return out.sort((a, b) => a.hostbus - b.hostbus || a.hostaddr - b.hostaddr);
}
