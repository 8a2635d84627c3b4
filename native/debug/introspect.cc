// Guest introspection for debuggers (what xenctx and gdbsx do, through libxenctrl): vCPU
// registers, guest memory by virtual or guest-physical address, and Xen's debug keys. Thin:
// the checks, the gdb protocol, breakpoints and stop detection live in src/debug/debug.ts and
// src/debug/gdbstub.ts. Each call is a few hypercalls on a paused guest, quick enough for the JS thread.
// xc_map_foreign_range: the compat API, one call per page mapping.
#define XC_WANT_COMPAT_MAP_FOREIGN_API
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/errors.h"

extern "C" {
#include <xen/hvm/save.h>
}

namespace {

constexpr uint64_t kPage = 4096;
// Reads and writes of one call stay small: a debugger asks for a few KiB at a time.
constexpr uint32_t kMaxIo = 1 << 20;

std::string Hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBigInt()) ThrowArgError(info, false, std::string(what) + " must be a bigint");
  bool lossless = false;
  uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) ThrowArgError(info, true, std::string(what) + " must fit in 64 bits, unsigned");
  return v;
}

// One register of either layout: its name, and where it lives in the PV or the HVM context.
struct Reg {
  const char* name;
  uint64_t* (*pv)(vcpu_guest_context_x86_64_t&);
  uint64_t* (*hvm)(hvm_hw_cpu&);
  unsigned bits;  // 16 or 32 for selectors stored in wider fields' low bits
};

#define PVU(f) [](vcpu_guest_context_x86_64_t& c) -> uint64_t* { return reinterpret_cast<uint64_t*>(&c.user_regs.f); }
#define PVF(f) [](vcpu_guest_context_x86_64_t& c) -> uint64_t* { return reinterpret_cast<uint64_t*>(&c.f); }
#define HV(f) [](hvm_hw_cpu& c) -> uint64_t* { return reinterpret_cast<uint64_t*>(&c.f); }
#define NONE_PV nullptr
#define NONE_HVM nullptr

// gdb's amd64 order first (general registers, rip, eflags, selectors), then the rest xenctx shows.
// clang-format off
const Reg kRegs[] = {
    {"rax", PVU(rax), HV(rax), 64}, {"rbx", PVU(rbx), HV(rbx), 64}, {"rcx", PVU(rcx), HV(rcx), 64},
    {"rdx", PVU(rdx), HV(rdx), 64}, {"rsi", PVU(rsi), HV(rsi), 64}, {"rdi", PVU(rdi), HV(rdi), 64},
    {"rbp", PVU(rbp), HV(rbp), 64}, {"rsp", PVU(rsp), HV(rsp), 64}, {"r8", PVU(r8), HV(r8), 64},
    {"r9", PVU(r9), HV(r9), 64}, {"r10", PVU(r10), HV(r10), 64}, {"r11", PVU(r11), HV(r11), 64},
    {"r12", PVU(r12), HV(r12), 64}, {"r13", PVU(r13), HV(r13), 64}, {"r14", PVU(r14), HV(r14), 64},
    {"r15", PVU(r15), HV(r15), 64}, {"rip", PVU(rip), HV(rip), 64}, {"rflags", PVU(rflags), HV(rflags), 64},
    {"cs", PVU(cs), HV(cs_sel), 16}, {"ss", PVU(ss), HV(ss_sel), 16}, {"ds", PVU(ds), HV(ds_sel), 16},
    {"es", PVU(es), HV(es_sel), 16}, {"fs", PVU(fs), HV(fs_sel), 16}, {"gs", PVU(gs), HV(gs_sel), 16},
    {"fs_base", PVF(fs_base), HV(fs_base), 64},
    {"gs_base", PVF(gs_base_kernel), HV(gs_base), 64},  // the active one in kernel mode
    {"gs_base_user", PVF(gs_base_user), HV(shadow_gs), 64},
    {"cr0", PVF(ctrlreg[0]), HV(cr0), 64}, {"cr2", PVF(ctrlreg[2]), HV(cr2), 64},
    {"cr3", PVF(ctrlreg[3]), HV(cr3), 64}, {"cr4", PVF(ctrlreg[4]), HV(cr4), 64},
    {"dr0", PVF(debugreg[0]), HV(dr0), 64}, {"dr1", PVF(debugreg[1]), HV(dr1), 64},
    {"dr2", PVF(debugreg[2]), HV(dr2), 64}, {"dr3", PVF(debugreg[3]), HV(dr3), 64},
    {"dr6", PVF(debugreg[6]), HV(dr6), 64}, {"dr7", PVF(debugreg[7]), HV(dr7), 64},
    {"cs_base", NONE_PV, HV(cs_base), 64}, {"ss_base", NONE_PV, HV(ss_base), 64},
    {"ds_base", NONE_PV, HV(ds_base), 64}, {"es_base", NONE_PV, HV(es_base), 64},
    {"efer", NONE_PV, HV(msr_efer), 64},
};
// clang-format on

