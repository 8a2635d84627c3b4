// Device subcommands of `xenlight`: block-*, cd-*, network-*, pci-*, usb*. Specs are xl's own
// (parsed by the API through libxlutil); tables as tools/xl/xl_block.c, xl_nic.c, xl_pci.c, xl_usb.c.
import type { DeviceUsbdev } from '../generated/libxl-types';
import type { DiskStatus, NicStatus, UsbController } from '../devices/devices';
import { left, openDomain, out, print, right, withHost } from './common';

// ------------------------------------------------------------------ xl's tables (pure)

/** `xl block-list`: the handle column is the frontend domain, as xl prints it. */
export function formatBlockList(rows: { domid: number; disks: DiskStatus[] }[]): string {
  const lines = [
    `${left('Vdev', 5)} ${left('BE', 3)} ${left('handle', 6)} ${left('state', 5)} ${left('evt-ch', 6)} ` +
      `${left('ring-ref', 8)} ${left('BE-path', 30)}`,
  ];
  for (const { domid, disks } of rows) {
    for (const d of disks) {
      lines.push(
        `${left(d.devid, 5)} ${left(d.backendDomid, 3)} ${left(domid, 6)} ${left(d.state, 5)} ${left(d.evtch, 6)} ` +
          `${left(d.ringRef, 8)} ${left(d.backendPath, 30)}`,
      );
    }
  }
  return lines.join('\n');
}

/** `xl network-list`. */
export function formatNetworkList(nics: NicStatus[]): string {
  const lines = [
    `${left('Idx', 3)} ${left('BE', 2)} ${left('Mac Addr.', 17)} ${left('handle', 6)} ${left('state', 5)} ` +
      `${left('evt-ch', 6)} ${right('tx-', 5)}/${left('rx-ring-ref', 5)} ${left('BE-path', 30)}`,
  ];
  for (const n of nics) {
    // The MAC runs into the handle column: xl prints "%6d" straight after it.
    lines.push(
      `${left(n.devid, 3)} ${left(n.backendDomid, 2)} ${n.mac}${right(n.devid, 6)} ${right(n.state, 5)} ` +
        `${right(n.evtch, 6)} ${right(n.txRingRef, 5)}/${left(n.rxRingRef, 11)} ${left(n.backendPath, 30)}`,
    );
  }
  return lines.join('\n');
}

/** `xl pci-list`: guest slot.function, then the host's BDF. */
export function formatPciList(devs: { vdevfn?: number; bdf: string }[]): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return [
    'Vdev Device',
    ...devs.map((d) => `${hex(((d.vdevfn ?? 0) >> 3) & 0x1f, 2)}.${hex((d.vdevfn ?? 0) & 7, 1)} ${d.bdf}`),
  ].join('\n');
}

