// `xl migrate -s "" <domain> "node out/test/support/receive-migration.js"` runs this as xl's
// receiver: it speaks xl's migration protocol on stdin/stdout through host.receiveMigration().
import { Duplex } from 'node:stream';
import { Host } from '../../src';

async function main(): Promise<void> {
  const host = await Host.open();
  try {
    const stream = Duplex.from({ readable: process.stdin, writable: process.stdout });
    const dom = await host.receiveMigration(stream);
    process.stderr.write(`receive-migration: domain ${dom.id} running\n`);
  } finally {
    await host.close();
  }
}

main().catch((err) => {
  process.stderr.write(`receive-migration: ${err.stack ?? err}\n`);
  process.exit(1);
});
