// host.stats.sample() vs a C program collecting the same with libxenstat + libxenctrl in one
// process vs spawning `xentop -b -i 1`, interleaved in one run (the machine is noisy: compare the
// ratios); then CPU per sample, the CPU watch({ intervalMs: 100 }) uses over 20 s beside an empty
// 100 ms timer (the floor in the box), and the highest rate
// that watch() sustains. Runs in dom0 with 3 guests, each with a vif and a disk: `npm run bench:stats`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Host } from '../src';
import { pvGuestConfig, waitForConsole } from '../src/box/guests';
import { destroyAllGuests, xlCreate } from '../test/support/xl';

const C_BIN = process.env.XENLIGHT_BENCH_C ?? path.resolve(__dirname, '../../.cache/bench/stats-c');
const GUESTS = Number(process.env.GUESTS ?? 3);
const ROUNDS = 5;
const WATCH_SECONDS = Number(process.env.WATCH_SECONDS ?? 20);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  destroyAllGuests();
  for (let i = 0; i < GUESTS; i++) {
    const disk = `/tmp/bench-stats-${i}.img`;
    fs.writeFileSync(disk, '');
    fs.truncateSync(disk, 8 * 2 ** 20);
    await xlCreate(pvGuestConfig({
      name: `bench-${i}`, memoryMiB: 96,
      extra: ['vif = [ "bridge=xenbr0" ]', `disk = [ "${disk},raw,xvda,rw" ]`],
    }), `bench-${i}`);
  }
  await Promise.all(Array.from({ length: GUESTS }, (_, i) => waitForConsole(`bench-${i}`, /xenlight-guest: up/)));
  const host = await Host.open();
  const first = await host.stats.sample();
  const domains = first.domains.length;
  const devices = first.domains.reduce((n, d) => n + d.networks.length + d.vbds.length, 0);
  for (let i = 0; i < 50; i++) await host.stats.sample(); // warm the JIT

  const api: number[] = [];
  const tick: number[] = [];
  const c: number[] = [];
  const xentop: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const n = 100;
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await host.stats.sample();
    api.push(Number(process.hrtime.bigint() - t0) / n / 1e6);

    // What watch() does per tick: a sample decoded into the same objects (setImmediate between ticks).
    let k = 0;
    t0 = process.hrtime.bigint();
    for await (const _s of host.stats.watch({ intervalMs: 0 })) if (++k === n) break;
    tick.push(Number(process.hrtime.bigint() - t0) / n / 1e6);

    const out = JSON.parse(execFileSync(C_BIN, [String(n)], { encoding: 'utf8' })) as { sampleNs: number };
    c.push(out.sampleNs / 1e6);

    t0 = process.hrtime.bigint();
    const m = 5;
    for (let i = 0; i < m; i++) execFileSync('xentop', ['-b', '-i', '1'], { stdio: 'ignore' });
    xentop.push(Number(process.hrtime.bigint() - t0) / m / 1e6);
  }
  const a = median(api);
  const t = median(tick);
  const cm = median(c);
  const x = median(xentop);
  console.log(`domains sampled: ${domains} (dom0 + ${GUESTS} PV guests, ${devices} vifs and vbds), ${ROUNDS} interleaved rounds, medians`);
  console.log(`host.stats.sample() (new objects)           ${a.toFixed(3)} ms/sample`);
  console.log(`watch() tick (objects reused)                ${t.toFixed(3)} ms/sample`);
  console.log(`C: xenstat_get_node + xc_getcpuinfo          ${cm.toFixed(3)} ms/sample`);
  console.log(`spawn \`xentop -b -i 1\`                       ${x.toFixed(1)} ms/sample`);
  console.log(`ratio sample() / C:      ${(a / cm).toFixed(2)}x   (target <= 1.2x)`);
  console.log(`ratio watch tick / C:    ${(t / cm).toFixed(2)}x`);
  console.log(`ratio xentop / sample(): ${(x / a).toFixed(0)}x`);

  // CPU per sample, back to back: this process's user + system time over n samples.
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < 200; i++) await host.stats.sample();
  let used = process.cpuUsage(cpu0);
  console.log(`CPU per sample: ${((used.user + used.system) / 1e3 / 200).toFixed(2)} ms`);

  // CPU over WATCH_SECONDS: an empty 100 ms setInterval (the floor: waking Node 10 times a second
  // under emulation), then watch({ intervalMs: 100 }), in the same run.
  const cpuOver = async (fn: (signal: AbortSignal) => Promise<number>): Promise<{ pct: number; ticks: number; wall: number }> => {
    const ac = new AbortController();
    const stop = setTimeout(() => ac.abort(), WATCH_SECONDS * 1000);
    cpu0 = process.cpuUsage();
    const w0 = performance.now();
    const ticks = await fn(ac.signal);
    const wall = (performance.now() - w0) / 1000;
    used = process.cpuUsage(cpu0);
    clearTimeout(stop);
    return { pct: ((used.user + used.system) / 1e6 / wall) * 100, ticks, wall };
  };
  const floor = await cpuOver((signal) => new Promise((resolve) => {
    let n = 0;
    const t = setInterval(() => { n++; }, 100);
    signal.addEventListener('abort', () => { clearInterval(t); resolve(n); });
  }));
  const watched = await cpuOver(async (signal) => {
    let n = 0;
    for await (const _s of host.stats.watch({ intervalMs: 100, signal })) n++;
    return n;
  });
  console.log(`empty setInterval(100 ms) for ${floor.wall.toFixed(1)} s: CPU ${floor.pct.toFixed(2)}% of one core (the floor)`);
  console.log(`watch({ intervalMs: 100 }) for ${watched.wall.toFixed(1)} s: ${watched.ticks} ticks, CPU ${watched.pct.toFixed(2)}% ` +
    `of one core; the sampling's own share ${(watched.pct - floor.pct).toFixed(2)}% (target < 5%)`);

  // The highest rate: watch({ intervalMs: 0 }) for 5 s.
  let ticks = 0;
  const ac2 = new AbortController();
  const stop2 = setTimeout(() => ac2.abort(), 5000);
  const r0 = performance.now();
  for await (const _s of host.stats.watch({ intervalMs: 0, signal: ac2.signal })) ticks++;
  clearTimeout(stop2);
  console.log(`highest sustained rate (watch({ intervalMs: 0 }), 5 s): ${(ticks / ((performance.now() - r0) / 1000)).toFixed(0)} samples/s`);

  await host.close();
  destroyAllGuests();
  for (let i = 0; i < GUESTS; i++) fs.rmSync(`/tmp/bench-stats-${i}.img`, { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
