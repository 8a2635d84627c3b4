// A Xen in a box that stays up: QEMU runs in the background (its pid, serial console and state
// in a state directory), and an agent in dom0 runs the commands the host drops into the
// exchange share, one job at a time, so any number of commands cost one boot.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as lockfile from 'proper-lockfile';
import { BoxError } from './errors';
import { packageRoot } from '../core/package-root';
import { defaultCacheDir, prepareImages, prepareRootImages } from './images';
import type { BoxImages } from './images';
import { checkHost, FileFollower, hasExited, isOurQemu, QEMU, qemuArgs, SerialWatch, serialTail } from './qemu';
import type { HostShare } from './qemu';
import { parseXenVersion, prepareRoot } from './roots';
import type { XenVersion } from './roots';
import { AGENT_DIR, dom0AgentScript, HOST_NODE_DIR, jobScript, MARK, shellQuote } from './scripts';

export interface BoxUpOptions {
  /**
   * The Xen version the box runs: '4.17' (default: Debian 12's, dom0 runs the host's own root) or
   * '4.20' (Debian 13's: dom0 runs a trixie root built once with mmdebstrap and cached in
   * XENLIGHT_ROOTS_CACHE, default /var/cache/xenlight/roots; the checkout, its node_modules and the
   * image cache are shared into dom0 at their host paths, read-only).
   */
  xen?: XenVersion;
  /** Where the running box's files live (default: XENLIGHT_BOX_STATE, else `.cache/box` of the package). */
  stateDir?: string;
  /** Where the built images are cached (default: XENLIGHT_BOX_CACHE, else `.cache/testbed` of the package). */
  cacheDir?: string;
  /** Host directory shared read-write as /xfer in dom0 (default: `xfer` in the state directory). */
  xferDir?: string;
  /** Memory of the emulated machine and of dom0, in MiB (defaults 4096 and 1536). */
  memoryMiB?: number;
  dom0MemoryMiB?: number;
  /** Stop a box that is up and rebuild the images before booting. */
  fresh?: boolean;
  /** Give up (and kill QEMU) when dom0 is not ready after this long (default 600 s). */
  bootTimeoutSeconds?: number;
  /** Copy the serial console (Xen, dom0's kernel) here while booting. */
  serial?: NodeJS.WritableStream;
  /** Progress messages ("building box images…"). */
  log?: (msg: string) => void;
  /**
   * QEMU's gdb stub on 127.0.0.1 at this port: gdb on the host debugs Xen and dom0's kernel
   * (`target remote :PORT`, symbols from xen-hypervisor-4.17-amd64-dbg's xen-syms).
   */
  gdbPort?: number;
  /** With gdbPort: the CPUs start stopped, until gdb continues them (to debug the boot). */
  gdbWait?: boolean;
  /**
   * A box with a root of its own (Xen 4.20): more host directories to share into dom0, read-only,
   * at their host paths (the checkout, its node_modules and the image cache always are).
   */
  shares?: string[];
}

export interface RunOptions {
  /** Run the command words as one shell command line (sh syntax) instead of quoting each. */
  shell?: boolean;
  /** Working directory in dom0 (default: this process's; the host's root is dom0's, read-only). */
  cwd?: string;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Where the command's output (stdout and stderr, interleaved) goes; default: discarded. */
  output?: NodeJS.WritableStream;
  /** Cancel the command (kill all it started in dom0) after this long; exit code 124. */
  timeoutSeconds?: number;
  /** Cancel the command when aborted; exit code 130. */
  signal?: AbortSignal;
  /** Copy the serial console here while the command runs. */
  serial?: NodeJS.WritableStream;
}

export interface RunResult {
  /** The command's exit status; 124 when it timed out, 130 when aborted (the box stays up). */
  exitCode: number;
  seconds: number;
  timedOut: boolean;
  aborted: boolean;
}

export interface BoxStatus {
  state: 'down' | 'booting' | 'up' | 'dead';
  stateDir: string;
  pid?: number;
  startedAt?: string;
  bootSeconds?: number;
  xferDir?: string;
  serialLog?: string;
  /** One line for people ("up since …", "not running", "QEMU (pid N) is gone"). */
  message: string;
}

