// Debugging subcommands of `xenlight`: debug-keys (xl's), vcpu-context (what xenctx prints),
// and gdbsx, a gdb server for a guest (Debian ships no gdbsx).
import { Command } from 'commander';
import type { VcpuContext } from '../debug/debug';
import { intArg, openDomain, out, print, withHost } from './common';

const hex = (v: bigint) => v.toString(16).padStart(16, '0');

/** xenctx-style lines: "rip: 00000000…" per register. */
export function formatVcpuContext(c: VcpuContext): string {
  return Object.entries(c.registers).map(([k, v]) => `${k.padStart(12)}: ${hex(v as bigint)}`).join('\n');
}

export function addDebugCommands(p: Command): void {
  p.command('debug-keys')
    .description("Send debug keys to Xen (xl debug-keys); the output is in `xenlight dmesg`")
    .argument('<keys>')
    .action((keys: string) => withHost((host) => host.sendDebugKeys(keys)));

  p.command('vcpu-context')
    .description("Registers of a guest's vCPU (what xenctx prints)")
    .argument('<domain>')
    .argument('[vcpu]', 'vCPU number', intArg('vcpu', 0, 4095), 0)
    .option('--json', 'as JSON (register values as hex strings)', false)
    .action((dom: string, vcpu: number, o: { json: boolean }) => withHost(async (host) => {
      const c = await (await openDomain(host, dom)).vcpuContext(vcpu);
      const json = { ...c, registers: Object.fromEntries(Object.entries(c.registers).map(([k, v]) => [k, `0x${(v as bigint).toString(16)}`])) };
      print(o.json, json, () => formatVcpuContext(c));
    }));

  p.command('gdbsx')
    .description('A gdb server for a guest: in gdb, `set architecture i386:x86-64` and `target remote HOST:PORT`')
    .argument('<domain>')
    .argument('[port]', 'TCP port (default: any free one, printed)', intArg('port', 0, 65535), 0)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--once', 'exit when the first gdb disconnects', false)
    .action((dom: string, port: number, o: { host: string; once: boolean }) => withHost(async (host) => {
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
    }));
}
