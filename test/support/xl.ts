// The oracle: xl itself, run in the same dom0.
import { strict as assert } from 'node:assert';
import { execFileSync, execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { XenError } from '../../src';
import { consoleLogPath, GuestOptions, GuestPanicError, pvGuestConfig, waitForConsole } from '../../src/box/guests';
import type { DomainConfig } from '../../src/generated/libxl-types';

const execFileP = promisify(execFile);

export function xl(...args: string[]): string {
  return execFileSync('xl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs xl and returns its exit status and both streams (for commands that are expected to fail). */
export function xlRun(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('xl', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function xlAsync(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP('xl', args, { encoding: 'utf8' });
}

/** `xl info` as key → value text. */
export function xlInfo(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of xl('info').split('\n')) {
    const m = /^(\w+)\s*:\s?(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

export interface XlListRow {
  name: string;
  id: number;
  mem: number;
  vcpus: number;
  state: string;
  time: number;
}

/** The UUID `xl list -v` prints for a domain. */
export function xlUuid(name: string): string {
  const row = xl('list', '-v', name).split('\n')[1];
  const uuid = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/.exec(row)?.[0];
  assert.ok(uuid, row);
  return uuid;
}

/** `xl list` rows. */
export function xlList(): XlListRow[] {
  return xl('list')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const m = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S{6})\s+([\d.]+)$/.exec(line);
      if (!m) throw new Error(`unparsable xl list line: ${JSON.stringify(line)}`);
      return { name: m[1], id: +m[2], mem: +m[3], vcpus: +m[4], state: m[5], time: +m[6] };
    });
}

/** `xl list -l`: [{ domid, config }]. */
export function xlListLong(): { domid: number; config: Record<string, unknown> }[] {
  return JSON.parse(xl('list', '-l'));
}

/** What `xl -N create` (a dry run: nothing is created) made of an xl.cfg. */
export interface XlDryRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /**
   * libxl's domain config JSON that xl printed (Xen 4.17 prints the bare libxl_domain_config;
   * `xl list -l` wraps it in {domid, config}). Fails, with xl's stderr, unless xl exited 0 and
   * printed a domain config.
   */
  config(): DomainConfig;
}

/**
 * `xl -N create` of an xl.cfg: its text (written to a file of this process's in the temporary
 * directory), or `{ file }`. Never throws for a configuration xl refuses: status and stderr say
 * how; config() is the strict reading.
 */
export function xlDryRun(cfg: string | { file: string }): XlDryRun {
  let file: string;
  if (typeof cfg === 'string') {
    file = path.join(os.tmpdir(), `dry-${process.pid}.cfg`);
    fs.writeFileSync(file, cfg);
  } else {
    file = cfg.file;
  }
  const r = xlRun('-N', 'create', file);
  return {
    ...r,
    config() {
      assert.equal(r.status, 0, `xl -N create ${file} failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout);
      assert.ok(out.c_info && out.b_info, 'xl -N create printed a domain config');
      return out as DomainConfig;
    },
  };
}

/** Creates a guest from xl.cfg text with `xl create`, returning its domid. */
export async function xlCreate(cfg: string, name: string): Promise<number> {
  const file = path.join(os.tmpdir(), `${name}.cfg`);
  fs.writeFileSync(file, cfg);
  await xlAsync('create', file);
  return Number(xl('domid', name).trim());
}

/** Destroys every guest (not dom0) that a test left behind. */
export function destroyAllGuests(): void {
  for (const row of xlList()) {
    if (row.id !== 0) {
      try {
        xl('destroy', String(row.id));
      } catch {
        /* already gone */
      }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves once check() holds; fails after ms. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** For assert.rejects/throws: a XenError with this code (and a message matching re). */
export const isXenError =
  (code: string, re?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof XenError && e.code === code && (!re || re.test(e.message));

/** Starts the box's PV guest with `xl create` and waits for its init; returns its domid. */
export async function xlBootPvGuest(opts: GuestOptions): Promise<number> {
  const domid = await xlCreate(pvGuestConfig(opts), opts.name);
  try {
    await waitForConsole(opts.name, /xenlight-guest: up/);
    return domid;
  } catch (err) {
    if (!(err instanceof GuestPanicError)) throw err;
    // Debian 13's guest kernel rarely panics while booting under the box's emulated CPUs
    // ("Fatal exception in interrupt", before init runs): not what a test looks at, so the
    // guest boots once more, and the output says so.
    process.stderr.write(`    (${err.message}; booting it once more)\n`);
    // xl's monitor may have destroyed it already (on_crash defaults to destroy).
    if (xlList().some((r) => r.name === opts.name)) xlRun('destroy', opts.name);
    fs.rmSync(consoleLogPath(opts.name), { force: true });
    const again = await xlCreate(pvGuestConfig(opts), opts.name);
    await waitForConsole(opts.name, /xenlight-guest: up/);
    return again;
  }
}