/** What `up` leaves in the state directory for `run`, `status` and `down` in other processes. */
interface BoxState {
  /** Absent: 4.17 (a state written before there was a choice). */
  xen?: XenVersion;
  pid: number;
  pidFile: string;
  serialLog: string;
  xferDir: string;
  ownXfer: boolean;
  cacheDir: string;
  startedAt: string;
  bootSeconds?: number;
}

/** Environment variables passed into dom0 unless overridden. */
const PASS_ENV = /^(CI|TERM|NODE_OPTIONS|NODE_ENV|FORCE_COLOR|NO_COLOR|XENLIGHT_\w+|MOCHA_\w+|DEBUG)$/;
const POLL_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function defaultStateDir(): string {
  return process.env.XENLIGHT_BOX_STATE ?? path.join(path.dirname(defaultCacheDir()), 'box');
}

function stateFile(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

function readState(stateDir: string): BoxState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(stateDir), 'utf8')) as BoxState;
  } catch {
    return undefined;
  }
}

function writeState(stateDir: string, st: BoxState): void {
  const tmp = `${stateFile(stateDir)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(st, null, 2) + '\n');
  fs.renameSync(tmp, stateFile(stateDir));
}

function isNoSpace(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'ENOSPC' || /ENOSPC|No space left on device/.test(String(e?.message ?? ''));
}

function freeSpace(dir: string): string {
  try {
    const s = fs.statfsSync(dir);
    return `${Math.floor((s.bavail * s.bsize) / 1024)} KiB free of ${Math.floor((s.blocks * s.bsize) / 1024)} KiB`;
  } catch {
    return 'free space unknown';
  }
}

function noSpaceError(err: unknown, dirs: Record<string, string>): BoxError {
  const where = Object.entries(dirs)
    .map(([what, dir]) => `${what} ${dir} (${freeSpace(dir)})`)
    .join(', ');
  return new BoxError(
    'ERR_BOX_NOSPACE',
    `no space left on device: ${(err as Error).message}. ` +
      `The box needs about 10 MiB for its images and a few MiB for its state and exchange files: ${where}`,
  );
}

/** Holds the state directory's lock (another process's up or down waits for it). */
async function lockState(stateDir: string, log: (m: string) => void): Promise<() => Promise<void>> {
  let warned = false;
  for (;;) {
    try {
      return await lockfile.lock(stateDir, {
        lockfilePath: path.join(stateDir, 'lock'),
        // The lock is refreshed every 5 s while held; one older than 30 s belongs to a process
        // that died, and is taken over.
        stale: 30_000,
        update: 5_000,
        realpath: false,
        // A long boot under load must not throw from a timer: the box is ours either way.
        onCompromised: (e) => log(`the lock on ${stateDir} was taken over: ${e.message}`),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      if (!warned) log(`waiting for another xenlight box command on ${stateDir}`);
      warned = true;
      await sleep(500);
    }
  }
}

function mkdirs(...dirs: string[]): void {
  for (const d of dirs) fs.mkdirSync(d, { recursive: true });
}

/** Waits until a QEMU we saw go has really exited (its pid no longer runs). */
async function waitExited(pid: number, waitMs = 10_000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < waitMs; await sleep(POLL_MS)) {
    if (hasExited(pid)) return true;
  }
  return false;
}

/** Kills QEMU by pid (only if it is still ours) and waits until it has exited. */
async function killQemu(st: BoxState, signal: NodeJS.Signals = 'SIGKILL', waitMs = 10_000): Promise<boolean> {
  // Not ours (any more): gone, or its pid taken by another process since.
  if (!isOurQemu(st.pid, st.pidFile)) return true;
  try {
    process.kill(st.pid, signal);
  } catch {
    /* gone meanwhile */
  }
  return waitExited(st.pid, waitMs);
}

function cleanup(stateDir: string, st: BoxState): void {
  fs.rmSync(stateFile(stateDir), { force: true });
  fs.rmSync(st.pidFile, { force: true });
  fs.rmSync(path.join(st.xferDir, AGENT_DIR), { recursive: true, force: true });
  fs.rmSync(path.join(st.xferDir, 'run.sh'), { force: true });
  if (st.ownXfer) fs.rmSync(st.xferDir, { recursive: true, force: true });
}

/**
 * The host directories a box with a root of its own shares into dom0, each once at its real path
 * (a symlinked node_modules shares its target, where the symlink leads in dom0 too); one inside
 * another is already there.
 */
export function hostShares(dirs: string[]): HostShare[] {
  const real: string[] = [];
  for (const d of dirs) {
    let r: string;
    try {
      r = fs.realpathSync(d);
    } catch {
      continue;
    }
    if (fs.statSync(r).isDirectory() && !real.includes(r)) real.push(r);
  }
  const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
  return real
    .filter((r, i) => !real.some((o, j) => j !== i && inside(r, o) && (r !== o || j < i)))
    .map((p, i) => ({ tag: `share${i}`, path: p }));
}

let jobCounter = 0;

/** A running Xen in a box. Get one with `Box.up()` (boots, or finds it up) or `Box.attach()`. */
export class Box {
  private constructor(
    /** The state directory: state.json, qemu.pid, serial.log, lock. */
    readonly stateDir: string,
    private readonly st: BoxState,
    /** True when `up` found this box already running instead of booting it. */
    readonly reused: boolean,
  ) {}

  /** QEMU's pid. */
  get pid(): number {
    return this.st.pid;
  }
  /** The host directory dom0 sees as /xfer (read-write). */
  get xferDir(): string {
    return this.st.xferDir;
  }
  /** The serial console: Xen's log and dom0's kernel log. */
  get serialLog(): string {
    return this.st.serialLog;
  }
  /** The Xen version the box runs. */
  get xen(): XenVersion {
    return this.st.xen ?? '4.17';
  }
  /** Seconds from QEMU's start to dom0's agent being ready. */
  get bootSeconds(): number {
    return this.st.bootSeconds ?? NaN;
  }

  /**
   * Boots a box in the background, or returns the one already up in that state directory. Safe
   * to call from several processes at once: they share one box.
   */
  static async up(opts: BoxUpOptions = {}): Promise<Box> {
    const stateDir = path.resolve(opts.stateDir ?? defaultStateDir());
    const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
    const log = opts.log ?? (() => {});
    try {
      mkdirs(stateDir);
    } catch (e) {
      throw isNoSpace(e) ? noSpaceError(e, { 'state directory': path.dirname(stateDir) }) : e;
    }
    const release = await lockState(stateDir, log);
    try {
      const st = readState(stateDir);
      const xen = parseXenVersion(opts.xen);
      if (st && isOurQemu(st.pid, st.pidFile) && (st.xen ?? '4.17') !== xen) {
        throw new BoxError(
          'ERR_BOX_SETUP',
          `a Xen ${st.xen ?? '4.17'} box is up in ${stateDir} (QEMU pid ${st.pid}), not Xen ${xen}: ` +
            '`xenlight box down` it first, or give this one another state directory (--state)',
        );
      }
      if (st && isOurQemu(st.pid, st.pidFile)) {
        if (st.bootSeconds !== undefined && !opts.fresh) {
          return new Box(stateDir, st, true);
        }
        // With the lock ours, a box still booting was left by an `up` that died; --fresh stops
        // a good one on purpose.
        log(
          opts.fresh
            ? `--fresh: stopping the box that is up (QEMU pid ${st.pid})`
            : `stopping a box whose boot was abandoned (QEMU pid ${st.pid})`,
        );
        await stopMachine(st, log);
        cleanup(stateDir, st);
      } else if (st) {
        log(`the box started at ${st.startedAt} is gone (QEMU pid ${st.pid} is not running): booting a new one`);
        cleanup(stateDir, st);
      }
      return await Box.boot(stateDir, cacheDir, opts, log);
    } catch (e) {
      if (isNoSpace(e)) throw noSpaceError(e, { 'cache directory': cacheDir, 'state directory': stateDir });
      throw e;
    } finally {
      await release().catch(() => {});
    }
  }

  private static async boot(stateDir: string, cacheDir: string, opts: BoxUpOptions, log: (m: string) => void): Promise<Box> {
    const started = Date.now();
    checkHost();
    mkdirs(cacheDir);
    if (opts.fresh) {
      for (const d of fs.readdirSync(cacheDir))
        if (d.startsWith('images-')) fs.rmSync(path.join(cacheDir, d), { recursive: true, force: true });
    }
    const xen = parseXenVersion(opts.xen);
    let images: BoxImages;
    let shares: HostShare[] = [];
    if (xen === '4.17') {
      images = await prepareImages(cacheDir, log);
    } else {
      const root = prepareRoot(xen, { log });
      images = await prepareRootImages(cacheDir, root, log);
      // The host's npm cache too (read-only at its host path), so `npm install --offline` works in
      // dom0 as in the 4.17 box, which sees the host's whole root.
      shares = hostShares([
        packageRoot(),
        path.join(packageRoot(), 'node_modules'),
        cacheDir,
        path.join(os.homedir(), '.npm'),
        ...(opts.shares ?? []),
      ]);
      // The host's Node, which dom0 runs instead of Debian 13's slow-starting build (see
      // HOST_NODE_DIR); cached, since a Node binary does not change while the box runs.
      shares.push({ tag: 'hostnode', path: path.dirname(fs.realpathSync(process.execPath)), at: HOST_NODE_DIR, cached: true });
    }
    const ownXfer = !opts.xferDir;
    const xferDir = path.resolve(opts.xferDir ?? path.join(stateDir, 'xfer'));
    fs.rmSync(path.join(xferDir, AGENT_DIR), { recursive: true, force: true });
    mkdirs(path.join(xferDir, AGENT_DIR, 'jobs'));
    fs.writeFileSync(path.join(xferDir, 'run.sh'), dom0AgentScript(xen));
    // dom0's /init mounts these (a box with a root of its own; see DOM0_INIT_SHARES).
    if (shares.length)
      fs.writeFileSync(
        path.join(xferDir, AGENT_DIR, 'shares'),
        shares.map((s) => `${s.tag} ${s.at ?? s.path} ${s.cached ? 'loose' : 'none'}\n`).join(''),
      );

    const st: BoxState = {
      xen,
      pid: 0,
      pidFile: path.join(stateDir, 'qemu.pid'),
      serialLog: path.join(stateDir, 'serial.log'),
      xferDir,
      ownXfer,
      cacheDir,
      startedAt: new Date().toISOString(),
    };
    fs.rmSync(st.pidFile, { force: true });
    fs.writeFileSync(st.serialLog, '');
    const args = qemuArgs(images, {
      ...st,
      shares,
      memoryMiB: opts.memoryMiB ?? 4096,
      dom0MemoryMiB: opts.dom0MemoryMiB ?? 1536,
    });
    if (opts.gdbPort !== undefined) {
      // Loopback only: the stub gives full control of the machine.
      args.push('-gdb', `tcp:127.0.0.1:${opts.gdbPort}`, ...(opts.gdbWait ? ['-S'] : []));
      log(`QEMU's gdb stub: 127.0.0.1:${opts.gdbPort}${opts.gdbWait ? ' (CPUs stopped until gdb continues them)' : ''}`);
    }
    // QEMU's first process exits once the machine is set up and runs on in the background.
    const launched = await new Promise<{ code: number | null; stderr: string; error?: Error }>((resolve) => {
      const q = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      q.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      q.on('error', (error) => resolve({ code: null, stderr, error }));
      q.on('close', (code) => resolve({ code, stderr }));
    });
    if (launched.error || launched.code !== 0) {
      // QEMU says only "Failed to write pid file" when the state directory's disk is full.
      if (launched.code !== null && fs.statfsSync(stateDir).bavail === 0) {
        throw noSpaceError(new Error(`QEMU could not start: ${launched.stderr.trim()}`), { 'state directory': stateDir });
      }
      throw new BoxError(
        'ERR_BOX_BOOT',
        `QEMU could not start: ${launched.error?.message ?? `exit code ${launched.code}`}` +
          (launched.stderr.trim() ? `: ${launched.stderr.trim()}` : ''),
      );
    }
    st.pid = Number(fs.readFileSync(st.pidFile, 'utf8').trim());
    try {
      writeState(stateDir, st);
      await waitReady(st, started, opts);
      st.bootSeconds = (Date.now() - started) / 1000;
      writeState(stateDir, st);
    } catch (e) {
      await killQemu(st);
      cleanup(stateDir, st);
      throw e;
    }
    return new Box(stateDir, st, false);
  }

  /** The box that is up in that state directory; ERR_BOX_DOWN or ERR_BOX_DEAD if none is. */
  static attach(stateDir?: string): Box {
    const dir = path.resolve(stateDir ?? defaultStateDir());
    const s = Box.status(dir);
    const st = readState(dir);
    if (s.state === 'down' || !st) throw new BoxError('ERR_BOX_DOWN', `${s.message}: start one with \`xenlight box up\``);
    if (s.state === 'dead') throw new BoxError('ERR_BOX_DEAD', s.message, serialTail(st.serialLog));
    if (s.state === 'booting') throw new BoxError('ERR_BOX_DOWN', `${s.message}: wait for \`xenlight box up\` to finish`);
    return new Box(dir, st, true);
  }

  static status(stateDir?: string): BoxStatus {
    const dir = path.resolve(stateDir ?? defaultStateDir());
    const st = readState(dir);
    if (!st) return { state: 'down', stateDir: dir, message: `no box is running (state directory ${dir})` };
    const base = {
      stateDir: dir,
      pid: st.pid,
      startedAt: st.startedAt,
      bootSeconds: st.bootSeconds,
      xferDir: st.xferDir,
      serialLog: st.serialLog,
    };
    if (!isOurQemu(st.pid, st.pidFile)) {
      return {
        ...base,
        state: 'dead',
        message:
          `the box started at ${st.startedAt} is gone: QEMU (pid ${st.pid}) is not running (it was killed, ` +
          `or Xen or dom0 crashed: see ${st.serialLog}); \`xenlight box up\` boots a new one`,
      };
    }
    if (st.bootSeconds === undefined)
      return { ...base, state: 'booting', message: `booting since ${st.startedAt} (QEMU pid ${st.pid})` };
    return {
      ...base,
      state: 'up',
      message: `up since ${st.startedAt} (QEMU pid ${st.pid}, booted in ${st.bootSeconds.toFixed(1)} s)`,
    };
  }

  /**
   * Powers the box off (dom0 syncs and halts; QEMU is killed by pid if it does not exit within
   * `graceSeconds`). Nothing running is not an error.
   */
  static async down(
    opts: { stateDir?: string; graceSeconds?: number; log?: (m: string) => void } = {},
  ): Promise<{ wasUp: boolean; message: string }> {
    const dir = path.resolve(opts.stateDir ?? defaultStateDir());
    const log = opts.log ?? (() => {});
    if (!readState(dir)) return { wasUp: false, message: `no box is running (state directory ${dir})` };
    const release = await lockState(dir, log);
    try {
      const st = readState(dir);
      if (!st) return { wasUp: false, message: `no box is running (state directory ${dir})` };
      if (!isOurQemu(st.pid, st.pidFile)) {
        cleanup(dir, st);
        return {
          wasUp: false,
          message: `the box started at ${st.startedAt} had already stopped (QEMU pid ${st.pid} was not running); cleaned up`,
        };
      }
      const how = await stopMachine(st, log, opts.graceSeconds);
      cleanup(dir, st);
      return { wasUp: true, message: `stopped the box (QEMU pid ${st.pid}, ${how})` };
    } finally {
      await release().catch(() => {});
    }
  }

  /** Powers this box off. */
  async down(opts: { graceSeconds?: number } = {}): Promise<{ wasUp: boolean; message: string }> {
    return Box.down({ stateDir: this.stateDir, ...opts });
  }

  /** Kills QEMU at once (no power-off); for a time limit or a box that no longer answers. */
  async kill(): Promise<void> {
    await killQemu(this.st);
    cleanup(this.stateDir, this.st);
  }

  /** True while QEMU runs. */
  isUp(): boolean {
    return isOurQemu(this.st.pid, this.st.pidFile) && fs.existsSync(stateFile(this.stateDir));
  }

  /**
   * Runs a command as root in dom0 and resolves with its exit status once it has finished. Its
   * output streams to `output` as dom0 writes it. Commands from several callers queue: the agent
   * runs one at a time. Rejects with ERR_BOX_DEAD if the box dies meanwhile.
   */
  async run(command: string[], o: RunOptions = {}): Promise<RunResult> {
    const started = Date.now();
    if (!this.isUp()) throw Box.attachError(this.stateDir);
    if (command.length === 0) throw new TypeError('run: no command given');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (PASS_ENV.test(k) && v !== undefined) env[k] = v;
    Object.assign(env, o.env);
    const xen = this.st.xen ?? '4.17';
    // The 4.17 box's dom0 runs the host's root, so the host's node is there; a box with a root of
    // its own runs that root's node.
    const nodeDir = xen === '4.17' ? `${path.dirname(process.execPath)}:` : '';
    env.PATH = `/usr/lib/xen-${xen}/bin:${nodeDir}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
    // Which box this is, for the guest helpers' images (readManifest).
    env.XENLIGHT_BOX_XEN = xen;
    const line = o.shell ? command.join(' ') : command.map(shellQuote).join(' ');

    // Ids sort by time, so the agent takes jobs in the order they came.
    const id = `${String(Date.now()).padStart(15, '0')}-${process.pid}-${++jobCounter}`;
    const dir = path.join(this.st.xferDir, AGENT_DIR, 'jobs', id);
    try {
      mkdirs(dir);
      fs.writeFileSync(path.join(dir, 'script'), jobScript({ cwd: o.cwd ?? process.cwd(), command: line, env }));
      fs.writeFileSync(path.join(dir, 'go'), '');
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw isNoSpace(e) ? noSpaceError(e, { 'exchange directory': this.st.xferDir }) : e;
    }
    const out = new FileFollower(path.join(dir, 'out'));
    const serial = new SerialWatch(this.st.serialLog, 'end', o.serial);
    const pump = () => {
      const chunk = out.read();
      if (chunk.length) o.output?.write(chunk);
    };
    const rcFile = path.join(dir, 'rc');
    let cancelledAt: number | undefined;
    let timedOut = false;
    let aborted = false;
    const cancel = () => {
      if (cancelledAt !== undefined) return;
      cancelledAt = Date.now();
      try {
        fs.writeFileSync(path.join(dir, 'cancel'), '');
      } catch {
        /* the job directory is gone: the box is going down */
      }
    };
    const limit = o.timeoutSeconds !== undefined ? started + o.timeoutSeconds * 1000 : Infinity;
    const onAbort = () => {
      aborted = true;
      cancel();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    try {
      for (let tick = 0; ; tick++) {
        pump();
        if (fs.existsSync(rcFile)) {
          pump();
          const status = Number(fs.readFileSync(rcFile, 'utf8').trim());
          const exitCode = timedOut ? 124 : aborted ? 130 : status;
          return { exitCode, seconds: (Date.now() - started) / 1000, timedOut, aborted };
        }
        const fatal = serial.poll();
        if (fatal) {
          // Let the console finish its report, then stop a machine that will not stop itself.
          await sleep(1500);
          serial.poll();
          pump();
          await this.kill();
          throw new BoxError(
            'ERR_BOX_DEAD',
            `the box crashed (${fatal}) while running \`${line}\`; QEMU (pid ${this.pid}) was killed`,
            serialTail(this.st.serialLog),
          );
        }
        if (tick % 10 === 0 && !this.isUp()) {
          pump();
          throw new BoxError(
            'ERR_BOX_DEAD',
            `the box went away while running \`${line}\`: ` +
              (isOurQemu(this.pid, this.st.pidFile) ? 'it was stopped' : `QEMU (pid ${this.pid}) is not running`),
            serialTail(this.st.serialLog),
          );
        }
        if (Date.now() >= limit && cancelledAt === undefined) {
          timedOut = true;
          cancel();
        }
        // The agent checks for a cancel twice a second; a job that ignores it cannot outlive a
        // SIGKILL to its process group, so this only waits out a box that stopped answering.
        if (cancelledAt !== undefined && Date.now() - cancelledAt > 20_000) {
          throw new BoxError(
            'ERR_BOX_DEAD',
            `dom0's agent did not end \`${line}\` within 20 s of the cancel: the box no longer answers`,
            serialTail(this.st.serialLog),
          );
        }
        await sleep(POLL_MS);
      }
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * Runs a command like `run` and collects its output (stdout and stderr, interleaved) instead of
   * streaming it: `const { exitCode, output } = await box.exec(['xl', 'list'])`.
   */
  async exec(command: string[], o: Omit<RunOptions, 'output'> = {}): Promise<RunResult & { output: string }> {
    const chunks: Buffer[] = [];
    const output = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    const r = await this.run(command, { ...o, output });
    return { ...r, output: Buffer.concat(chunks).toString('utf8') };
  }

  private static attachError(stateDir: string): BoxError {
    try {
      Box.attach(stateDir);
      return new BoxError('ERR_BOX_DOWN', `the box in ${stateDir} went down`);
    } catch (e) {
      return e as BoxError;
    }
  }
}

