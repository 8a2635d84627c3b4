// Guest introspection for debuggers: vCPU registers (what `xenctx` prints), guest memory by
// virtual or guest-physical address, and Xen's debug keys. The native side makes the
// libxenctrl calls; the checks, the register layout users see, and the gdb stub
// (gdbstub.ts) are here.
import type { DomainHandle } from '../core/context';
import { badNumber, invalidArg, outOfRange, XenError } from '../core/errors';
import type { NativeContext } from '../core/native';

/** Registers of a 64-bit vCPU: what `xenctx` prints. Selectors are the 16-bit values. */
export interface VcpuRegisters {
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  rbp: bigint;
  rsp: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
  rip: bigint;
  rflags: bigint;
  cs: bigint;
  ss: bigint;
  ds: bigint;
  es: bigint;
  fs: bigint;
  gs: bigint;
  fs_base: bigint;
  /** The GS base in effect in kernel mode (PV: gs_base_kernel). */
  gs_base: bigint;
  /** The other GS base (PV: gs_base_user; HVM: the KERNEL_GS_BASE MSR, swapped by swapgs). */
  gs_base_user: bigint;
  cr0: bigint;
  cr2: bigint;
  /** PV: in Xen's format (the page directory's machine frame << 12). */
  cr3: bigint;
  cr4: bigint;
  dr0: bigint;
  dr1: bigint;
  dr2: bigint;
  dr3: bigint;
  dr6: bigint;
  dr7: bigint;
  /** HVM only: segment bases and EFER. */
  cs_base?: bigint;
  ss_base?: bigint;
  ds_base?: bigint;
  es_base?: bigint;
  efer?: bigint;
}
export type RegisterName = keyof VcpuRegisters;

export interface VcpuContext {
  /** 'pv' (64-bit) or 'hvm'. */
  kind: 'pv' | 'hvm';
  vcpu: number;
  registers: VcpuRegisters;
}

export interface MemoryOptions {
  /** The vCPU whose page tables translate a virtual address (default 0). */
  vcpu?: number;
  /** true (default): `addr` is virtual; false: guest-physical (HVM guests only). */
  virtual?: boolean;
}

/** At most this many bytes per readMemory/writeMemory call. */
export const MAX_MEMORY_IO = 1 << 20;

const ALL_REGISTERS: readonly RegisterName[] = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rbp',
  'rsp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
  'rip',
  'rflags',
  'cs',
  'ss',
  'ds',
  'es',
  'fs',
  'gs',
  'fs_base',
  'gs_base',
  'gs_base_user',
  'cr0',
  'cr2',
  'cr3',
  'cr4',
  'dr0',
  'dr1',
  'dr2',
  'dr3',
  'dr6',
  'dr7',
  'cs_base',
  'ss_base',
  'ds_base',
  'es_base',
  'efer',
];

/** Checks `vcpu` against the domain's vCPUs; returns the native context. @internal */
export async function checkVcpu(domain: DomainHandle, vcpu: unknown, op: string): Promise<NativeContext> {
  if (!Number.isInteger(vcpu) || (vcpu as number) < 0)
    throw badNumber(op, vcpu, `vcpu must be a non-negative integer, not ${String(vcpu)}`);
  const info = await domain.info();
  if ((vcpu as number) > info.vcpuMaxId) {
    throw new XenError(`${op}: domain ${domain.id} has vCPUs 0-${info.vcpuMaxId}, no vCPU ${String(vcpu)}`, {
      code: 'ERR_INVALID_ARG',
      op,
      errno: 22,
    });
  }
  return domain.ctx.native(op);
}

export async function vcpuContext(domain: DomainHandle, vcpu: number): Promise<VcpuContext> {
  const op = `registers of vCPU ${vcpu} of domain ${domain.id}`;
  const ctx = await checkVcpu(domain, vcpu, op);
  const r = ctx.vcpuRegisters(domain.id, vcpu);
  return { kind: r.kind, vcpu, registers: registerRecord(r) };
}

/** The native names/values pair as a record. */
function registerRecord(r: { names: string[]; values: BigUint64Array }): VcpuRegisters {
  const registers = {} as Record<string, bigint>;
  r.names.forEach((n, i) => {
    registers[n] = r.values[i];
  });
  return registers as unknown as VcpuRegisters;
}

/**
 * Registers of a vCPU the caller has checked, of a guest whose kind it knows: the gdb stub's
 * poll, which runs every few ms per vCPU while the guest runs, skips the checks. @internal
 */
