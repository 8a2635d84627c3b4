// `xenlight top`: xentop's table from host.stats.watch(). Batch mode (-b) prints what `xentop -b`
// prints, column for column; on a terminal it is a live, sortable view (keys as xentop's).
import * as readline from 'node:readline';
import type { Host } from '../core/host';
import { DomainStats, domainTotals, StatsSample, xentopState } from '../monitor/stats';
import { withHost } from './common';

/** A domain's vif and vbd sums, computed once per domain per table. */
type Totals = ReturnType<typeof domainTotals>;

interface Column {
  header: string;
  width: number;
  /** Right-aligned, except the name. */
  left?: boolean;
  /** Grows to fit its widest value, as xentop's counters do. */
  grow?: boolean;
  cell(d: DomainStats, s: StatsSample, t: Totals): string;
  /** Sort key (xentop: descending, names ascending). */
  key(d: DomainStats, s: StatsSample, t: Totals): number | string;
}

const fixed1 = (x: number) => x.toFixed(1);
const k = (bytes: number) => String(Math.floor(bytes / 1024));

/** xentop's fields, in its order, with its widths. */
export const COLUMNS: Column[] = [
  { header: 'NAME', width: 10, left: true, cell: (d) => (d.name ?? '').slice(0, 10), key: (d) => (d.name ?? '').toLowerCase() },
  { header: 'STATE', width: 6, cell: (d) => xentopState(d), key: (d) => xentopState(d) },
  { header: 'CPU(sec)', width: 10, cell: (d) => String(Math.floor(d.cpuTimeNs / 1e9)), key: (d) => d.cpuTimeNs },
  { header: 'CPU(%)', width: 6, cell: (d) => fixed1(d.rates?.cpuPercent ?? 0), key: (d) => d.rates?.cpuPercent ?? 0 },
  { header: 'MEM(k)', width: 10, cell: (d) => k(d.memoryBytes), key: (d) => d.memoryBytes },
  { header: 'MEM(%)', width: 6, cell: (d, s) => fixed1((d.memoryBytes / s.totalMemoryBytes) * 100), key: (d) => d.memoryBytes },
  {
    header: 'MAXMEM(k)',
    width: 10,
    cell: (d) => (d.maxMemoryBytes === null ? 'no limit' : k(d.maxMemoryBytes)),
    key: (d) => d.maxMemoryBytes ?? Infinity,
  },
  {
    header: 'MAXMEM(%)',
    width: 9,
    cell: (d, s) => (d.maxMemoryBytes === null ? 'n/a' : fixed1((d.maxMemoryBytes / s.totalMemoryBytes) * 100)),
    key: (d) => d.maxMemoryBytes ?? Infinity,
  },
  { header: 'VCPUS', width: 5, cell: (d) => String(d.vcpus.length), key: (d) => d.vcpus.length },
  { header: 'NETS', width: 4, cell: (d) => String(d.networks.length), key: (d) => d.networks.length },
  { header: 'NETTX(k)', width: 8, grow: true, cell: (_d, _s, t) => k(t.txBytes), key: (_d, _s, t) => t.txBytes },
  { header: 'NETRX(k)', width: 8, grow: true, cell: (_d, _s, t) => k(t.rxBytes), key: (_d, _s, t) => t.rxBytes },
  { header: 'VBDS', width: 4, cell: (d) => String(d.vbds.length), key: (d) => d.vbds.length },
  { header: 'VBD_OO', width: 8, cell: (_d, _s, t) => String(t.outOfRequests), key: (_d, _s, t) => t.outOfRequests },
  { header: 'VBD_RD', width: 8, grow: true, cell: (_d, _s, t) => String(t.readRequests), key: (_d, _s, t) => t.readRequests },
  { header: 'VBD_WR', width: 8, grow: true, cell: (_d, _s, t) => String(t.writeRequests), key: (_d, _s, t) => t.writeRequests },
  {
    header: 'VBD_RSECT',
    width: 10,
    grow: true,
    cell: (_d, _s, t) => String(t.readSectors),
    key: (_d, _s, t) => t.readSectors,
  },
  {
    header: 'VBD_WSECT',
    width: 10,
    grow: true,
    cell: (_d, _s, t) => String(t.writeSectors),
    key: (_d, _s, t) => t.writeSectors,
  },
  { header: 'SSID', width: 4, cell: (d) => String(d.ssid), key: (d) => d.ssid },
];

export interface TableOptions {
  /** Index into COLUMNS (default 0: by name, as xentop). */
  sortBy?: number;
  reverse?: boolean;
  /** Per domain, its vCPUs' seconds (xentop -v), its vifs (-n) and its vbds (-x). */
  vcpus?: boolean;
  networks?: boolean;
  vbds?: boolean;
}

/**
 * The domains xentop shows: libxenstat skips a domain whose name it cannot read, which is a
 * domain being destroyed (its xenstore entries are gone, Xen still holds its memory). The API
 * keeps those, with name null; the table, like xentop's, leaves them out.
 */