/** Asks dom0 to power off; kills QEMU when it does not stop in time. Says which it took. */
async function stopMachine(st: BoxState, log: (m: string) => void, graceSeconds = 30): Promise<string> {
  try {
    fs.writeFileSync(path.join(st.xferDir, AGENT_DIR, 'poweroff'), '');
  } catch {
    /* no agent directory: only the kill is left */
  }
  const follower = new FileFollower(st.serialLog, 'end');
  let doneAt: number | undefined;
  const t0 = Date.now();
  while (Date.now() - t0 < graceSeconds * 1000) {
    if (!isOurQemu(st.pid, st.pidFile) && (await waitExited(st.pid))) return 'powered off';
    if (doneAt === undefined && follower.read().toString('latin1').includes(`${MARK} done`)) doneAt = Date.now();
    // Under TCG, QEMU has been seen to stay up (spinning) after Xen entered ACPI S5: once dom0
    // has synced and said so, nothing is lost by killing it.
    if (doneAt !== undefined && Date.now() - doneAt > 10_000) break;
    await sleep(POLL_MS * 2);
  }
  if (doneAt === undefined) log(`dom0 did not power off within ${graceSeconds} s: killing QEMU (pid ${st.pid})`);
  if (await killQemu(st, 'SIGTERM', 5_000))
    return doneAt === undefined ? 'QEMU terminated' : 'powered off (QEMU stopped after S5)';
  await killQemu(st, 'SIGKILL');
  return 'QEMU killed';
}

