// Live migration over TCP (`xl migrate` / `xl migrate-receive`), both ends in xenlight.
//
//   on the destination:  node out/examples/migrate.js --receive 8002 [--bind 0.0.0.0]
//   on the source:       node out/examples/migrate.js <domain> dst-host:8002
//
// The receiver takes one migration and exits once the guest runs there; the sender's copy is
// destroyed once the receiver has taken over (if anything fails before that, it runs on here).
// Either end may be xl instead: the protocol is xl's. The stream is plain, unauthenticated TCP:
// the receiver binds loopback by default; between hosts, bind a private network or tunnel it
// (ssh -L 8002:127.0.0.1:8002 dst-host). In Xen in a box only HVM guests migrate (its Xen has no
// shadow paging for PV log-dirty), so try it with the box's HVM guest, on localhost.
import * as net from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Host } from '../src';
import type { Progress } from '../src';

/** Prints each phase once, the bytes moved every 32 MiB and in all. */
function reporter(who: string): (p: Progress) => void {
  let phase = '';
  let bytes = 0;
  let shown = -1; // MiB last printed
  const showBytes = () => console.log(`${who}: transfer ${(shown = Math.floor(bytes / 2 ** 20))} MiB`);
  return (p) => {
    if (p.phase === 'transfer') {
      bytes = p.bytes ?? bytes;
      if (phase !== 'transfer' || bytes / 2 ** 20 >= shown + 32) showBytes();
    } else if (p.phase !== phase) {
      if (phase === 'transfer' && Math.floor(bytes / 2 ** 20) > shown) showBytes(); // the total
      console.log(`${who}: ${p.phase}`);
    }
    phase = p.phase;
  };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { receive: { type: 'string' }, bind: { type: 'string', default: '127.0.0.1' } },
  });
  const [target, address] = positionals;
  const dst = /^\[?(.+?)\]?:(\d+)$/.exec(address ?? ''); // host:port or [v6]:port
  const receiving = values.receive !== undefined;
  if (receiving ? !/^\d+$/.test(values.receive!) || positionals.length > 0 : !target || !dst || positionals.length > 2) {
    console.error('usage: migrate --receive <port> [--bind <address>] | migrate <domain> <host>:<port>');
    return 2;
  }
  await using host = await Host.open();

  if (receiving) {
    const server = net.createServer();
    server.listen(Number(values.receive), values.bind); // port 0: any free port (printed)
    await once(server, 'listening');
    console.log(`listening on ${values.bind}:${(server.address() as net.AddressInfo).port}`);
    const [socket] = (await once(server, 'connection')) as [net.Socket];
    server.close(); // one migration only
    const dom = await host.receiveMigration(socket, { onProgress: reporter('receive') });
    console.log(`received ${await dom.name()} as domid ${dom.id}`);
    return 0;
  }

  const dom = await host.domain(/^\d+$/.test(target) ? Number(target) : target);
  const name = await dom.name();
  const socket = net.connect(Number(dst![2]), dst![1]);
  await once(socket, 'connect');
  await dom.migrate(socket, { onProgress: reporter('send') });
  console.log(`migrated ${name} (domid ${dom.id} here) to ${address}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`migrate: ${err.message}`);
    for (const line of err.details ?? []) console.error(`  ${line}`);
    process.exitCode = 1;
  },
);
