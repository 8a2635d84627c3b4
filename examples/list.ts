// `xl list` through xenlight: every domain with its name, domid, memory, vCPUs, state and CPU
// time, from one libxl call in this process (no `xl` child, no text to scrape).
//
//   node out/examples/list.js            # as root in dom0
//   npm run testbed -- node out/examples/list.js
//
// The output has xl's own layout (tools/xl/xl_list.c), so whatever parses `xl list` parses this.
import { Host, memoryMiB, stateString } from '../src';
import type { DomainInfo } from '../src';

/** One row as xl prints it: "%-40s %5d %5lu %5d     %s  %8.1f". */
function row(d: DomainInfo): string {
  return (
    [
      (d.name ?? '(null)').padEnd(40), // null only while a domain is built or torn down
      String(d.domid).padStart(5),
      String(memoryMiB(d)).padStart(5), // current + outstanding memory, in MiB (as xl)
      String(d.vcpusOnline).padStart(5),
    ].join(' ') + `     ${stateString(d)}  ${(d.cpuTimeNs / 1e9).toFixed(1).padStart(8)}`
  ); // "r-----", seconds
}

async function main(): Promise<void> {
  // One libxl context, closed when main() returns (`await using`).
  await using host = await Host.open();
  const domains = await host.listDomains(); // dom0 included, in domid order
  console.log('Name                                        ID   Mem VCPUs\tState\tTime(s)');
  for (const d of domains) console.log(row(d));
}

main().catch((err) => {
  // A XenError says what was attempted (err.op) and carries libxl's log lines (err.details).
  console.error(`list: ${err.message}`);
  for (const line of err.details ?? []) console.error(`  ${line}`);
  process.exitCode = 1;
});
