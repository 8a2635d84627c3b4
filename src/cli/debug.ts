// Debugging subcommands of `xenlight`: debug-keys (xl's), vcpu-context (what xenctx prints),
// and gdbsx, a gdb server for a guest (Debian ships no gdbsx).
import type { VcpuContext } from '../debug/debug';
import { openDomain, out, print, withHost } from './common';

const hex = (v: bigint) => v.toString(16).padStart(16, '0');

/** xenctx-style lines: "rip: 00000000…" per register. */
export function formatVcpuContext(c: VcpuContext): string {
  return Object.entries(c.registers)
    .map(([k, v]) => `${k.padStart(12)}: ${hex(v as bigint)}`)
    .join('\n');
}

// By command name; the command table (commands.ts) holds their arguments, options and help.
export const handlers = {
  'debug-keys': (keys: string) => withHost((host) => host.sendDebugKeys(keys)),

  'vcpu-context': (dom: string, vcpu: number, o: { json: boolean }) =>
    withHost(async (host) => {
      const c = await (await openDomain(host, dom)).vcpuContext(vcpu);
      const json = {
        ...c,
        registers: Object.fromEntries(Object.entries(c.registers).map(([k, v]) => [k, `0x${(v as bigint).toString(16)}`])),
      };
      print(o.json, json, () => formatVcpuContext(c));
    }),

  gdbsx: (dom: string, port: number, o: { host: string; once: boolean }) =>
    withHost(async (host) => {
      const d = await openDomain(host, dom);
      const server = await d.gdbServer({ host: o.host, port });
      out(`listening on ${server.host}:${server.port} for gdb (domain ${d.id})`);
      await new Promise<void>((resolve) => {
        const stop = () => void server.close().then(resolve);
        if (o.once) server.once('disconnect', stop);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        void d.waitFor('death').then(stop, stop);
      });
    }),
};