uint64_t Get(const Reg& r, uint64_t* p) {
  if (r.bits == 16) return *reinterpret_cast<uint16_t*>(p);
  if (r.bits == 32) return *reinterpret_cast<uint32_t*>(p);
  return *p;
}
void Put(const Reg& r, uint64_t* p, uint64_t v) {
  if (r.bits == 16) *reinterpret_cast<uint16_t*>(p) = static_cast<uint16_t>(v);
  else if (r.bits == 32)
    *reinterpret_cast<uint32_t*>(p) = static_cast<uint32_t>(v);
  else
    *p = v;
}

}  // namespace

// The guest's kind as the debugger needs it: "hvm", or "pv" (64-bit; 32-bit PV is refused).
std::string Context::GuestKind(Call& call, uint32_t domid) {
  xc_interface* xch = Xc(call);
  xc_domaininfo_t di;
  int n = xc_domain_getinfolist(xch, domid, 1, &di);
  if (n < 0) call.FailErrno(ERROR_FAIL, errno);
  if (n == 0 || di.domain != domid) call.Fail("ERROR_DOMAIN_NOTFOUND", "no domain " + std::to_string(domid), ESRCH);
  if (di.flags & XEN_DOMINF_hvm_guest) return "hvm";
  unsigned int width = 0;
  if (xc_domain_get_guest_width(xch, domid, &width)) call.FailErrno(ERROR_FAIL, errno);
  if (width != 8)
    call.Fail("ERR_UNSUPPORTED",
              "domain " + std::to_string(domid) + " is a 32-bit PV guest: only 64-bit guests are supported");
  return "pv";
}

// domid, vcpu[, kind] → { kind, names: string[], values: BigUint64Array } (registers absent
// from the guest's kind are left out). A caller that knows the kind (the gdb stub's poll, every
// 20 ms per vCPU) passes it and saves the two hypercalls of looking it up.
Napi::Value Context::VcpuRegisters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t domid = ArgDomid(info, 0);
  uint32_t vcpu = ArgU32(info, 1, "vcpu", 4095);
  std::string known = info.Length() > 2 && !info[2].IsUndefined() ? ArgWord(info, 2, "kind", {"pv", "hvm"}) : "";
  Call call(this, env, "registers of vCPU " + std::to_string(vcpu) + " of domain " + std::to_string(domid));
  std::string kind = known.empty() ? GuestKind(call, domid) : known;
  std::vector<std::pair<const char*, uint64_t>> out;
  if (kind == "pv") {
    vcpu_guest_context_any_t ctx;
    if (xc_vcpu_getcontext(Xc(call), domid, vcpu, &ctx)) call.FailErrno(ERROR_FAIL, errno);
    for (const Reg& r : kRegs)
      if (r.pv) out.emplace_back(r.name, Get(r, r.pv(ctx.x64)));
  } else {
    hvm_hw_cpu cpu;
    if (xc_domain_hvm_getcontext_partial(Xc(call), domid, HVM_SAVE_CODE(CPU), vcpu, &cpu, sizeof cpu))
      call.FailErrno(ERROR_FAIL, errno);
    for (const Reg& r : kRegs)
      if (r.hvm) out.emplace_back(r.name, Get(r, r.hvm(cpu)));
  }
  Napi::Array names = Napi::Array::New(env, out.size());
  Napi::BigUint64Array values = Napi::BigUint64Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); i++) {
    names.Set(i, out[i].first);
    values[i] = out[i].second;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", kind);
  o.Set("names", names);
  o.Set("values", values);
  return o;
}

