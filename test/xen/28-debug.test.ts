// Debugging (issue #11): vCPU registers against xenctx, guest memory, debug keys through the
// incremental dmesg reader, and the gdb stub driven by Debian's gdb in batch mode — a PV
// guest (the box's Debian kernel) and an HVM guest (the idle CD's real-mode halt loop).
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { promisify } from 'node:util';
import { Domain, GdbServer, Host, XenError } from '../../src';
import { consoleLogPath, hvmGuestConfig, waitForHvmIdle } from '../../src/box/guests';
import { IDLE_BOOT_CODE } from '../../src/box/images';
import { useHost } from '../support/host';
import { xenLibexec } from '../support/xen-version';
import { isXenError, sleep, until, xl, xlBootPvGuest, xlCreate, xlList } from '../support/xl';

const run = promisify(execFile);
const XENCTX = `${xenLibexec()}/xenctx`;

/** xenctx's "name: hexvalue" pairs (and flags, selectors, fs/gs bases, the code bytes at rip). */
function xenctx(domid: number, vcpu = 0): { regs: Record<string, bigint>; code: Buffer; text: string } {
  const text = execFileSync(XENCTX, ['-a', String(domid), String(vcpu)], { encoding: 'utf8' });
  const regs: Record<string, bigint> = {};
  // HVM in real or protected mode: 32-bit names, "cs:eip: 0000:00007c16".
  for (const m of text.matchAll(/\b([cs]s):(e[a-z]{2}): ([0-9a-f]+):([0-9a-f]+)/g)) {
    regs[m[1]] ??= BigInt(`0x${m[3]}`);
    regs[`r${m[2].slice(1)}`] ??= BigInt(`0x${m[4]}`);
  }
  for (const m of text.matchAll(/\b(e[a-z]{2}): ([0-9a-f]+)\b/g)) regs[`r${m[1].slice(1)}`] ??= BigInt(`0x${m[2]}`);
  for (const m of text.matchAll(/\b(r[a-z0-9]+|[a-z]{2}|cr\d|dr\d|flags): ([0-9a-f]+)\b/g)) regs[m[1]] ??= BigInt(`0x${m[2]}`);
  const fs = /\bfs: [0-9a-f]+ @ ([0-9a-f]+)/.exec(text);
  const gs = /\bgs: [0-9a-f]+ @ ([0-9a-f]+)\/([0-9a-f]+)/.exec(text);
  if (fs) regs.fs_base = BigInt(`0x${fs[1]}`);
  if (gs) {
    regs.gs_base = BigInt(`0x${gs[1]}`);
    regs.gs_base_user = BigInt(`0x${gs[2]}`);
  }
  // "Code (instr addr …)" then bytes with the one at rip in <>: from there on.
  const code = /Code \(instr addr [0-9a-f]+\)\n([^\n]*)/.exec(text)?.[1] ?? '';
  const fromRip = code.slice(code.indexOf('<')).replace(/[<>]/g, '').trim().split(/\s+/).filter(Boolean);
  return { regs, code: Buffer.from(fromRip.join(''), 'hex'), text };
}

/** Runs gdb in batch mode with these commands; its stdout and stderr together. */
async function gdb(port: number, cmds: string[], timeoutMs = 120_000): Promise<string> {
  const args = ['-nx', '-batch', '-ex', 'set architecture i386:x86-64', '-ex', `target remote 127.0.0.1:${port}`];
  for (const c of cmds) args.push('-ex', c);
  const { stdout, stderr } = await run('gdb', args, { timeout: timeoutMs, encoding: 'utf8' });
  return stdout + stderr;
}

/** `info registers` lines of gdb: name → value. */
function gdbRegs(out: string): Record<string, bigint> {
  const r: Record<string, bigint> = {};
  for (const m of out.matchAll(/^(\w+)\s+0x([0-9a-f]+)\s/gm)) r[m[1]] = BigInt(`0x${m[2]}`);
  return r;
}

/** gdb's x/Nxb output from `addr` on: the bytes of that line and of the lines that follow it. */
function gdbBytes(out: string, addr: bigint): Buffer {
  const bytes: number[] = [];
  let on = false;
  for (const line of out.split('\n')) {
    const m = /^0x([0-9a-f]+)(?: <[^>]*>)?:((?:\s+0x[0-9a-f]{2})+)\s*$/.exec(line);
    if (m && BigInt(`0x${m[1]}`) === addr) on = true;
    else if (!m) on = false;
    if (on && m) for (const b of m[2].trim().split(/\s+/)) bytes.push(parseInt(b, 16));
  }
  return Buffer.from(bytes);
}