/** `xl usb-list`: per controller a header, its line and one line per port. */
export function formatUsbList(ctrls: UsbController[]): string {
  const lines: string[] = [];
  const hex3 = (n: number | undefined) => (n ?? 0).toString(16).padStart(3, '0');
  for (const c of ctrls) {
    lines.push(
      `${left('Devid', 6)} ${left('Type', 12)} ${left('BE', 3)} ${left('state', 5)} ${left('usb-ver', 7)} ${left('ports', 5)}`,
    );
    lines.push(
      `${left(c.devid, 6)} ${left(c.type, 12)} ${left(c.config.backend_domid ?? 0, 3)} ${left(c.state ?? 0, 5)} ` +
        `${left(c.version, 7)} ${left(c.ports, 5)}`,
    );
    for (let port = 1; port <= c.ports; port++) {
      const dev = c.devices.find((d: DeviceUsbdev) => d.port === port);
      const host = dev?.['type.hostdev'] as { hostbus?: number; hostaddr?: number } | undefined;
      lines.push(`  Port ${port}:${dev ? ` Bus ${hex3(host?.hostbus)} Device ${hex3(host?.hostaddr)}` : ''}`);
    }
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ handlers
// By command name; the command table (commands.ts) holds their arguments, options and help.

export const handlers = {
  'block-list': (doms: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const rows: { domid: number; disks: DiskStatus[] }[] = [];
      for (const a of doms) {
        const d = await openDomain(host, a);
        rows.push({ domid: d.id, disks: await d.disks.list() });
      }
      print(o.json, rows, () => formatBlockList(rows));
    }),
  'block-attach': (dom: string, spec: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const disk = await (await openDomain(host, dom)).disks.attach(spec.join(','));
      if (o.json) out(JSON.stringify(disk, null, 2));
    }),
  'block-detach': (dom: string, vdev: string, o: { force: boolean }) =>
    withHost(async (host) =>
      (await openDomain(host, dom)).disks.detach(/^\d+$/.test(vdev) ? Number(vdev) : vdev, { force: o.force }),
    ),
  'cd-insert': (dom: string, vdev: string, target: string) =>
    withHost(async (host) => (await openDomain(host, dom)).disks.insert(vdev, target)),
  'cd-eject': (dom: string, vdev: string) => withHost(async (host) => (await openDomain(host, dom)).disks.eject(vdev)),

  'network-list': (doms: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const nics: NicStatus[] = [];
      for (const a of doms) nics.push(...(await (await openDomain(host, a)).nics.list()));
      print(o.json, nics, () => formatNetworkList(nics));
    }),
  'network-attach': (dom: string, spec: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const nic = await (await openDomain(host, dom)).nics.attach(spec.join(','));
      if (o.json) out(JSON.stringify(nic, null, 2));
    }),
  'network-detach': (dom: string, which: string, o: { force: boolean }) =>
    withHost(async (host) =>
      (await openDomain(host, dom)).nics.detach(which.includes(':') ? which : Number(which), { force: o.force }),
    ),

  'pci-list': (dom: string, o: { json: boolean }) =>
    withHost(async (host) => {
      const devs = await (await openDomain(host, dom)).pci.list();
      print(o.json, devs, () => (devs.length ? formatPciList(devs) : ''));
    }),
  'pci-attach': (dom: string, bdf: string) => withHost(async (host) => (await openDomain(host, dom)).pci.attach(bdf)),
  'pci-detach': (dom: string, bdf: string, o: { force: boolean }) =>
    withHost(async (host) => (await openDomain(host, dom)).pci.detach(bdf, { force: o.force })),
  'pci-assignable-list': (o: { json: boolean }) =>
    withHost(async (host) => {
      const bdfs = await host.pci.assignable();
      // xl prints "%s" of an empty name after each address.
      print(o.json, bdfs, () => bdfs.map((b) => `${b} `).join('\n'));
    }),
  'pci-assignable-add': (bdf: string) => withHost((host) => host.pci.makeAssignable(bdf)),
  'pci-assignable-remove': (bdf: string, o: { rebind: boolean }) =>
    withHost((host) => host.pci.removeAssignable(bdf, { rebind: o.rebind })),

  'usb-list': (dom: string, o: { json: boolean }) =>
    withHost(async (host) => {
      const ctrls = await (await openDomain(host, dom)).usb.list();
      print(o.json, ctrls, () => formatUsbList(ctrls));
    }),
  'usbctrl-attach': (dom: string, spec: string[], o: { json: boolean }) =>
    withHost(async (host) => {
      const c = await (await openDomain(host, dom)).usb.attachController(spec.join(','));
      if (o.json) out(JSON.stringify(c, null, 2));
    }),
  'usbctrl-detach': (dom: string, devid: number) =>
    withHost(async (host) => (await openDomain(host, dom)).usb.detachController(devid)),
  'usbdev-attach': (dom: string, spec: string[]) =>
    withHost(async (host) => (await openDomain(host, dom)).usb.attachDevice(spec.join(','))),
  'usbdev-detach': (dom: string, ctrl: number, port: number) =>
    withHost(async (host) => (await openDomain(host, dom)).usb.detachDevice(ctrl, port)),
};