export function shownDomains(s: StatsSample): DomainStats[] {
  return s.domains.filter((d) => d.name !== null);
}

/** Sorts as xentop does: names ascending, case-insensitively; numbers descending. */
export function sortDomains(s: StatsSample, sortBy = 0, reverse = false): DomainStats[] {
  const col = COLUMNS[sortBy] ?? COLUMNS[0];
  const keyed = shownDomains(s).map((d) => ({ d, k: col.key(d, s, domainTotals(d)) }));
  keyed.sort(({ k: ka }, { k: kb }) => (typeof ka === 'string' ? (ka < kb ? -1 : ka > kb ? 1 : 0) : (kb as number) - ka));
  const sorted = keyed.map(({ d }) => d);
  return reverse ? sorted.reverse() : sorted;
}

/** The table xentop prints for one sample: a header line, then a line per domain (and its details). */
export function formatTable(s: StatsSample, opts: TableOptions = {}): string[] {
  const domains = sortDomains(s, opts.sortBy, opts.reverse);
  const cells = domains.map((d) => {
    const t = domainTotals(d);
    return COLUMNS.map((c) => c.cell(d, s, t));
  });
  const widths = COLUMNS.map((c, i) => (c.grow ? Math.max(c.width, ...cells.map((row) => row[i].length + 1)) : c.width));
  const pad = (text: string, i: number) => (COLUMNS[i].left ? text.padEnd(widths[i]) : text.padStart(widths[i]));
  const header = COLUMNS.map((c, i) => c.header.padStart(widths[i])).join(' ');
  const lines: string[] = [];
  domains.forEach((d, row) => {
    if (row === 0) lines.push(header);
    lines.push(cells[row].map(pad).join(' '));
    if (opts.vcpus) {
      const parts = d.vcpus.map((v, i) =>
        v.online ? ` ${String(i).padStart(2)}: ${String(Math.floor(v.cpuTimeNs / 1e9)).padStart(10)}s` : '',
      );
      lines.push(`VCPUs(sec): ${parts.join('')}`);
    }
    if (opts.networks) {
      d.networks.forEach((n, i) =>
        lines.push(
          `Net${i} RX: ${String(n.rxBytes).padStart(8)}bytes ${String(n.rxPackets).padStart(8)}pkts ` +
            `${String(n.rxErrors).padStart(8)}err ${String(n.rxDrops).padStart(8)}drop  ` +
            `TX: ${String(n.txBytes).padStart(8)}bytes ${String(n.txPackets).padStart(8)}pkts ` +
            `${String(n.txErrors).padStart(8)}err ${String(n.txDrops).padStart(8)}drop`,
        ),
      );
    }
    if (opts.vbds) {
      const types = ['Unidentified', 'BlkBack', 'BlkTap', 'QDisk'];
      d.vbds.forEach((b) =>
        lines.push(
          `VBD ${types[b.type] ?? 'Unidentified'} ${String(b.dev).padStart(4)} ` +
            `[${(b.dev >> 8).toString(16).padStart(2)}:${(b.dev & 0xff).toString(16).padStart(2)}]  ` +
            `OO: ${String(b.outOfRequests).padStart(8)}   RD: ${String(b.readRequests).padStart(8)}   ` +
            `WR: ${String(b.writeRequests).padStart(8)}   RSECT: ${String(b.readSectors).padStart(10)}   ` +
            `WSECT: ${String(b.writeSectors).padStart(10)}`,
        ),
      );
    }
  });
  return lines;
}

/** xentop's summary lines above the table (interactive view only, as in xentop). */
export function formatSummary(s: StatsSample, now = new Date()): string[] {
  const count = { running: 0, blocked: 0, paused: 0, crashed: 0, dying: 0, shutdown: 0 };
  const shown = shownDomains(s);
  for (const d of shown) {
    if (d.running) count.running++;
    else if (d.blocked) count.blocked++;
    else if (d.paused) count.paused++;
    else if (d.shutdown) count.shutdown++;
    else if (d.crashed) count.crashed++;
    else if (d.dying) count.dying++;
  }
  const time = now.toTimeString().slice(0, 8);
  const tot = Math.floor(s.totalMemoryBytes / 1024);
  const free = Math.floor(s.freeMemoryBytes / 1024);
  const busy = s.rates ? `, ${s.rates.cpuBusyPercent.toFixed(1)}% busy` : '';
  return [
    `xentop - ${time}   Xen ${s.xenVersion ?? '?'}`,
    `${shown.length} domains: ${count.running} running, ${count.blocked} blocked, ${count.paused} paused, ` +
      `${count.crashed} crashed, ${count.dying} dying, ${count.shutdown} shutdown `,
    `Mem: ${tot}k total, ${tot - free}k used, ${free}k free    CPUs: ${s.cpus} @ ${Math.floor(s.cpuHz / 1e6)}MHz${busy}`,
  ];
}

