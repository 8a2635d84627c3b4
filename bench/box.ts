// Xen in a box: 20 short commands (`xl list`) in one box that stays up (boot, 20 runs, power-off)
// against 20 separate boots of one command each (runInBox, as the testbed ran every command
// before the box could stay up). Runs on the host: `npm run bench:box`. The separate boots are
// split around the one-box run, so drift of a noisy machine hits both sides.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { Box, runInBox } from '../src/box/box';

const N = Number(process.env.COMMANDS ?? 20);
const COMMAND = ['xl', 'list'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sink = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

async function separateBoots(count: number, times: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t0 = now();
    const r = await runInBox({ command: COMMAND, output: sink(), log: () => {} });
    if (r.exitCode !== 0) throw new Error(`runInBox exited ${r.exitCode}: ${r.failure}`);
    times.push(now() - t0);
  }
}

async function oneBox(): Promise<{ total: number; boot: number; runs: number[]; down: number }> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenlight-bench-box-'));
  try {
    const t0 = now();
    const box = await Box.up({ stateDir });
    const boot = now() - t0;
    const runs: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = now();
      const r = await box.run(COMMAND, { output: sink() });
      if (r.exitCode !== 0) throw new Error(`${COMMAND.join(' ')} exited ${r.exitCode}`);
      runs.push(now() - t);
    }
    const t1 = now();
    await box.down();
    const down = now() - t1;
    return { total: now() - t0, boot, runs, down };
  } finally {
    await Box.down({ stateDir });
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const boots: number[] = [];
  await separateBoots(Math.floor(N / 2), boots);
  const one = await oneBox();
  await separateBoots(N - Math.floor(N / 2), boots);
  const separate = boots.reduce((a, b) => a + b, 0);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`${N} × \`${COMMAND.join(' ')}\` in dom0 of Xen in a box (QEMU TCG, ${os.cpus().length} host CPUs)`);
  console.log(
    `one box:        ${s(one.total)} in all (boot ${s(one.boot)}, median command ${one.runs.length ? median(one.runs).toFixed(0) : '-'} ms, power-off ${s(one.down)})`,
  );
  console.log(`separate boots: ${s(separate)} in all (median ${s(median(boots))} per boot + command + power-off)`);
  console.log(`ratio separate boots / one box: ${(separate / one.total).toFixed(1)}x`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
