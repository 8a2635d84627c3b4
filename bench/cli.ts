// `xenlight list` vs `xl list`: wall time of the whole process (start included), spawned
// alternately in one run, medians of each; plus `node -e 0` (Node's own start-up, the floor of
// any Node CLI) to show where the time goes. Runs in dom0: `npm run bench:cli` boots the box.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { pvGuestConfig, waitForConsole } from '../src/box/guests';
import { destroyAllGuests, xlCreate } from '../test/support/xl';

const CLI = path.resolve(__dirname, '../src/cli/main.js');
const GUESTS = 3;
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function wall(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  destroyAllGuests();
  for (let i = 0; i < GUESTS; i++) await xlCreate(pvGuestConfig({ name: `bench-${i}`, memoryMiB: 96 }), `bench-${i}`);
  await Promise.all(Array.from({ length: GUESTS }, (_, i) => waitForConsole(`bench-${i}`, /xenlight-guest: up/)));
  // Same rows from both, or the comparison means nothing.
  const ours = execFileSync(process.execPath, [CLI, 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.slice(0, 58));
  const theirs = execFileSync('xl', ['list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.slice(0, 58));
  if (ours.join('\n') !== theirs.join('\n'))
    throw new Error(`xenlight list and xl list differ:\n${ours.join('\n')}\n${theirs.join('\n')}`);
  for (let i = 0; i < 3; i++) {
    wall(process.execPath, [CLI, 'list']);
    wall('xl', ['list']);
  }
  const x: number[] = [];
  const ours2: number[] = [];
  const node: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ours2.push(wall(process.execPath, [CLI, 'list']));
    x.push(wall('xl', ['list']));
    node.push(wall(process.execPath, ['-e', '0']));
  }
  const a = median(ours2);
  const b = median(x);
  const n = median(node);
  console.log(`${GUESTS + 1} domains, ${ROUNDS} alternating rounds, medians of the wall time of one process`);
  console.log(`xenlight list   ${a.toFixed(1)} ms`);
  console.log(`xl list         ${b.toFixed(1)} ms`);
  console.log(`node -e 0       ${n.toFixed(1)} ms   (Node's start-up alone)`);
  console.log(`ratio xenlight list / xl list:            ${(a / b).toFixed(2)}x`);
  console.log(`ratio (xenlight list - node -e 0) / xl:   ${((a - n) / b).toFixed(2)}x   (what xenlight adds to Node's start)`);
  destroyAllGuests();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
