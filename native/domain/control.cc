// Domain control: destroy, pause, shutdown, reboot, rename, memory, vCPUs, sysrq, triggers,
// core dump, console.
#include <unistd.h>

#include <cerrno>

#include "core/context.h"
#include "core/operation.h"

// ---- control: libxl asynchronous operations, settled through the loop.

namespace {
// An ao on the JS thread's context for a libxl call of the form f(ctx, domid, ao_how).
using DomidAo = int (*)(libxl_ctx*, uint32_t, const libxl_asyncop_how*);
}  // namespace

#define XENLIGHT_DOMID_AO(Method, verb, fn)                                                       \
  Napi::Value Context::Method(const Napi::CallbackInfo& info) {                                   \
    uint32_t domid = ArgDomid(info, 0);                                                           \
    libxl_ctx* ctx = ctx_;                                                                        \
    DomidAo f = fn;                                                                               \
    return StartAo(info.Env(), verb " domain " + std::to_string(domid),                           \
                   [ctx, f, domid](const libxl_asyncop_how* how) { return f(ctx, domid, how); }); \
  }

XENLIGHT_DOMID_AO(Destroy, "destroy", libxl_domain_destroy)
XENLIGHT_DOMID_AO(Pause, "pause", libxl_domain_pause)
XENLIGHT_DOMID_AO(Unpause, "unpause", libxl_domain_unpause)
XENLIGHT_DOMID_AO(Shutdown, "shut down", libxl_domain_shutdown)
XENLIGHT_DOMID_AO(Reboot, "reboot", libxl_domain_reboot)

#ifdef XENLIGHT_HAVE_SUSPEND_ONLY
// `xl suspend` (xl 4.20): the guest suspends itself to RAM and stays there; resume() (`xl
// resume`, libxl_domain_resume with suspend_cancel) brings it back.
XENLIGHT_DOMID_AO(SuspendOnly, "suspend", libxl_domain_suspend_only)
#else
Napi::Value Context::SuspendOnly(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "suspend domain " + std::to_string(domid));
  call.Fail(ERROR_NI);
  return info.Env().Undefined();
}
#endif

Napi::Value Context::Rename(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string name = ArgString(info, 1, "name");
  Call call(this, info.Env(), "rename domain " + std::to_string(domid));
  int rc = libxl_domain_rename(ctx_, domid, nullptr, name.c_str());
  if (rc) call.Fail(rc);
  // xenstored delivers the name's watch event after the rename returns: the cached name must
  // not wait for it, or the next list could show the old name. (The event then re-reads it.)
  auto it = names_.find(domid);
  if (it != names_.end()) {
    it->second.name = name;
    it->second.valid = true;
  }
  return info.Env().Undefined();
}