// domid, vcpu, names: string[], values: BigUint64Array: sets those registers of a paused vCPU.
Napi::Value Context::SetVcpuRegisters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t domid = ArgDomid(info, 0);
  uint32_t vcpu = ArgU32(info, 1, "vcpu", 4095);
  if (info.Length() < 4 || !info[2].IsArray() || !info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
    ThrowArgError(info, false, "names must be an array and values a BigUint64Array");
  Napi::Array names = info[2].As<Napi::Array>();
  Napi::BigUint64Array values = info[3].As<Napi::BigUint64Array>();
  if (names.Length() != values.ElementLength()) ThrowArgError(info, true, "names and values differ in length");
  std::vector<std::pair<const Reg*, uint64_t>> set;
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value n = names.Get(i);
    if (!n.IsString()) ThrowArgError(info, false, "register names must be strings");
    std::string name = n.As<Napi::String>();
    const Reg* found = nullptr;
    for (const Reg& r : kRegs)
      if (name == r.name) found = &r;
    if (!found) ThrowArgError(info, true, "unknown register " + name);
    set.emplace_back(found, values[i]);
  }
  Call call(this, env, "set registers of vCPU " + std::to_string(vcpu) + " of domain " + std::to_string(domid));
  std::string kind = GuestKind(call, domid);
  xc_interface* xch = Xc(call);
  if (kind == "pv") {
    vcpu_guest_context_any_t ctx;
    if (xc_vcpu_getcontext(xch, domid, vcpu, &ctx)) call.FailErrno(ERROR_FAIL, errno);
    for (auto& [r, v] : set) {
      if (!r->pv) call.Fail("ERR_INVALID_ARG", std::string("a PV guest has no register ") + r->name);
      Put(*r, r->pv(ctx.x64), v);
    }
    if (xc_vcpu_setcontext(xch, domid, vcpu, &ctx)) call.FailErrno(ERROR_FAIL, errno);
    return env.Undefined();
  }
  // HVM: the whole context, with this vCPU's CPU record changed (Xen sets it as a unit).
  int size = xc_domain_hvm_getcontext(xch, domid, nullptr, 0);
  if (size <= 0) call.FailErrno(ERROR_FAIL, errno);
  std::vector<uint8_t> buf(size);
  size = xc_domain_hvm_getcontext(xch, domid, buf.data(), buf.size());
  if (size <= 0) call.FailErrno(ERROR_FAIL, errno);
  hvm_hw_cpu* cpu = nullptr;
  for (size_t off = 0; off + sizeof(hvm_save_descriptor) <= static_cast<size_t>(size);) {
    auto* d = reinterpret_cast<hvm_save_descriptor*>(&buf[off]);
    if (d->typecode == HVM_SAVE_CODE(END)) break;
    if (d->typecode == HVM_SAVE_CODE(CPU) && d->instance == vcpu && d->length >= sizeof(hvm_hw_cpu))
      cpu = reinterpret_cast<hvm_hw_cpu*>(&buf[off + sizeof(hvm_save_descriptor)]);
    off += sizeof(hvm_save_descriptor) + d->length;
  }
  if (!cpu)
    call.Fail("ERR_INVALID_ARG", "domain " + std::to_string(domid) + " has no vCPU " + std::to_string(vcpu), ENOENT);
  for (auto& [r, v] : set) {
    if (!r->hvm) call.Fail("ERR_INVALID_ARG", std::string("an HVM guest has no register ") + r->name);
    Put(*r, r->hvm(*cpu), v);
  }
  if (xc_domain_hvm_setcontext(xch, domid, buf.data(), size)) call.FailErrno(ERROR_FAIL, errno);
  return env.Undefined();
}

