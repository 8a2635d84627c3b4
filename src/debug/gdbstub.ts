// A gdb remote-protocol server for a Xen guest (what gdbsx was, which Debian does not ship):
// vCPUs are gdb's threads; registers, memory, software breakpoints, continue, and a stop
// whenever the guest is paused.
//
// Breakpoints are not int3: without gdbsx support in the hypervisor (Debian's Xen 4.17 has
// none), Xen hands a guest's #BP to the guest itself, and a PV kernel oopses on it (seen in
// the box). Instead a breakpoint is `jmp .` (EB FE): the vCPU that reaches it spins there,
// the stub sees its rip on the breakpoint (polling), pauses the guest and reports the stop.
// Works the same for PV and HVM and needs nothing from Xen but register and memory access.
// Single-step is refused (E5f): TF's #DB also goes to the guest, and what Xen reports a
// finished step through (the gdbsx pause, or a vm_event monitor) is not there to see.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { DomainHandle } from '../core/context';
import { badNumber, invalidArg, XenError } from '../core/errors';
import { pollRegisters, readMemory, setVcpuRegisters, vcpuContext, VcpuRegisters, writeMemory } from './debug';

export interface GdbServerOptions {
  /** Address to listen on (default 127.0.0.1: the stub gives full control of the guest). */
  host?: string;
  /** Port (default 0: any free port; see `port` on the result). */
  port?: number;
  /** How often a running guest is checked for a stop, in ms (default 20). */
  pollMs?: number;
}

// gdb's amd64 register numbers without a target description: 16 general registers, rip,
// eflags (32 bits), then six selectors (32 bits each). The x87/SSE ones after them are
// left out of 'g' replies, and gdb shows them as unavailable.
const GDB_REGS: [keyof VcpuRegisters, number][] = [
  ['rax', 8],
  ['rbx', 8],
  ['rcx', 8],
  ['rdx', 8],
  ['rsi', 8],
  ['rdi', 8],
  ['rbp', 8],
  ['rsp', 8],
  ['r8', 8],
  ['r9', 8],
  ['r10', 8],
  ['r11', 8],
  ['r12', 8],
  ['r13', 8],
  ['r14', 8],
  ['r15', 8],
  ['rip', 8],
  ['rflags', 4],
  ['cs', 4],
  ['ss', 4],
  ['ds', 4],
  ['es', 4],
  ['fs', 4],
  ['gs', 4],
];
const SPIN = Buffer.from([0xeb, 0xfe]); // jmp . (rel8 -2)
// Signals in stop replies.
const SIGINT = 2;
const SIGTRAP = 5;
const SIGSTOP = 19;

function leHex(v: bigint, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++)
    s += Number((v >> BigInt(8 * i)) & 0xffn)
      .toString(16)
      .padStart(2, '0');
  return s;
}
function fromLeHex(h: string): bigint {
  let v = 0n;
  for (let i = h.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(parseInt(h.slice(i, i + 2), 16));
  return v;
}
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
/** A packet's checksum: its bytes summed modulo 256. */
function checksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum = (sum + body.charCodeAt(i)) & 0xff;
  return sum;
}
/** An error reply: E and the errno, in two hex digits. */
function errReply(e: unknown): string {
  const errno = e instanceof XenError && e.errno ? e.errno : e instanceof XenError && e.code === 'ERROR_DOMAIN_NOTFOUND' ? 3 : 14;
  return `E${hex2(errno & 0xff)}`;
}

/**
 * A listening stub for one guest. One gdb at a time; the guest is paused while gdb has it
 * stopped, and left running (breakpoints removed) when gdb detaches
 * or disconnects. Emits 'disconnect' when a gdb session has ended. Failed requests are E replies.
 */
export class GdbServer extends EventEmitter {
  private readonly server: net.Server;
  private session?: GdbSession;
  private disown: () => void = () => undefined;
  private bound!: net.AddressInfo; // kept: address() is null once closed

