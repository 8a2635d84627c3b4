// host.listDomains() vs a C program doing libxl_list_domain + names in one process vs spawning
// `xl list`, interleaved in one run (the machine is noisy: compare the ratios). Then RSS growth
// over 100 000 calls. Runs in dom0: `npm run bench:list` boots Xen in a box for it.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Host } from '../src';
import { pvGuestConfig, waitForConsole } from '../src/box/guests';
import { destroyAllGuests, xlCreate } from '../test/support/xl';

const C_BIN = process.env.XENLIGHT_BENCH_C ?? path.resolve(__dirname, '../../.cache/bench/list-c');
const GUESTS = Number(process.env.GUESTS ?? 3);
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  destroyAllGuests();
  for (let i = 0; i < GUESTS; i++) {
    await xlCreate(pvGuestConfig({ name: `bench-${i}`, memoryMiB: 96 }), `bench-${i}`);
  }
  await Promise.all(Array.from({ length: GUESTS }, (_, i) => waitForConsole(`bench-${i}`, /xenlight-guest: up/)));
  const host = await Host.open();
  const domains = (await host.listDomains()).length;
  for (let i = 0; i < 200; i++) await host.listDomains(); // warm the name cache and the JIT

  const api: number[] = [];
  const c: number[] = [];
  const cListOnly: number[] = [];
  const xl: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = process.hrtime.bigint();
    const n = 1000;
    for (let i = 0; i < n; i++) await host.listDomains();
    api.push(Number(process.hrtime.bigint() - t0) / n / 1e6);

    const out = JSON.parse(execFileSync(C_BIN, ['1000'], { encoding: 'utf8' }));
    c.push(out.withNamesNs / 1e6);
    cListOnly.push(out.listOnlyNs / 1e6);

    t0 = process.hrtime.bigint();
    const m = 10;
    for (let i = 0; i < m; i++) execFileSync('xl', ['list'], { stdio: 'ignore' });
    xl.push(Number(process.hrtime.bigint() - t0) / m / 1e6);
  }
  const a = median(api);
  const cm = median(c);
  const cl = median(cListOnly);
  const x = median(xl);
  console.log(`domains listed: ${domains} (dom0 + ${GUESTS} PV guests), ${ROUNDS} interleaved rounds, medians`);
  console.log(`host.listDomains() (names included)      ${a.toFixed(3)} ms/call`);
  console.log(`C: libxl_list_domain + domid_to_name      ${cm.toFixed(3)} ms/call`);
  console.log(`C: libxl_list_domain alone                ${cl.toFixed(3)} ms/call`);
  console.log(`spawn \`xl list\`                          ${x.toFixed(1)} ms/call`);
  console.log(`ratio API / C (list + names):   ${(a / cm).toFixed(2)}x   (target <= 1.2x)`);
  console.log(`ratio API / C (list alone):     ${(a / cl).toFixed(2)}x`);
  console.log(`ratio xl list / API:            ${(x / a).toFixed(0)}x`);

  const calls = Number(process.env.LEAK_CALLS ?? 100_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < calls; i++) await host.listDomains();
  gc?.();
  const rss1 = process.memoryUsage().rss;
  const growth = (rss1 - rss0) / 2 ** 20;
  console.log(
    `RSS over ${calls} listDomains() calls: ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MiB ` +
      `(growth ${growth.toFixed(2)} MiB, target < 2 MiB)`,
  );
  await host.close();
  destroyAllGuests();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