export interface TopOptions extends TableOptions {
  /** Seconds between updates (xentop -d; default 3). */
  delay: number;
  /** Number of updates, then exit (xentop -i); default: until quit. */
  iterations?: number;
  batch: boolean;
  /** One JSON document per update instead of the table. */
  json: boolean;
}

/** Batch mode: what `xentop -b [-i N] [-d S]` prints (or NDJSON with --json). */
export async function runBatch(host: Host, opts: TopOptions, write: (s: string) => void): Promise<void> {
  let n = 0;
  for await (const s of host.stats.watch({ intervalMs: opts.delay * 1000 })) {
    if (opts.json) write(JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
    else write(formatTable(s, opts).join('\n') + '\n');
    if (opts.iterations !== undefined && ++n >= opts.iterations) break;
  }
}

const KEYS = 'Delay(+/-)  Networks  vBds  VCPUs  Sort(S/</>)  Reverse  Quit';

/** The live view on a terminal: redraws on every sample and on every key. */
export async function runInteractive(host: Host, opts: TopOptions): Promise<void> {
  const out = process.stdout;
  const input = process.stdin;
  const view = { ...opts };
  let last: StatsSample | null = null;
  const ac = new AbortController();
  let restart: (() => void) | null = null;
  const draw = () => {
    if (!last) return;
    const rows = out.rows ?? 24;
    const cols = out.columns ?? 80;
    const table = formatTable(last, view);
    if (table.length > 0) {
      // The sort column in bold, as xentop shows it.
      table[0] = table[0].replace(COLUMNS[view.sortBy ?? 0].header, `\x1b[1m${COLUMNS[view.sortBy ?? 0].header}\x1b[22m`);
    }
    const lines = [...formatSummary(last), ...table.map((l, i) => (i === 0 ? `\x1b[7m${l}\x1b[27m` : l))]
      .slice(0, rows - 1)
      .map((l) => (l.includes('\x1b') ? l : l.slice(0, cols)));
    readline.cursorTo(out, 0, 0);
    readline.clearScreenDown(out);
    out.write(lines.join('\n') + '\n');
    readline.cursorTo(out, 0, rows - 1);
    out.write(`\x1b[7m${KEYS.slice(0, cols - 1)}\x1b[27m  delay ${view.delay}s`);
  };
  const onKey = (str: string | undefined, key: { name?: string; ctrl?: boolean } | undefined) => {
    const ch = (str ?? '').toLowerCase();
    if ((key?.ctrl && key.name === 'c') || ch === 'q') ac.abort();
    else if (ch === 'n') view.networks = !view.networks;
    else if (ch === 'b') view.vbds = !view.vbds;
    else if (ch === 'v') view.vcpus = !view.vcpus;
    else if (ch === 'r') view.reverse = !view.reverse;
    else if (ch === 's' || ch === '>') view.sortBy = ((view.sortBy ?? 0) + 1) % COLUMNS.length;
    else if (ch === '<') view.sortBy = ((view.sortBy ?? 0) + COLUMNS.length - 1) % COLUMNS.length;
    else if (ch === '+' || ch === '-') {
      view.delay = Math.max(1, view.delay + (ch === '+' ? 1 : -1));
      restart?.();
    }
    draw();
  };
  readline.emitKeypressEvents(input);
  if (input.isTTY) input.setRawMode(true);
  input.on('keypress', onKey);
  out.write('\x1b[?1049h\x1b[?25l');
  try {
    let n = 0;
    while (!ac.signal.aborted) {
      const tick = new AbortController();
      restart = () => tick.abort();
      const signal = AbortSignal.any([ac.signal, tick.signal]);
      for await (const s of host.stats.watch({ intervalMs: view.delay * 1000, signal })) {
        last = s;
        draw();
        if (view.iterations !== undefined && ++n >= view.iterations) ac.abort();
      }
    }
  } finally {
    input.off('keypress', onKey);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    out.write('\x1b[?25h\x1b[?1049l');
  }
}

// By command name; the command table (commands.ts) holds its options and help.
export const handlers = {
  top: (o: {
    batch: boolean;
    delay: number;
    iterations?: number;
    networks: boolean;
    vbds: boolean;
    vcpus: boolean;
    sort: string;
    reverse: boolean;
    json: boolean;
  }) => {
    const opts: TopOptions = {
      delay: o.delay,
      iterations: o.iterations,
      batch: o.batch,
      json: o.json,
      networks: o.networks,
      vbds: o.vbds,
      vcpus: o.vcpus,
      reverse: o.reverse,
      sortBy: COLUMNS.findIndex((c) => c.header === o.sort),
    };
    return withHost(async (host) => {
      if (o.batch || o.json || !process.stdout.isTTY || !process.stdin.isTTY) {
        await runBatch(host, opts, (s) => process.stdout.write(s));
      } else {
        await runInteractive(host, opts);
      }
    });
  },
};
