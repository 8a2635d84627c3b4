// host.stats.sample() vs a C program collecting the same with libxenstat + libxenctrl in one
// process vs spawning `xentop -b -i 1`, interleaved in one run (the machine is noisy: compare the
// ratios); then CPU per sample, the CPU watch({ intervalMs: 100 }) uses over 20 s beside an empty
// 100 ms timer (the floor in the box), in alternating windows, and the highest rate
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
    await xlCreate(
      pvGuestConfig({
        name: `bench-${i}`,
        memoryMiB: 96,
        extra: ['vif = [ "bridge=xenbr0" ]', `disk = [ "${disk},raw,xvda,rw" ]`],
      }),
      `bench-${i}`,
    );
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
  console.log(
    `domains sampled: ${domains} (dom0 + ${GUESTS} PV guests, ${devices} vifs and vbds), ${ROUNDS} interleaved rounds, medians`,
  );
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

  // CPU over WATCH_SECONDS of watch({ intervalMs: 100 }), in WINDOWS windows alternating with
  // windows of an empty 100 ms setInterval (the floor: waking Node 10 times a second under
  // emulation), so that the machine's drift falls on both alike. The watch path is warmed first:
  // V8 optimizes decodeSample's in-place path only once it is hot, and that compile alone takes
  // over a second of CPU in the box; a long-running watch pays it once.
  let warm = 0;
  for await (const _s of host.stats.watch({ intervalMs: 0 })) if (++warm >= 2000) break;
  const cpuOver = async (
    seconds: number,
    fn: (signal: AbortSignal) => Promise<number>,
  ): Promise<{ cpu: number; ticks: number; wall: number }> => {
    const ac = new AbortController();
    const stop = setTimeout(() => ac.abort(), seconds * 1000);
    cpu0 = process.cpuUsage();
    const w0 = performance.now();
    const ticks = await fn(ac.signal);
    const wall = (performance.now() - w0) / 1000;
    used = process.cpuUsage(cpu0);
    clearTimeout(stop);
    return { cpu: (used.user + used.system) / 1e6, ticks, wall };
  };
  const WINDOWS = 4;
  const floors: { cpu: number; ticks: number; wall: number }[] = [];
  const watches: { cpu: number; ticks: number; wall: number }[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    floors.push(
      await cpuOver(
        WATCH_SECONDS / WINDOWS,
        (signal) =>
          new Promise((resolve) => {
            let n = 0;
            const t = setInterval(() => {
              n++;
            }, 100);
            signal.addEventListener('abort', () => {
              clearInterval(t);
              resolve(n);
            });
          }),
      ),
    );
    watches.push(
      await cpuOver(WATCH_SECONDS / WINDOWS, async (signal) => {
        let n = 0;
        for await (const _s of host.stats.watch({ intervalMs: 100, signal })) n++;
        return n;
      }),
    );
  }
  const pct = (xs: { cpu: number; wall: number }[]) =>
    (100 * xs.reduce((a, x) => a + x.cpu, 0)) / xs.reduce((a, x) => a + x.wall, 0);
  const shares = watches.map((x, i) => 100 * (x.cpu / x.wall - floors[i].cpu / floors[i].wall));
  const floorPct = pct(floors);
  const watchPct = pct(watches);
  console.log(
    `empty setInterval(100 ms), ${WINDOWS} windows, ${floors.reduce((a, x) => a + x.wall, 0).toFixed(1)} s: CPU ${floorPct.toFixed(2)}% of one core (the floor)`,
  );
  console.log(
    `watch({ intervalMs: 100 }), ${WINDOWS} windows alternating with those, ${watches.reduce((a, x) => a + x.wall, 0).toFixed(1)} s, ` +
      `${watches.reduce((a, x) => a + x.ticks, 0)} ticks: CPU ${watchPct.toFixed(2)}% of one core; the sampling's own share ` +
      `${(watchPct - floorPct).toFixed(2)}% (target < 5%; per window ${shares.map((x) => x.toFixed(1)).join(', ')})`,
  );

  // The highest rate: watch({ intervalMs: 0 }) for 5 s.
  let ticks = 0;
  const ac2 = new AbortController();
  const stop2 = setTimeout(() => ac2.abort(), 5000);
  const r0 = performance.now();
  for await (const _s of host.stats.watch({ intervalMs: 0, signal: ac2.signal })) ticks++;
  clearTimeout(stop2);
  console.log(
    `highest sustained rate (watch({ intervalMs: 0 }), 5 s): ${(ticks / ((performance.now() - r0) / 1000)).toFixed(0)} samples/s`,
  );

  await host.close();
  destroyAllGuests();
  for (let i = 0; i < GUESTS; i++) fs.rmSync(`/tmp/bench-stats-${i}.img`, { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