// (domid, target KiB): `xl mem-set` (absolute, enforced).
Napi::Value Context::SetMemoryTarget(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  // Up to 2^42 KiB (4 PiB): far above any host, far below where libxl's arithmetic overflows.
  int64_t kb = ArgInt(info, 1, "memory (KiB)", 0, INT64_C(1) << 42);
  Call call(this, info.Env(), "set memory of domain " + std::to_string(domid));
  int rc = libxl_set_memory_target(ctx_, domid, kb, 0, 1);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::SetMaxMemory(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  uint64_t kb = static_cast<uint64_t>(ArgInt(info, 1, "maximum memory (KiB)", 0, INT64_C(1) << 42));
  Call call(this, info.Env(), "set maximum memory of domain " + std::to_string(domid));
  int rc = libxl_domain_setmaxmem(ctx_, domid, kb);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

// (domid, count): vCPUs 0..count-1 online, the rest offline (`xl vcpu-set`).
Napi::Value Context::SetVcpusOnline(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  // HVM_MAX_VCPUS is 128; 4096 bounds the bitmap libxl allocates for the count.
  int count = static_cast<int>(ArgInt(info, 1, "vCPU count", 1, 4096));
  std::string op = "set vCPUs of domain " + std::to_string(domid);
  libxl_bitmap* map = new libxl_bitmap;
  libxl_bitmap_init(map);
  {
    Call call(this, info.Env(), op);
    if (libxl_cpu_bitmap_alloc(ctx_, map, count)) {
      delete map;
      call.Fail(ERROR_NOMEM);
    }
  }
  for (int i = 0; i < count; i++) libxl_bitmap_set(map, i);
  libxl_ctx* ctx = ctx_;
  return StartAo(
      info.Env(), op,
      [ctx, domid, map](const libxl_asyncop_how* how) { return libxl_set_vcpuonline(ctx, domid, map, how); },
      [map] {
        libxl_bitmap_dispose(map);
        delete map;
      });
}

Napi::Value Context::SendSysrq(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string key = ArgString(info, 1, "sysrq key");
  Call call(this, info.Env(), "send sysrq to domain " + std::to_string(domid));
  int rc = libxl_send_sysrq(ctx_, domid, key.empty() ? 0 : key[0]);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

// (domid, trigger name, vcpu): `xl trigger`.
Napi::Value Context::SendTrigger(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string name = ArgString(info, 1, "trigger");
  uint32_t vcpu = ArgU32(info, 2, "vcpu", 4095);
  libxl_trigger trigger;
  if (libxl_trigger_from_string(name.c_str(), &trigger)) {
    Call call(this, info.Env(), "trigger " + name);
    call.Fail("ERR_INVALID_ARG", "unknown trigger " + name);
  }
  libxl_ctx* ctx = ctx_;
  return StartAo(info.Env(), "send trigger " + name + " to domain " + std::to_string(domid),
                 [ctx, domid, trigger, vcpu](const libxl_asyncop_how* how) {
                   return libxl_send_trigger(ctx, domid, trigger, vcpu, how);
                 });
}

namespace {
struct DumpTarget {
  int fd;
  Operation* op;
};

// xc_domain_dumpcore's writer: stops the dump (returns -1) once the operation is aborted.
int WriteDump(xc_interface*, void* arg, char* buf, unsigned int len) {
  auto* t = static_cast<DumpTarget*>(arg);
  if (t->op->abortRequested.load()) return -1;
  while (len > 0) {
    ssize_t n = write(t->fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    buf += n;
    len -= static_cast<unsigned int>(n);
  }
  return 0;
}
}  // namespace

// (domid, fd, abortId) → `xl dump-core` into fd. libxl_domain_core_dump is xc_domain_dumpcore
// and cannot stop once started; the callback form writes chunk by chunk, so an abort
// (abortWorkerOp) ends it at the next chunk with ERROR_ABORTED. On the worker: it writes the
// whole guest memory.
Napi::Value Context::CoreDump(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  int fd = static_cast<int>(ArgInt(info, 1, "fd", 0, INT32_MAX));
  uint32_t abortId = static_cast<uint32_t>(ArgOptInt(info, 2, "abort id", 0, UINT32_MAX, 0));
  std::string name = "core dump of domain " + std::to_string(domid);
  Call call(this, info.Env(), name);
  auto op = std::make_unique<Operation>(this, info.Env(), name);
  op->abortId = abortId;
  op->stages.push_back([domid, fd](libxl_ctx* ctx, const libxl_asyncop_how* how, Operation* op) {
    int rc = ERROR_FAIL;
    xc_interface* xc = xc_interface_open(op->worker->logger().get(), nullptr, 0);
    if (xc) {
      DumpTarget target{fd, op};
      if (xc_domain_dumpcore_via_callback(xc, domid, &target, WriteDump) == 0) rc = 0;
      else if (op->abortRequested.load())
        rc = ERROR_ABORTED;
      xc_interface_close(xc);
    }
    // Done synchronously: report it through the ao callback, as libxl would have.
    how->callback(ctx, rc, how->u.for_callback);
    return 0;
  });
  return StartWorkerAo(call, std::move(op));
}

// (domid, index, 'pv' | 'serial') → the path of the pty xenconsoled offers for that console
// (what `xl console` attaches to).
Napi::Value Context::ConsoleTty(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  int index = static_cast<int>(ArgInt(info, 1, "console index", 0, 1023));
  std::string type = ArgWord(info, 2, "console type", {"pv", "serial"});
  Call call(this, info.Env(), type + " console " + std::to_string(index) + " of domain " + std::to_string(domid));
  libxl_console_type t = type == "serial" ? LIBXL_CONSOLE_TYPE_SERIAL : LIBXL_CONSOLE_TYPE_PV;
  char* path = nullptr;
  int rc = libxl_console_get_tty(ctx_, domid, index, t, &path);
  if (rc) call.Fail(rc);
  Napi::String s = Napi::String::New(info.Env(), path);
  free(path);
  return s;
}
