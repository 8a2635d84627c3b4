// `xl console` through xenlight: a guest's console as a Node Duplex stream.
//
//   node out/examples/console.js <domain> 'uname -a'   # types the command, prints its answer
//   node out/examples/console.js <domain>              # attaches: Ctrl-] detaches (as xl console)
//
// <domain> is a name or a domid. With a command, the guest's shell runs it and this program
// prints what it wrote and exits with its exit status (the guest must have a shell on its
// console, like the box's PV guest on hvc0). Without one, stdin goes to the guest and the guest's
// output to stdout: raw keystrokes on a terminal, or piped text (then it detaches once stdin has
// ended and the guest has been quiet for two seconds).
import { Host } from '../src';

async function main(): Promise<number> {
  const [target, command] = process.argv.slice(2);
  if (!target) {
    console.error('usage: console <domain> [command]');
    return 2;
  }
  await using host = await Host.open();
  const dom = await host.domain(/^\d+$/.test(target) ? Number(target) : target);
  const con = await dom.console(); // hvc0; { type: 'serial' } for an HVM guest's serial port
  try {
    if (command !== undefined) {
      // A marker after the command tells where its output ends and with which status. The
      // shell echoes our line first ("$?" in it, not digits), so the answer starts after it.
      const tag = `__end${process.pid}_`;
      let text = '';
      return await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no end of the command after 30 s; the console showed ${JSON.stringify(text)}`)),
          30_000,
        );
        con.on('data', (b: Buffer) => {
          text += b.toString('latin1');
          const m = new RegExp(`${tag}(\\d+)__`).exec(text);
          if (!m) return;
          const echoed = text.indexOf(`${tag}$?__`);
          process.stdout.write(text.slice(echoed < 0 ? 0 : text.indexOf('\n', echoed) + 1, m.index).replace(/\r/g, ''));
          clearTimeout(timer);
          resolve(Number(m[1]));
        });
        con.write(`${command}; echo ${tag}$?__\n`);
      });
    }
    // Interactive: both ways until Ctrl-] (0x1d) on a terminal, or the end of piped input.
    con.pipe(process.stdout);
    await new Promise<void>((resolve) => {
      if (process.stdin.isTTY) {
        process.stdin.setRawMode(true);
        process.stdin.on('data', (b: Buffer) => (b.includes(0x1d) ? resolve() : con.write(b)));
        return;
      }
      let quiet: NodeJS.Timeout | undefined;
      const detachWhenQuiet = () => {
        clearTimeout(quiet);
        quiet = setTimeout(resolve, 2000);
      };
      process.stdin.on('data', (b: Buffer) => con.write(b));
      process.stdin.once('end', () => {
        detachWhenQuiet();
        con.on('data', detachWhenQuiet); // restarts the wait on every output
      });
    });
    return 0;
  } finally {
    con.destroy(); // detaches; the guest keeps running
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`console: ${err.message}`);
    for (const line of err.details ?? []) console.error(`  ${line}`);
    process.exitCode = 1;
  },
);
