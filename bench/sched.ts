// Get + set of a domain's credit2 weight: the API vs spawning `xl sched-credit2` (one to set,
// one to read), interleaved rounds in one run. Runs in dom0: `npm run bench:sched`.
import { execFileSync } from 'node:child_process';
import { Host } from '../src';
import { pvGuestConfig, waitForConsole } from '../src/box/guests';
import { destroyAllGuests, xlCreate } from '../test/support/xl';

const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  destroyAllGuests();
  await xlCreate(pvGuestConfig({ name: 'bench-sched', memoryMiB: 96 }), 'bench-sched');
  await waitForConsole('bench-sched', /xenlight-guest: up/);
  const host = await Host.open();
  const dom = await host.domain('bench-sched');
  const api: number[] = [];
  const xl: number[] = [];
  let w = 256;
  for (let r = 0; r < ROUNDS; r++) {
    const n = 200;
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await dom.setSchedParams({ weight: (w = w === 256 ? 512 : 256) });
      const p = await dom.schedParams();
      if (p.scheduler !== 'credit2' || p.weight !== w) throw new Error(`read back ${JSON.stringify(p)}, expected weight ${w}`);
    }
    api.push(Number(process.hrtime.bigint() - t0) / n / 1e6);

    const m = 10;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < m; i++) {
      execFileSync('xl', ['sched-credit2', '-d', 'bench-sched', '-w', String((w = w === 256 ? 512 : 256))]);
      const out = execFileSync('xl', ['sched-credit2', '-d', 'bench-sched'], { encoding: 'utf8' });
      if (!out.includes(` ${w} `)) throw new Error(`xl read back ${out}`);
    }
    xl.push(Number(process.hrtime.bigint() - t0) / m / 1e6);
  }
  const a = median(api);
  const x = median(xl);
  console.log(`credit2 weight set + get, ${ROUNDS} interleaved rounds, medians`);
  console.log(`API (setSchedParams + schedParams)     ${a.toFixed(3)} ms`);
  console.log(`spawn xl sched-credit2 -w, then -d     ${x.toFixed(1)} ms`);
  console.log(`ratio xl / API:                        ${(x / a).toFixed(0)}x`);
  await host.close();
  destroyAllGuests();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
