// Commands typed into the box's PV guest shell through domain.console().
import type { Domain } from '../../src';

/** Runs a shell command in the guest; resolves with its output and exit status. */
export async function guestRun(dom: Domain, command: string, timeoutMs = 30_000): Promise<{ out: string; status: number }> {
  const con = await dom.console();
  const tag = `__done_${Math.random().toString(36).slice(2, 8)}`;
  try {
    return await new Promise((resolve, reject) => {
      let text = '';
      const re = new RegExp(`${tag}_(\\d+)__`);
      // A kernel report's headline lines (which oops, stall or lockup) come first in the error: the
      // tail alone is often just its register dump.
      const headlines = () =>
        text
          .split(/\r?\n/)
          .filter((l) => /BUG|Oops|panic|stall|lockup|hung task|RIP:|Call Trace/.test(l))
          .slice(0, 12);
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `guest: no end of ${JSON.stringify(command)}; ` +
                `kernel reports: ${JSON.stringify(headlines())}; got ${JSON.stringify(text.slice(-400))}`,
            ),
          ),
        timeoutMs,
      );
      con.on('data', (b: Buffer) => {
        text += b.toString('latin1');
        const m = re.exec(text);
        if (m) {
          clearTimeout(timer);
          // What the command printed: after the echoed command line (which the terminal may
          // have wrapped), before the marker.
          const echoed = text.indexOf(`${tag}_$?__`);
          const start = echoed < 0 ? 0 : text.indexOf('\n', echoed) + 1;
          resolve({ out: text.slice(start, m.index).replace(/\r/g, ''), status: Number(m[1]) });
        }
      });
      // The marker's digits only exist once the shell has run the command.
      con.write(`${command}; echo ${tag}_$?__\n`);
    });
  } finally {
    con.destroy();
  }
}