  private constructor(
    readonly domain: DomainHandle,
    private readonly pollMs: number,
  ) {
    super();
    this.server = net.createServer((sock) => {
      if (this.session) {
        sock.end('-'); // busy: one debugger at a time
        return;
      }
      const s = new GdbSession(domain, sock, pollMs);
      this.session = s;
      void s.start();
      sock.on('close', () => {
        void s.end().finally(() => {
          if (this.session === s) this.session = undefined;
          this.emit('disconnect');
        });
      });
    });
  }

  static async listen(domain: DomainHandle, opts: GdbServerOptions = {}): Promise<GdbServer> {
    const op = `gdb server for domain ${domain.id}`;
    if (typeof opts !== 'object' || opts === null) throw invalidArg(op, 'options must be an object');
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    const pollMs = opts.pollMs ?? 20;
    if (typeof host !== 'string' || net.isIP(host) === 0) throw invalidArg(op, `host must be an IP address, not ${String(host)}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw badNumber(op, port, `port must be an integer in [0, 65535]`);
    if (!Number.isInteger(pollMs) || pollMs < 1 || pollMs > 10_000)
      throw badNumber(op, pollMs, 'pollMs must be an integer in [1, 10000]');
    await domain.info(); // the domain exists
    const s = new GdbServer(domain, pollMs);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new XenError(`${op}: cannot listen on ${host}:${port}: ${e.message}`, {
            code: 'ERR_STREAM',
            op,
            errno: typeof e.errno === 'number' ? Math.abs(e.errno) : undefined,
            cause: e,
          }),
        ),
      );
      s.server.listen(port, host, () => resolve());
    });
    s.bound = s.server.address() as net.AddressInfo;
    s.server.on('error', () => undefined); // after listening: per-connection trouble, not the process's
    // Closing the Host closes its stubs: a listening socket would keep the process alive, and a
    // session left on would leave its guest paused or with breakpoints in its code.
    s.disown = domain.ctx.own(() => s.close());
    return s;
  }

  /** The port it listens (or, once closed, listened) on. */
  get port(): number {
    return this.bound.port;
  }
  /** The address it listens (or listened) on. */
  get host(): string {
    return this.bound.address;
  }

  /** Stops listening, ends a connected gdb's session (the guest is left running). */
  async close(): Promise<void> {
    this.disown();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.session?.end();
    this.session?.destroy();
    await closed;
  }
}

/** One gdb connection. */
class GdbSession {
  private buf = '';
  private noAck = false;
  private thread = 0; // the vCPU that g/G/m/M/s refer to
  private readonly breakpoints = new Map<bigint, Buffer>(); // address → the 2 bytes the spin replaced
  private running = false;
  private interrupted = false;
  // gdb takes a SIGTRAP stop at attach as "stopped for the debugger", and does not try to
  // pass it back to the guest on continue (it would with SIGSTOP).
  private lastStop = `S${hex2(SIGTRAP)}`;
  // Left paused at detach only if it was paused before gdb came and gdb never resumed it.
  private leavePaused = false;
  private ended = false;
  private poll?: NodeJS.Timeout;
  private queue: Promise<void> = Promise.resolve();
  private kind: 'pv' | 'hvm' = 'pv';
  private vcpus = 1;
  /** The domid debugged: a restarted guest (same UUID, new domid) is a new session for gdb. */
  private domid = -1;

  constructor(
    private readonly domain: DomainHandle,
    private readonly sock: net.Socket,
    private readonly pollMs: number,
  ) {
    sock.setNoDelay(true);
    sock.on('error', () => undefined); // a gdb gone away: the 'close' that follows ends the session
  }

  async start(): Promise<void> {
    try {
      const info = await this.domain.info();
      this.domid = info.domid;
      this.vcpus = info.vcpuMaxId + 1;
      // Stop the guest for gdb (as gdbsx does on attach).
      this.leavePaused = info.paused;
      if (!info.paused) await this.domain.pause();
      this.kind = (await vcpuContext(this.domain, 0)).kind;
    } catch {
      this.sock.end(); // the domain is gone: gdb sees the connection close
      return;
    }
    this.sock.on('data', (d: Buffer) => this.onData(d.toString('latin1')));
  }

  destroy(): void {
    this.sock.destroy();
  }

  /** Ends the session from outside (gdb gone, server closed): after the request in progress. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.poll);
    const done = this.queue.catch(() => undefined).then(() => this.restore());
    this.queue = done;
    await done;
  }

  /** Ends the session from a request (D, k): runs inside the queue, so it must not wait on it. */
  private async endHere(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.poll);
    await this.restore();
  }

  /** Leaves the guest as gdb found it: breakpoints out, running. */
  private async restore(): Promise<void> {
    try {
      await this.removeAllBreakpoints();
      const info = await this.domain.info();
      if (info.domid === this.domid && info.paused && !this.leavePaused) await this.domain.unpause();
    } catch {
      /* the domain is gone, or the host closed */
    }
  }

  private onData(text: string): void {
    this.buf += text;
    for (;;) {
      // Acks and Ctrl-C may come between packets.
      const m = /^[+-]+/.exec(this.buf);
      if (m) this.buf = this.buf.slice(m[0].length);
      if (this.buf.startsWith('\x03')) {
        this.buf = this.buf.slice(1);
        this.enqueue(() => this.interrupt());
        continue;
      }
      const start = this.buf.indexOf('$');
      if (start < 0) {
        // eslint-disable-next-line no-control-regex -- \x03 is gdb's interrupt (Ctrl-C) byte
        if (!/^[+\-\x03]/.test(this.buf)) this.buf = '';
        return;
      }
      const hash = this.buf.indexOf('#', start);
      if (hash < 0 || this.buf.length < hash + 3) return;
      const body = this.buf.slice(start + 1, hash);
      const sum = parseInt(this.buf.slice(hash + 1, hash + 3), 16);
      this.buf = this.buf.slice(hash + 3);
      const mine = checksum(body);
      if (!this.noAck) this.sock.write(mine === sum ? '+' : '-');
      if (mine !== sum && !this.noAck) continue;
      this.enqueue(async () => {
        const reply = await this.handle(body);
        if (reply !== undefined) this.send(reply);
      });
    }
  }

  private enqueue(f: () => Promise<void>): void {
    this.queue = this.queue.then(f).catch(() => this.send('E0e'));
  }

  private send(body: string): void {
    if (this.sock.destroyed) return;
    this.sock.write(`$${body}#${hex2(checksum(body))}`);
  }

  private threadOf(id: string): number | undefined {
    if (id === '0' || id === '-1' || id === '') return this.thread;
    const n = parseInt(id, 16);
    return Number.isInteger(n) && n >= 1 && n <= this.vcpus ? n - 1 : undefined;
  }

  /** The reply to one packet; undefined: none yet (continue/step reply when the guest stops). */
  private async handle(p: string): Promise<string | undefined> {
    try {
      if (p.startsWith('qSupported')) return 'PacketSize=4000;QStartNoAckMode+';
      if (p === 'QStartNoAckMode') {
        this.send('OK');
        this.noAck = true;
        return undefined;
      }
      if (p === '?') return this.lastStop;
      if (p === 'qAttached') return '1';
      if (p === 'qC') return `QC${(this.thread + 1).toString(16)}`;
      if (p === 'qfThreadInfo') return 'm' + Array.from({ length: this.vcpus }, (_, i) => (i + 1).toString(16)).join(',');
      if (p === 'qsThreadInfo') return 'l';
      if (p.startsWith('qSymbol')) return 'OK';
      if (p[0] === 'H') {
        const t = this.threadOf(p.slice(2));
        if (t === undefined) return 'E16';
        if (p[1] === 'g' || p[1] === 'c') this.thread = t;
        return 'OK';
      }
      if (p[0] === 'T') return this.threadOf(p.slice(1)) === undefined ? 'E16' : 'OK';
      if (p === 'g') return await this.readRegisters();
      if (p[0] === 'G') return await this.writeRegisters(p.slice(1));
      if (p[0] === 'p') {
        const n = parseInt(p.slice(1), 16);
        if (!(n >= 0 && n < GDB_REGS.length)) return 'E16';
        const r = (await vcpuContext(this.domain, this.thread)).registers;
        return leHex(r[GDB_REGS[n][0]] ?? 0n, GDB_REGS[n][1]);
      }
      if (p[0] === 'P') {
        const [n, v] = p.slice(1).split('=');
        const i = parseInt(n, 16);
        if (!(i >= 0 && i < GDB_REGS.length) || !v) return 'E16';
        await setVcpuRegisters(this.domain, this.thread, { [GDB_REGS[i][0]]: fromLeHex(v) });
        return 'OK';
      }
      if (p[0] === 'm') {
        const [a, l] = p.slice(1).split(',');
        return (await this.readMem(BigInt(`0x${a}`), parseInt(l, 16))).toString('hex');
      }
      if (p[0] === 'M') {
        const [range, data] = p.slice(1).split(':');
        const [a] = range.split(',');
        await this.writeMem(BigInt(`0x${a}`), Buffer.from(data ?? '', 'hex'));
        return 'OK';
      }
      if (p.startsWith('Z0,')) return await this.insertBreakpoint(BigInt(`0x${p.split(',')[1]}`));
      if (p.startsWith('z0,')) return await this.removeBreakpoint(BigInt(`0x${p.split(',')[1]}`));
      if (p[0] === 'c' || p[0] === 's' || p[0] === 'C' || p[0] === 'S') {
        // C/S carry a signal for the guest: a guest kernel has no signals to deliver; ignored.
        const addr = p[0] === 'c' || p[0] === 's' ? p.slice(1) : p.split(';')[1];
        if (addr) await setVcpuRegisters(this.domain, this.thread, { rip: BigInt(`0x${addr}`) });
        await this.resume(p[0] === 's' || p[0] === 'S');
        return undefined;
      }
      if (p === 'D' || p.startsWith('D;')) {
        await this.endHere();
        this.send('OK');
        this.sock.end();
        return undefined;
      }
      if (p === 'k') {
        await this.endHere();
        this.sock.end();
        return undefined;
      }
      return ''; // not supported: gdb falls back (X → M, vCont → c/s) or reports it
    } catch (e) {
      return errReply(e);
    }
  }

  private async readRegisters(): Promise<string> {
    const r = (await vcpuContext(this.domain, this.thread)).registers;
    return GDB_REGS.map(([n, b]) => leHex(r[n] ?? 0n, b)).join('');
  }

  private async writeRegisters(h: string): Promise<string> {
    const regs: Partial<VcpuRegisters> = {};
    let off = 0;
    for (const [n, b] of GDB_REGS) {
      if (off + 2 * b > h.length) break;
      const part = h.slice(off, off + 2 * b);
      off += 2 * b;
      if (/^x+$/.test(part)) continue; // unavailable: unchanged
      regs[n] = fromLeHex(part);
    }
    await setVcpuRegisters(this.domain, this.thread, regs);
    return 'OK';
  }

  /** Memory as gdb should see it: the original bytes where our breakpoints are. */
  private async readMem(at: bigint, len: number): Promise<Buffer> {
    const data = await readMemory(this.domain, at, Math.min(len, 0x2000), { vcpu: this.thread });
    for (const [bp, orig] of this.breakpoints) {
      for (let i = 0; i < orig.length; i++) {
        const a = bp + BigInt(i);
        if (a >= at && a < at + BigInt(data.length)) data[Number(a - at)] = orig[i];
      }
    }
    return data;
  }

  private async writeMem(at: bigint, data: Buffer): Promise<void> {
    const out = Buffer.from(data);
    for (const [bp, orig] of this.breakpoints) {
      for (let i = 0; i < orig.length; i++) {
        const a = bp + BigInt(i);
        if (a >= at && a < at + BigInt(out.length)) {
          orig[i] = out[Number(a - at)]; // gdb's write lands under the breakpoint
          out[Number(a - at)] = SPIN[i];
        }
      }
    }
    await writeMemory(this.domain, at, out, { vcpu: this.thread });
  }

  private async insertBreakpoint(at: bigint): Promise<string> {
    if (this.breakpoints.has(at)) return 'OK';
    for (const bp of this.breakpoints.keys()) if (at > bp - 2n && at < bp + 2n) return 'E10'; // overlapping: EBUSY
    // A vCPU about to run the byte after `at` (a 1-byte instruction there: hlt, ret, push…) would
    // run the breakpoint's second byte as an instruction: refused (EBUSY), the guest untouched.
    for (let v = 0; v < this.vcpus; v++) {
      const r = (await vcpuContext(this.domain, v)).registers;
      if (r.rip === at + 1n || (r.cs_base !== undefined && r.cs_base + r.rip === at + 1n)) return 'E10';
    }
    const orig = await readMemory(this.domain, at, SPIN.length, { vcpu: this.thread });
    await writeMemory(this.domain, at, SPIN, { vcpu: this.thread });
    this.breakpoints.set(at, orig);
    return 'OK';
  }

  private async removeBreakpoint(at: bigint): Promise<string> {
    const orig = this.breakpoints.get(at);
    if (orig === undefined) return 'OK';
    await writeMemory(this.domain, at, orig, { vcpu: this.thread });
    this.breakpoints.delete(at);
    return 'OK';
  }

  private async removeAllBreakpoints(): Promise<void> {
    for (const at of [...this.breakpoints.keys()]) await this.removeBreakpoint(at);
  }

  private async resume(step: boolean): Promise<void> {
    if (step) {
      // Xen's own stepping (XEN_DOMCTL_debug_op, VMX only) ends in a pause for a gdbsx debugger
      // or a vm_event monitor: without either (Debian's Xen has no gdbsx) nothing would stop.
      const op = `single-step vCPU ${this.thread} of domain ${this.domain.id}`;
      throw new XenError(
        `${op}: not possible without gdbsx support in Xen (the ${this.kind.toUpperCase()} guest's #DB goes to the guest)`,
        { code: 'ERR_UNSUPPORTED', op, errno: 95 },
      );
    }
    this.interrupted = false;
    this.running = true;
    this.leavePaused = false;
    await this.domain.unpause();
    this.schedulePoll();
  }

  /** One check at a time, each after the last (a slow check never piles up). */
  private schedulePoll(): void {
    this.poll = setTimeout(
      () =>
        this.enqueue(async () => {
          await this.checkStopped();
          if (this.running && !this.ended) this.schedulePoll();
        }),
      this.pollMs,
    );
  }

  private async interrupt(): Promise<void> {
    if (!this.running) return;
    this.interrupted = true;
    await this.domain.pause().catch(() => undefined);
    await this.checkStopped();
  }

  /** While running: has a vCPU reached a breakpoint, or the guest stopped or gone? */
  private async checkStopped(): Promise<void> {
    if (!this.running) return;
    let info;
    try {
      info = await this.domain.info();
    } catch {
      this.stopped('X09'); // the domain is gone (destroyed): gdb's "killed"
      this.sock.end();
      return;
    }
    if (info.domid !== this.domid || info.dying || (info.shutdown && !info.paused)) {
      this.stopped('X09');
      this.sock.end();
      return;
    }
    // The domain was just found alive (same uuid), its vCPUs and kind known since attach: one
    // register read per vCPU, nothing re-checked.
    for (let v = 0; v < this.vcpus && this.breakpoints.size > 0; v++) {
      const r = pollRegisters(this.domain, v, this.kind);
      // In an HVM guest's real mode, gdb's addresses are linear: CS's base plus IP.
      if (this.breakpoints.has(r.rip) || (r.cs_base !== undefined && this.breakpoints.has(r.cs_base + r.rip))) {
        if (!info.paused) await this.domain.pause();
        this.thread = v;
        this.stopped(`T${hex2(SIGTRAP)}thread:${(v + 1).toString(16)};`);
        return;
      }
    }
    if (!info.paused) return;
    this.stopped(`T${hex2(this.interrupted ? SIGINT : SIGSTOP)}thread:${(this.thread + 1).toString(16)};`);
  }

  private stopped(reply: string): void {
    this.running = false;
    clearTimeout(this.poll);
    this.poll = undefined;
    this.lastStop = reply;
    this.send(reply);
  }
}
