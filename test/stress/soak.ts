// `npm run soak` (inside Xen in a box): guests created and destroyed, two at a time, while the
// same Host lists domains and samples statistics as fast as it can; RSS and open descriptors
// before and after (after a warm-up, both with a forced GC), and the host checked clean against
// xl. Exits 1 if RSS grew by 5 MiB or more, a descriptor was left open, an operation failed or
// anything was left behind. Counts come from the environment (defaults in COUNTS).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import { Host } from '../../src';
import { pvGuestConfig } from '../../src/box/guests';
import { destroyAllGuests, xlList } from '../support/xl';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
// The defaults fit CI's 10 minutes under emulation (a list and a sample cost 1–4 ms each there);
// XENLIGHT_SOAK_LISTS=1000000 is the full count, an hour or more in the box.
const COUNTS = {
  guests: num('XENLIGHT_SOAK_GUESTS', 50),
  lists: num('XENLIGHT_SOAK_LISTS', 100_000),
  samples: num('XENLIGHT_SOAK_SAMPLES', 100_000),
};
const RSS_LIMIT_MIB = 5;
const mib = (b: number) => b / 2 ** 20;
const fds = () => fs.readdirSync('/proc/self/fd').length;

/** Resident bytes of malloc's main heap (brk) and of all other anonymous mappings (V8's pages,
 * malloc's per-thread arenas, thread stacks), from /proc/self/smaps. */
function anonRss(): { brk: number; anon: number } {
  let brk = 0,
    anon = 0,
    inBrk = false,
    isAnon = false;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      inBrk = head[2] === '[heap]';
      isAnon = head[1] === '0' && (head[2] === '' || head[2].startsWith('[anon'));
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      if (inBrk) brk += Number(rss[1]) * 1024;
      else if (isAnon) anon += Number(rss[1]) * 1024;
    }
  }
  return { brk, anon };
}

interface Settled {
  rss: number;
  heap: number;
  v8: number;
  external: number;
  brk: number;
  anon: number;
  fds: number;
}

function settle(): Settled {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  const { brk, anon } = anonRss();
  return {
    rss: m.rss,
    heap: m.heapUsed,
    v8: v8.getHeapStatistics().total_physical_size,
    external: m.external,
    brk,
    anon,
    fds: fds(),
  };
}

function zombies(): number {
  let n = 0;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state === 'Z') n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

async function churn(host: Host, first: number, count: number, onDone: () => void): Promise<void> {
  for (let i = first; i < first + count; i++) {
    const dom = await host.createDomain(pvGuestConfig({ name: `soak-${i}`, memoryMiB: 96 }), { monitor: false });
    await dom.destroy();
    onDone();
  }
}

/** Guests created and destroyed two at a time while lists and samples run on the JS thread. */
async function phase(
  host: Host,
  nGuests: number,
  nLists: number,
  nSamples: number,
  done: (kind: 'guest' | 'list' | 'sample') => void,
): Promise<void> {
  const half = Math.ceil(nGuests / 2);
  const creating = Promise.all([
    churn(host, 0, half, () => done('guest')),
    churn(host, half, nGuests - half, () => done('guest')),
  ]);
  // Lists and samples interleaved on the JS thread while creates run on libxl's worker threads.
  const perSample = Math.max(1, Math.round(nLists / Math.max(1, nSamples)));
  let lists = 0,
    samples = 0;
  while (lists < nLists || samples < nSamples) {
    for (let i = 0; i < perSample && lists < nLists; i++, lists++) {
      await host.listDomains();
      done('list');
    }
    if (samples < nSamples) {
      await host.stats.sample();
      samples++;
      done('sample');
    }
    // These calls settle at once (no I/O): without a turn of the event loop now and then, the
    // creates' libxl events (hotplug children, xenstore watches) would wait for the loop's end.
    if ((lists + samples) % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  await creating;
}

async function main(): Promise<number> {
  if (!(globalThis as { gc?: unknown }).gc) throw new Error('run with node --expose-gc');
  destroyAllGuests();
  const started = Date.now();
  const host = await Host.open();
  // Warm-up: the mix of one quarter — the JIT, the name cache, libxl's and libxenctrl's first
  // allocations, malloc's per-thread arenas of two creates at once, and V8's young generation,
  // which grows (to 16 MiB semispaces) only after seconds of this allocation rate: with a warm-up
  // of 2 000 calls that growth, +14 MiB of V8 pages with the heap in use flat, was all of the
  // RSS growth the soak saw (2026-12-05: 35.2 -> 52.0 MiB, then flat quarter after quarter).
  await phase(host, 4, Math.max(2000, COUNTS.lists / 4), Math.max(2000, COUNTS.samples / 4), () => undefined);
  const before = settle();

  let guests = 0,
    lists = 0,
    samples = 0;
  const progress = setInterval(
    () => console.log(`  ${Math.round((Date.now() - started) / 1000)} s: ${guests} guests, ${lists} lists, ${samples} samples`),
    30_000,
  );
  // In four equal quarters, RSS read after each: a leak grows every quarter alike, a warm-up
  // (V8 sizing its heap, malloc's arenas reaching their working size) only the first ones.
  const QUARTERS = 4;
  const part = (n: number, q: number) => Math.floor((n * (q + 1)) / QUARTERS) - Math.floor((n * q) / QUARTERS);
  for (let q = 0; q < QUARTERS; q++) {
    await phase(host, part(COUNTS.guests, q), part(COUNTS.lists, q), part(COUNTS.samples, q), (kind) => {
      if (kind === 'guest') guests++;
      else if (kind === 'list') lists++;
      else samples++;
    });
    const s = settle();
    console.log(
      `  after quarter ${q + 1}: RSS ${mib(s.rss).toFixed(1)} MiB, V8 pages ${mib(s.v8).toFixed(1)}, ` +
        `brk heap ${mib(s.brk).toFixed(1)}, other anonymous ${mib(s.anon).toFixed(1)}, descriptors ${s.fds}`,
    );
  }
  clearInterval(progress);
  const after = settle();
  await host.close();

  const left = xlList()
    .filter((r) => r.name !== 'Domain-0')
    .map((r) => r.name);
  const xenstore = execFileSync('xenstore-list', ['/local/domain'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const growth = mib(after.rss - before.rss);
  const ok = growth < RSS_LIMIT_MIB && after.fds <= before.fds && left.length === 0 && xenstore.length === 1 && zombies() === 0;
  console.log(
    `soak: ${guests} guests created and destroyed (two at a time), ${lists} listDomains(), ${samples} stats samples, ` +
      `in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  console.log(
    `RSS: ${mib(before.rss).toFixed(1)} MiB -> ${mib(after.rss).toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(2)} MiB, limit ${RSS_LIMIT_MIB} MiB)`,
  );
  const d = (k: keyof Settled) => `${mib(before[k]).toFixed(1)} -> ${mib(after[k]).toFixed(1)}`;
  console.log(
    `  V8 heap used ${d('heap')} MiB, V8 pages resident ${d('v8')} MiB, external ${d('external')} MiB; ` +
      `malloc's brk heap ${d('brk')} MiB, other anonymous memory ${d('anon')} MiB`,
  );
  console.log(`open descriptors: ${before.fds} -> ${after.fds}`);
  console.log(
    `left behind: ${left.length ? left.join(' ') : 'no domains'}; xenstore /local/domain: ${xenstore.join(' ')}; zombie children: ${zombies()}`,
  );
  console.log(`soak: ${ok ? 'passed' : 'FAILED'}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
