// The README's demo, run inside dom0 of Xen in a box by `npm run demo`: host information, a
// real PV guest in the domain list, its events, all through xenlight (the guest is started
// with `xl create` until the lifecycle API lands).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Host, memoryMiB, stateString } from '../src';
import { pvGuestConfig, waitForConsole } from '../src/box/guests';

function table(host: Awaited<ReturnType<typeof Host.open>>) {
  return host.listDomains().then((list) => {
    console.log('Name                                        ID   Mem VCPUs\tState\tTime(s)');
    for (const d of list) {
      console.log(`${(d.name ?? '').padEnd(40)} ${String(d.domid).padStart(5)} ${String(memoryMiB(d)).padStart(5)} ` +
        `${String(d.vcpu_online).padStart(5)}     ${stateString(d)}  ${(d.cpu_time / 1e9).toFixed(1).padStart(8)}`);
    }
  });
}

async function main() {
  await using host = await Host.open();
  const info = await host.info();
  console.log(`Xen ${info.xen_version} on ${info.nr_cpus} CPUs (${info.virt_caps.join(' ')}), ` +
    `scheduler ${info.xen_scheduler}, ${info.free_memory} of ${info.total_memory} MiB free`);

  const cfg = '/tmp/demo-guest.cfg';
  fs.writeFileSync(cfg, pvGuestConfig({ name: 'demo-guest' }));
  console.log('\nstarting a PV guest (xl create)…');
  execFileSync('xl', ['create', '-q', cfg], { stdio: 'inherit' });
  await waitForConsole('demo-guest', /xenlight-guest: up/);
  const guest = await host.domain('demo-guest');
  console.log(`guest up: domid ${guest.id}, uuid ${guest.uuid}\n`);
  await table(host);

  const config = await guest.config();
  console.log(`\nits configuration as libxl stored it: kernel ${config.b_info?.kernel}, ` +
    `max_memkb ${config.b_info?.max_memkb}, on_poweroff ${config.on_poweroff ?? 'destroy'}`);

  console.log('\nasking it to power off (xl shutdown) and following its events:');
  const events = host.events({ domid: guest.id });
  execFileSync('xl', ['shutdown', String(guest.id)]);
  for await (const ev of events) {
    console.log(`  event: ${ev.type}${ev.type === 'shutdown' ? ` (${ev.reason})` : ''} of domain ${ev.domid}`);
    if (ev.type === 'death') break;
  }
  console.log('');
  await table(host);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
