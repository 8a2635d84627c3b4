// Creating the same PV guest with the API and with `xl create`, interleaved rounds in one run,
// each timed from the call to a running (unpaused) domain; destroys are not timed. Also the
// API fed the xl.cfg text itself (parse included). Runs in dom0: `npm run bench:create`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Host } from '../src';
import { pvGuestConfig } from '../src/box/guests';
import { destroyAllGuests, xlDryRun } from '../test/support/xl';

const ROUNDS = 7;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function main(): Promise<void> {
  destroyAllGuests();
  const cfgText = pvGuestConfig({ name: 'bench-create', memoryMiB: 96 });
  const cfgFile = '/tmp/bench-create.cfg';
  fs.writeFileSync(cfgFile, cfgText);
  const config = xlDryRun({ file: cfgFile }).config();
  const host = await Host.open();
  const api: number[] = [];
  const apiText: number[] = [];
  const xl: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = process.hrtime.bigint();
    let dom = await host.createDomain(config);
    api.push(ms(t0));
    await dom.destroy();

    t0 = process.hrtime.bigint();
    dom = await host.createDomain(cfgText, { path: cfgFile });
    apiText.push(ms(t0));
    await dom.destroy();

    t0 = process.hrtime.bigint();
    // xl create returns once the domain runs (its monitor daemon lives on; destroy ends it).
    execFileSync('xl', ['create', '-q', cfgFile]);
    xl.push(ms(t0));
    execFileSync('xl', ['destroy', 'bench-create']);
  }
  await host.close();
  const a = median(api);
  const t = median(apiText);
  const x = median(xl);
  console.log(`create a 96 MiB PV guest until it runs, ${ROUNDS} interleaved rounds, medians`);
  console.log(`API host.createDomain(config JSON)     ${a.toFixed(1)} ms`);
  console.log(`API host.createDomain(xl.cfg text)     ${t.toFixed(1)} ms`);
  console.log(`xl create <file>                       ${x.toFixed(1)} ms`);
  console.log(`ratio API (JSON) / xl:                 ${(a / x).toFixed(2)}x`);
  console.log(`ratio API (xl.cfg) / xl:               ${(t / x).toFixed(2)}x`);
  destroyAllGuests();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