export function pollRegisters(domain: DomainHandle, vcpu: number, kind: 'pv' | 'hvm'): VcpuRegisters {
  return registerRecord(
    domain.ctx.native(`registers of vCPU ${vcpu} of domain ${domain.id}`).vcpuRegisters(domain.id, vcpu, kind),
  );
}

export async function setVcpuRegisters(domain: DomainHandle, vcpu: number, regs: Partial<VcpuRegisters>): Promise<void> {
  const op = `set registers of vCPU ${vcpu} of domain ${domain.id}`;
  if (typeof regs !== 'object' || regs === null) throw invalidArg(op, 'registers must be an object of bigints');
  const names = Object.keys(regs);
  for (const n of names) {
    if (!ALL_REGISTERS.includes(n as RegisterName)) throw invalidArg(op, `unknown register ${n}`);
    const v = regs[n as RegisterName];
    if (typeof v !== 'bigint') throw invalidArg(op, `${n} must be a bigint in [0, 2^64)`);
    if (v < 0n || v >= 1n << 64n) throw outOfRange(op, `${n} must be a bigint in [0, 2^64)`);
  }
  const ctx = await checkVcpu(domain, vcpu, op);
  ctx.setVcpuRegisters(domain.id, vcpu, names, BigUint64Array.from(names.map((n) => regs[n as RegisterName]!)));
}

function address(op: string, addr: unknown): bigint {
  if (typeof addr === 'number' && Number.isSafeInteger(addr) && addr >= 0) return BigInt(addr);
  if (typeof addr === 'bigint' && addr >= 0n && addr < 1n << 64n) return addr;
  throw badNumber(op, addr, `address must be a non-negative safe integer or a bigint below 2^64, not ${String(addr)}`);
}

function memoryArgs(op: string, addr: unknown, len: number, opts: MemoryOptions): { at: bigint; vcpu: number; virt: boolean } {
  const at = address(op, addr);
  if (at + BigInt(len) > 1n << 64n) throw outOfRange(op, 'the range runs past the end of the address space');
  if (typeof opts !== 'object' || opts === null) throw invalidArg(op, 'options must be an object');
  const virt = opts.virtual ?? true;
  if (typeof virt !== 'boolean') throw invalidArg(op, 'virtual must be a boolean');
  return { at, vcpu: opts.vcpu ?? 0, virt };
}

export async function readMemory(
  domain: DomainHandle,
  addr: bigint | number,
  len: number,
  opts: MemoryOptions = {},
): Promise<Buffer> {
  const op = `read memory of domain ${domain.id}`;
  if (!Number.isInteger(len) || len < 0 || len > MAX_MEMORY_IO)
    throw badNumber(op, len, `length must be an integer in [0, ${MAX_MEMORY_IO}]`);
  const { at, vcpu, virt } = memoryArgs(op, addr, len, opts);
  const ctx = await checkVcpu(domain, vcpu, op);
  return ctx.guestMemory(domain.id, at, len, vcpu, virt) as Buffer;
}

export async function writeMemory(
  domain: DomainHandle,
  addr: bigint | number,
  data: Uint8Array,
  opts: MemoryOptions = {},
): Promise<void> {
  const op = `write memory of domain ${domain.id}`;
  if (!(data instanceof Uint8Array)) throw invalidArg(op, 'data must be a Buffer or Uint8Array');
  if (data.length > MAX_MEMORY_IO) throw outOfRange(op, `at most ${MAX_MEMORY_IO} bytes at a time`);
  const { at, vcpu, virt } = memoryArgs(op, addr, data.length, opts);
  const ctx = await checkVcpu(domain, vcpu, op);
  ctx.guestMemory(domain.id, at, Buffer.from(data.buffer, data.byteOffset, data.length), vcpu, virt);
}

/** `xl debug-keys`: keys are Xen's one-letter debug key handlers ('h' lists them). */
export function sendDebugKeys(ctx: NativeContext, keys: string): void {
  const op = `debug keys ${JSON.stringify(keys)}`;
  if (typeof keys !== 'string' || keys.length === 0 || keys.length > 256 || !/^[\x21-\x7e]+$/.test(keys)) {
    throw invalidArg(op, "keys must be 1-256 printable ASCII characters (Xen's debug key letters; `h` lists them)");
  }
  ctx.sendDebugKeys(keys);
}
