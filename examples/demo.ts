// The README's demo, run inside dom0 of Xen in a box by `npm run demo`. Everything goes through
// xenlight, no `xl`: a PV guest created from an xl.cfg file, listed, spoken to on its console,
// saved through gzip and restored; an HVM guest from an xl.cfg file migrated over TCP on this
// host (the box's Xen cannot migrate PV guests: no shadow paging); then both destroyed.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { Domain, Host, memoryMiB, stateString } from '../src';
import { hvmGuestConfig, pvGuestConfig, waitForConsole, waitForHvmIdle } from '../src/box/guests';

async function table(host: Host): Promise<void> {
  console.log('  Name                                        ID   Mem VCPUs\tState\tTime(s)');
  for (const d of await host.listDomains()) {
    console.log(
      `  ${(d.name ?? '').padEnd(40)} ${String(d.domid).padStart(5)} ${String(memoryMiB(d)).padStart(5)} ` +
        `${String(d.vcpusOnline).padStart(5)}     ${stateString(d)}  ${(d.cpuTimeNs / 1e9).toFixed(1).padStart(8)}`,
    );
  }
}

/** Types a command on the guest's console and returns what it printed up to `until`. */
async function ask(dom: Domain, command: string, until: RegExp): Promise<string> {
  const con = await dom.console();
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no answer to ${command}: ${JSON.stringify(text)}`)), 20_000);
      con.on('data', (b: Buffer) => {
        text += b.toString('latin1');
        const m = until.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      con.write(`${command}\n`);
    });
  } finally {
    con.destroy();
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  await using host = await Host.open();
  const info = await host.info();
  console.log(
    `Xen ${info.xenVersion} on ${info.cpus} CPUs (${info.virtCaps.join(' ')}), ` +
      `scheduler ${info.xenScheduler}, ${info.freeMemoryMiB} of ${info.totalMemoryMiB} MiB free\n`,
  );

  // 1. An xl.cfg file, as administrators write them, straight into createDomain.
  const pvCfg = '/tmp/demo-pv.cfg';
  fs.writeFileSync(pvCfg, pvGuestConfig({ name: 'demo-pv', memoryMiB: 128 }));
  console.log(`creating a PV guest from ${pvCfg}:\n${fs.readFileSync(pvCfg, 'utf8').replace(/^/gm, '  | ')}`);
  let pv = await host.createDomain(fs.readFileSync(pvCfg, 'utf8'), {
    path: pvCfg,
    onProgress: (p) => console.log(`  create: ${p.phase}${p.domid !== undefined ? ` (domid ${p.domid})` : ''}`),
  });
  await waitForConsole('demo-pv', /xenlight-guest: up/);
  console.log(`guest up: domid ${pv.id}, uuid ${pv.uuid}\n`);
  await table(host);

  // 2. Its console, as `xl console` gives it.
  console.log('\non its console:');
  console.log(`  $ uname -sr  →  ${(await ask(pv, 'echo "[$(uname -sr)]"', /\[Linux [^\]]+\]/)).slice(1, -1)}`);
  console.log(`  $ echo $((6*7))  →  ${await ask(pv, 'echo "=$((6*7))="', /=\d+=/)}`);

  // 3. Saved through gzip into a file, and restored from it.
  console.log('\nsaving it through gzip to /tmp/demo-pv.img.gz…');
  const gz = zlib.createGzip({ level: 1 });
  const written = pipeline(gz, fs.createWriteStream('/tmp/demo-pv.img.gz'));
  let saved = 0;
  await pv.save(gz, { onProgress: (p) => (saved = p.bytes ?? saved) });
  await written;
  console.log(
    `  saved ${mib(saved)} of state into ${mib(fs.statSync('/tmp/demo-pv.img.gz').size)} of gzip; ` +
      `the guest is gone: ${(await host.listDomains()).some((d) => d.name === 'demo-pv') ? 'no' : 'yes'}`,
  );
  pv = await host.restoreDomain(fs.createReadStream('/tmp/demo-pv.img.gz').pipe(zlib.createGunzip()));
  console.log(`  restored as domid ${pv.id}; it still answers: ${await ask(pv, 'echo "=$((7*6))="', /=\d+=/)}`);

  // 4. Live migration on this host, over TCP on loopback, of an HVM guest from an xl.cfg file.
  const hvmCfg = '/tmp/demo-hvm.cfg';
  fs.writeFileSync(hvmCfg, hvmGuestConfig({ name: 'demo-hvm', memoryMiB: 128 }));
  const hvm = await host.createDomain(fs.readFileSync(hvmCfg, 'utf8'), { path: hvmCfg });
  // Migrating a guest still in its firmware can triple-fault it under the box's emulation: wait
  // until its boot code has said it is idle (on Xen's debug port, in the hypervisor's console).
  await waitForHvmIdle(hvm.id);
  console.log(`\nan HVM guest from ${hvmCfg}: domid ${hvm.id}, past its firmware; migrating it over TCP to this host…`);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const sender = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const receiverSide = await accepted;
  server.close();
  let sent = 0;
  const [, moved] = await Promise.all([
    hvm.migrate(sender, { onProgress: (p) => (sent = p.bytes ?? sent) }),
    host.receiveMigration(receiverSide),
  ]);
  console.log(`  sent ${mib(sent)}; demo-hvm now runs as domid ${moved.id} (was ${hvm.id})\n`);
  await table(host);

  // 5. Gone.
  await Promise.all([pv.destroy(), moved.destroy()]);
  console.log('\ndestroyed both:');
  await table(host);
  fs.rmSync('/tmp/demo-pv.img.gz', { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
