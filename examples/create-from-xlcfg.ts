// `xl create <file.cfg>` through xenlight: the xl.cfg file an administrator already has, parsed
// in this process (same syntax errors as xl, word for word) and built by libxl.
//
//   node out/examples/create-from-xlcfg.js [--paused] [--destroy] <file.cfg>
//
// Prints the new domain's domid and name. By default the guest is left running when this
// program exits (`xl destroy NAME` ends it); --destroy destroys it again once it runs (a smoke
// test of a configuration), --paused leaves it paused (`xl unpause NAME`).
//
// Note: the lifecycle monitor (on_poweroff / on_reboot / on_crash actions) lives only as long as
// the Host that created the domain; a program that must restart guests on reboot as xl's
// background monitor does keeps its Host open (see host.createDomain's onLifecycle).
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Host } from '../src';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { paused: { type: 'boolean' }, destroy: { type: 'boolean' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: create-from-xlcfg [--paused] [--destroy] <file.cfg>');
    return 2;
  }
  const file = positionals[0];
  const text = fs.readFileSync(file, 'utf8');

  await using host = await Host.open();
  const dom = await host.createDomain(text, {
    path: file, // named in syntax errors and warnings
    paused: values.paused,
    onWarning: (w) => console.error(w), // e.g. an unknown key (xl ignores it silently)
    onProgress: (p) => console.error(`  ${p.phase}${p.domid !== undefined ? ` (domid ${p.domid})` : ''}`),
  });
  console.log(`created domain ${await dom.name()}: domid ${dom.id}, uuid ${dom.uuid}`);

  if (values.destroy) {
    await dom.destroy();
    console.log(`destroyed domain ${dom.id}`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`create-from-xlcfg: ${err.message}`);
    for (const line of err.details ?? []) console.error(`  ${line}`);
    process.exitCode = 1;
  },
);