/** Waits for dom0's agent; fails at once on a crash on the console or QEMU's exit. */
async function waitReady(st: BoxState, started: number, opts: BoxUpOptions): Promise<void> {
  const ready = path.join(st.xferDir, AGENT_DIR, 'ready');
  const serial = new SerialWatch(st.serialLog, 'start', opts.serial);
  const limit = (opts.bootTimeoutSeconds ?? 600) * 1000;
  for (;;) {
    const fatal = serial.poll();
    if (fs.existsSync(ready)) return;
    if (fatal) {
      await sleep(1500);
      serial.poll();
      throw new BoxError('ERR_BOX_BOOT', `the box crashed while booting (${fatal})`, serialTail(st.serialLog));
    }
    if (!isOurQemu(st.pid, st.pidFile)) {
      throw new BoxError('ERR_BOX_BOOT', `QEMU (pid ${st.pid}) exited while the box was booting`, serialTail(st.serialLog));
    }
    if (Date.now() - started > limit) {
      await killQemu(st);
      throw new BoxError(
        'ERR_BOX_BOOT',
        `dom0 was not ready after ${limit / 1000} s; QEMU (pid ${st.pid}) was killed`,
        serialTail(st.serialLog),
        { pid: st.pid, timedOut: true },
      );
    }
    await sleep(POLL_MS * 2);
  }
}