const kallsym = (name: string): bigint => {
  const line = fs
    .readFileSync('/proc/kallsyms', 'utf8')
    .split('\n')
    .find((l) => l.endsWith(` ${name}`));
  assert.ok(line, `${name} in dom0's /proc/kallsyms`);
  return BigInt(`0x${line.split(' ')[0]}`);
};

/** A breakpoint of the stub as it sits in the guest's code: `jmp .`. */
const SPIN = Buffer.from([0xeb, 0xfe]);

/**
 * Runs `fn` once gdb has set a breakpoint at `bp` and continued the guest: the stub's spin
 * (EB FE) is in the guest's code and the guest runs. Both hold until the breakpoint is hit,
 * so polling cannot miss them (gdb's attach-time pause can be shorter than a poll).
 */
async function whenBreakpointSet(d: Domain, bp: bigint, fn: () => void, ms = 120_000): Promise<void> {
  await until(
    'gdb continued with the breakpoint in place',
    async () => (await d.readMemory(bp, 2)).equals(SPIN) && !(await d.info()).paused,
    ms,
  );
  fn();
}

const state = (domid: number) => xlList().find((r) => r.id === domid)?.state ?? 'gone';

/** A raw gdb protocol client, for requests gdb itself would not send. */
class RawGdb {
  private buf = '';
  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
    });
  }
  static async connect(port: number): Promise<RawGdb> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r, j) => sock.once('connect', r).once('error', j));
    return new RawGdb(sock);
  }
  send(body: string): void {
    let sum = 0;
    for (const c of body) sum = (sum + c.charCodeAt(0)) & 0xff;
    this.sock.write(`$${body}#${sum.toString(16).padStart(2, '0')}`);
  }
  /** The next reply packet's body. */
  async reply(ms = 30_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const m = /^\+*\$([^#]*)#[0-9a-f]{2}/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        this.sock.write('+');
        return m[1];
      }
      if (Date.now() > end) throw new Error(`no reply (have ${JSON.stringify(this.buf)})`);
      await sleep(20);
    }
  }
  async ask(body: string): Promise<string> {
    this.send(body);
    return this.reply();
  }
  get closed(): boolean {
    return this.sock.destroyed || this.sock.readableEnded;
  }
  close(): void {
    this.sock.destroy();
  }
}