// domid, addr (bigint), length or Buffer, vcpu, virtual: reads (length) or writes (Buffer) guest
// memory page by page. Virtual addresses go through the vCPU's page tables (libxenctrl's
// walk); physical ones are HVM guest frames (a PV guest's pseudo-physical space has no such
// mapping here).
Napi::Value Context::GuestMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t domid = ArgDomid(info, 0);
  uint64_t addr = ArgU64(info, 1, "address");
  bool write = info.Length() > 2 && info[2].IsBuffer();
  uint32_t len = write ? info[2].As<Napi::Buffer<uint8_t>>().Length() : ArgU32(info, 2, "length", kMaxIo);
  if (len > kMaxIo) ThrowArgError(info, true, "at most 1 MiB at a time");
  uint32_t vcpu = ArgU32(info, 3, "vcpu", 4095);
  bool virt = ArgBool(info, 4, "virtual", true);
  if (addr + len < addr) ThrowArgError(info, true, "address range wraps around");
  Call call(this, env,
            std::string(write ? "write " : "read ") + std::to_string(len) + " bytes at " + Hex(addr) +
                (virt ? " (virtual, vCPU " + std::to_string(vcpu) + ")" : " (guest-physical)") + " of domain " +
                std::to_string(domid));
  std::string kind = GuestKind(call, domid);
  if (!virt && kind == "pv")
    call.Fail("ERR_UNSUPPORTED",
              "a PV guest's memory is read by virtual address (its physical frames are not mapped here)");
  xc_interface* xch = Xc(call);
  std::vector<uint8_t> data;
  uint8_t* src = nullptr;
  if (write) src = info[2].As<Napi::Buffer<uint8_t>>().Data();
  else
    data.resize(len);
  for (uint32_t done = 0; done < len;) {
    uint64_t at = addr + done;
    uint32_t in = static_cast<uint32_t>(std::min<uint64_t>(kPage - (at & (kPage - 1)), len - done));
    unsigned long frame;
    if (virt) {
      errno = 0;
      frame = xc_translate_foreign_address(xch, domid, vcpu, at);
      if (!frame)
        call.Fail("ERR_UNMAPPED", Hex(at) + " is not mapped in vCPU " + std::to_string(vcpu) + "'s page tables",
                  errno ? errno : EFAULT);
    } else {
      frame = at / kPage;
    }
    void* page = xc_map_foreign_range(xch, domid, kPage, write ? PROT_READ | PROT_WRITE : PROT_READ, frame);
    if (!page) call.Fail("ERR_UNMAPPED", "the frame of " + Hex(at) + " cannot be mapped", errno ? errno : EFAULT);
    uint8_t* p = static_cast<uint8_t*>(page) + (at & (kPage - 1));
    if (write) memcpy(p, src + done, in);
    else
      memcpy(&data[done], p, in);
    munmap(page, kPage);
    done += in;
  }
  if (write) return env.Undefined();
  return Napi::Buffer<uint8_t>::Copy(env, data.data(), data.size());
}

// keys: `xl debug-keys` (the output goes to the hypervisor's console ring).
Napi::Value Context::SendDebugKeys(const Napi::CallbackInfo& info) {
  std::string keys = ArgString(info, 0, "keys");
  Call call(this, info.Env(), "debug keys " + keys);
  int rc = libxl_send_debug_keys(ctx_, const_cast<char*>(keys.c_str()));
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}