describe('debugging: registers, memory, debug keys, a gdb stub (issue #11)', function () {
  this.timeout(300_000);
  const ctx = useHost();
  let pv: Domain;
  let hvm: Domain;

  before(async function () {
    pv = await ctx.host.domain(await xlBootPvGuest({ name: 'dbg-pv' }));
    const hvmId = await xlCreate(hvmGuestConfig({ name: 'dbg-hvm' }), 'dbg-hvm');
    await waitForHvmIdle(hvmId);
    hvm = await ctx.host.domain(hvmId);
  });

  it('vcpuContext of a paused PV guest: every register xenctx prints, the same value; code at rip as xenctx shows it', async function () {
    xl('pause', String(pv.id));
    try {
      const c = await pv.vcpuContext(0);
      assert.equal(c.kind, 'pv');
      const x = xenctx(pv.id);
      const names = [
        'rip',
        'rsp',
        'rax',
        'rbx',
        'rcx',
        'rdx',
        'rsi',
        'rdi',
        'rbp',
        'r8',
        'r9',
        'r10',
        'r11',
        'r12',
        'r13',
        'r14',
        'r15',
        'cs',
        'ss',
        'ds',
        'es',
        'cr0',
        'cr2',
        'cr3',
        'cr4',
        'dr6',
        'dr7',
        'fs_base',
        'gs_base',
        'gs_base_user',
      ] as const;
      for (const n of names)
        assert.equal(c.registers[n], x.regs[n], `${n}: ours ${c.registers[n]?.toString(16)}, xenctx ${x.regs[n]?.toString(16)}`);
      assert.equal(c.registers.rflags, x.regs.flags);
      assert.ok(c.registers.rip >= 0xffffffff80000000n, 'a kernel address');
      assert.ok(x.code.length >= 4);
      assert.deepEqual(await pv.readMemory(c.registers.rip, x.code.length), x.code);
    } finally {
      xl('unpause', String(pv.id));
    }
  });

  it('HVM: vcpuContext agrees with xenctx; the guest sits in its real-mode halt loop, whose code readMemory reads by virtual and by physical address', async function () {
    xl('pause', String(hvm.id));
    try {
      const c = await hvm.vcpuContext(0);
      assert.equal(c.kind, 'hvm');
      const x = xenctx(hvm.id);
      for (const n of [
        'rip',
        'rsp',
        'rax',
        'rbx',
        'rcx',
        'rdx',
        'rsi',
        'rdi',
        'rbp',
        'cs',
        'ss',
        'cr0',
        'cr3',
        'cr4',
        'dr6',
        'dr7',
      ] as const) {
        assert.equal(
          c.registers[n],
          x.regs[n],
          `${n}: ours ${c.registers[n]?.toString(16)}, xenctx ${x.regs[n]?.toString(16)}\n${x.text}`,
        );
      }
      assert.equal(c.registers.rflags, x.regs.flags);
      assert.equal(c.registers.cr0! & 1n, 0n, 'real mode (CR0.PE clear)');
      const linear = c.registers.cs_base! + c.registers.rip;
      assert.ok(linear === 0x7c15n || linear === 0x7c16n, `in the hlt loop at 7c15/7c16, not ${linear.toString(16)}`);
      const boot = Buffer.from(IDLE_BOOT_CODE);
      assert.deepEqual(await hvm.readMemory(0x7c00, boot.length, { virtual: false }), boot);
      assert.deepEqual(await hvm.readMemory(0x7c00n, boot.length), boot);
      // A write lands where reads see it (a spare byte after the code, in the guest's free memory).
      const at = 0x7e00n;
      const before = await hvm.readMemory(at, 4, { virtual: false });
      await hvm.writeMemory(at, Buffer.from('xlgt'));
      assert.equal((await hvm.readMemory(at, 4, { virtual: false })).toString(), 'xlgt');
      await hvm.writeMemory(at, before, { virtual: false });
    } finally {
      xl('unpause', String(hvm.id));
    }
  });

  it('bad input: unknown vCPU, unmapped and unreachable addresses, bad registers, a destroyed domain: typed XenErrors', async function () {
    await assert.rejects(pv.vcpuContext(5), isXenError('ERR_INVALID_ARG', /has vCPUs 0-0, no vCPU 5/));
    await assert.rejects(pv.vcpuContext(-1), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(
      pv.readMemory(0x1000n, 4),
      (e: unknown) =>
        e instanceof XenError && e.code === 'ERR_UNMAPPED' && /0x1000 is not mapped in vCPU 0's page tables/.test(e.message),
    );
    await assert.rejects(
      pv.readMemory(0x1000, 4, { virtual: false }),
      isXenError('ERR_UNSUPPORTED', /PV guest's memory is read by virtual address/),
    );
    await assert.rejects(pv.readMemory(0, 2 ** 21), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(pv.readMemory(-1, 1), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(pv.readMemory(2n ** 64n - 1n, 2), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(pv.setVcpuRegisters(0, { rip: -1n }), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(pv.setVcpuRegisters(0, { nope: 1n } as never), isXenError('ERR_INVALID_ARG', /unknown register nope/));
    await assert.rejects(pv.setVcpuRegisters(0, { efer: 1n }), isXenError('ERR_INVALID_ARG', /a PV guest has no register efer/));
    // HVM: guest-physical beyond its memory.
    await assert.rejects(hvm.readMemory(0xfff00000000n, 4, { virtual: false }), isXenError('ERR_UNMAPPED', /cannot be mapped/));
    const gone = await ctx.host.domain(await xlCreate(hvmGuestConfig({ name: 'dbg-gone' }), 'dbg-gone'));
    xl('destroy', String(gone.id));
    await assert.rejects(gone.vcpuContext(0), isXenError('ERROR_DOMAIN_NOTFOUND'));
    await assert.rejects(gone.readMemory(0x7c00, 1), isXenError('ERROR_DOMAIN_NOTFOUND'));
    await assert.rejects(gone.gdbServer(), isXenError('ERROR_DOMAIN_NOTFOUND'));
    assert.equal(state(pv.id).includes('p'), false);
  });

  it("sendDebugKeys('q'): Xen's domain dump appears in dmesg, read through the incremental reader", async function () {
    const reader = ctx.host.dmesgReader();
    reader.read();
    await ctx.host.sendDebugKeys('q');
    let lines: string[] = [];
    await until(
      'the q dump in dmesg',
      () => {
        lines.push(...reader.read());
        return lines.some((l) => l.includes(`General information for domain ${pv.id}:`));
      },
      10_000,
    );
    lines = lines.filter((l) => l.startsWith('(XEN) '));
    assert.ok(
      lines.some((l) => /'q' pressed -> dumping domain info/.test(l)),
      lines.slice(0, 5).join('\n'),
    );
    assert.ok(xl('dmesg').includes(`General information for domain ${hvm.id}:`));
    await assert.rejects(ctx.host.sendDebugKeys(''), isXenError('ERR_INVALID_ARG'));
    await assert.rejects(ctx.host.sendDebugKeys('q\n'), isXenError('ERR_INVALID_ARG'));
  });

  it('gdb and `xenlight gdbsx` on the PV guest: registers and memory agree with vcpuContext; a breakpoint stops the kernel there; stepi refused; detach leaves it running', async function () {
    // 1. The CLI's stub, the guest paused beforehand (so it stays paused for the comparison).
    xl('pause', String(pv.id));
    const c = await pv.vcpuContext(0);
    const cli = execFile('node', ['dist/cli/main.js', 'gdbsx', String(pv.id), '0', '--once'], { encoding: 'utf8' });
    let out1: string;
    try {
      let cliOut = '';
      cli.stdout!.on('data', (d: string) => {
        cliOut += d;
      });
      const exited = new Promise<number | null>((r) => cli.on('exit', r));
      await until('gdbsx listening', () => /listening on 127\.0\.0\.1:\d+/.test(cliOut), 30_000);
      const port = Number(/:(\d+) for gdb/.exec(cliOut)![1]);
      out1 = await gdb(port, ['info registers rip rsp rax rbx rcx rdx r11 eflags cs ss', 'x/16xb $rip', 'detach']);
      assert.equal(await exited, 0, 'gdbsx --once exits when gdb detaches');
    } finally {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill(); // a failed step must not leave it running
    }
    const g = gdbRegs(out1);
    for (const n of ['rip', 'rsp', 'rax', 'rbx', 'rcx', 'rdx', 'r11', 'cs', 'ss'] as const)
      assert.equal(g[n], c.registers[n], `${n}\n${out1}`);
    assert.equal(g.eflags, c.registers.rflags);
    assert.deepEqual(gdbBytes(out1, c.registers.rip), await pv.readMemory(c.registers.rip, 16));
    assert.ok(state(pv.id).includes('p'), 'paused before gdb came: still paused');
    xl('unpause', String(pv.id));

    // 2. The API's stub: a breakpoint in the kernel's sysrq handler (the guest runs dom0's
    // kernel image, and a PV kernel is not relocated: dom0's address is the guest's).
    const bp = kallsym('__handle_sysrq');
    const orig = await pv.readMemory(bp, 2);
    const server = await pv.gdbServer();
    let out2: string;
    try {
      assert.equal(server.host, '127.0.0.1');
      const trigger = whenBreakpointSet(pv, bp, () => xl('sysrq', String(pv.id), 'h'));
      trigger.catch(() => server.close()); // gdb would wait for the breakpoint until its time-out
      const session = gdb(server.port, [
        `break *0x${bp.toString(16)}`,
        'continue',
        'info registers rip',
        'x/2xb $rip',
        'stepi',
        'delete',
        'detach',
      ]);
      // Both settle before the test goes on (a failed wait must not leave gdb running).
      const [t, g] = await Promise.allSettled([trigger, session]);
      if (t.status === 'rejected') throw t.reason;
      if (g.status === 'rejected') throw g.reason;
      out2 = g.value;
    } finally {
      await server.close();
    }
    assert.match(out2, new RegExp(`Breakpoint 1, 0x0*${bp.toString(16)} in`), out2);
    assert.equal(gdbRegs(out2).rip, bp);
    assert.deepEqual(gdbBytes(out2, bp), orig, 'gdb sees the original bytes under the breakpoint');
    assert.match(out2, /Remote failure reply: E5f/, 'stepi: EOPNOTSUPP (single-step needs gdbsx in Xen)');
    // Detached: running, the kernel's code as it was, and the sysrq handled once resumed.
    await until('the guest running after detach', () => !state(pv.id).includes('p'), 10_000);
    assert.deepEqual(await pv.readMemory(bp, 2), orig);
    await until(
      'sysrq help on the console',
      () => /sysrq: HELP/.test(fs.readFileSync(consoleLogPath('dbg-pv'), 'latin1')),
      30_000,
    );
    assert.doesNotMatch(fs.readFileSync(consoleLogPath('dbg-pv'), 'latin1'), /int3|Oops|BUG/);
  });

  it('gdb on the HVM guest: a breakpoint whose second byte the halted vCPU would run next is refused; stepi refused (EOPNOTSUPP); the guest runs on untouched', async function () {
    // The halted vCPU's rip is 7c16, just past the 1-byte hlt at 7c15: a 2-byte breakpoint at
    // 7c15 would have it run the breakpoint's second byte. gdb steps over a breakpoint at rip
    // itself, which needs single-step: refused (Xen has no way to report a finished step to us).
    const server = await hvm.gdbServer();
    const out = await gdb(server.port, [
      'info registers rip',
      'break *0x7c15',
      'continue',
      'delete',
      'stepi',
      'x/3xb 0x7c15',
      'detach',
    ]);
    await server.close();
    assert.equal(gdbRegs(out).rip, 0x7c16n, out);
    assert.match(out, /Cannot insert breakpoint 1/, out);
    assert.match(out, /Remote failure reply: E5f/, out);
    assert.deepEqual(gdbBytes(out, 0x7c15n), Buffer.from([0xf4, 0xeb, 0xfd]));
    await until('the guest running after detach', () => !state(hvm.id).includes('p'), 10_000);
    assert.deepEqual(await hvm.readMemory(0x7c00, IDLE_BOOT_CODE.length, { virtual: false }), Buffer.from(IDLE_BOOT_CODE));
  });

  it("Host.close() closes its domains' gdb servers: the session ends, breakpoints out, the guest running, the port closed", async function () {
    const other = await Host.open();
    const d = await other.domain(pv.id);
    const server = await d.gdbServer();
    const a = await RawGdb.connect(server.port);
    assert.equal(await a.ask('?'), 'S05');
    const bp = kallsym('__handle_sysrq');
    const orig = await pv.readMemory(bp, 2);
    assert.equal(await a.ask(`Z0,${bp.toString(16)},1`), 'OK');
    assert.deepEqual(await pv.readMemory(bp, 2), SPIN, 'the breakpoint is in');
    assert.ok((await pv.info()).paused, 'stopped for gdb');
    await other.close();
    assert.deepEqual(await pv.readMemory(bp, 2), orig, 'the breakpoint is out');
    assert.equal((await pv.info()).paused, false, 'running again');
    await until('the gdb connection closed', () => a.closed, 10_000);
    a.close();
    const refused = await new Promise<string>((r) =>
      net
        .connect(server.port, '127.0.0.1')
        .on('connect', () => r('connected'))
        .on('error', (e: NodeJS.ErrnoException) => r(e.code ?? '')),
    );
    assert.equal(refused, 'ECONNREFUSED');
    await server.close(); // closing again is harmless
    await assert.rejects(d.info(), isXenError('ERR_CLOSED'));
  });

  it('the stub under bad requests: E replies, one gdb at a time, a domain destroyed under it ends the session; the process lives on', async function () {
    const server: GdbServer = await hvm.gdbServer();
    const a = await RawGdb.connect(server.port);
    assert.equal(await a.ask('?'), 'S05');
    assert.match(await a.ask('qfThreadInfo'), /^m1$/);
    assert.equal(await a.ask('Hg5'), 'E16', 'no vCPU 4');
    assert.equal(await a.ask('p99'), 'E16');
    assert.match(await a.ask('m100000000000,4'), /^E[0-9a-f]{2}$/, 'an unmapped address');
    assert.equal(await a.ask('vMustReplyEmpty'), '');
    assert.match(await a.ask('g'), /^[0-9a-f]{16}/);
    // A second debugger is turned away.
    const b = net.connect(server.port, '127.0.0.1');
    const refused = await new Promise<string>((r) => {
      let s = '';
      b.on('data', (d) => {
        s += String(d);
      });
      b.on('close', () => r(s));
    });
    assert.equal(refused, '-');
    // Running, then destroyed: gdb is told the target was killed.
    a.send('c');
    await until('running', async () => !(await hvm.info()).paused, 10_000);
    xl('destroy', String(hvm.id));
    assert.equal(await a.reply(), 'X09');
    await until('the connection closed', () => a.closed, 10_000);
    a.close();
    await server.close();
    assert.deepEqual((await ctx.host.listDomains()).map((d) => d.domid).includes(hvm.id), false);
  });
});
