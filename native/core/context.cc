// The Context class: one libxl context on the JS thread's loop; its method table, its
// lifetime, and the Call scope every libxl call runs in.
#include "core/context.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/errors.h"

Napi::Function Context::Init(Napi::Env env) {
// Every method through Guard, with its name as its data too: the op of its argument errors
// (ThrowArgError).
#define METHOD(fn, name) InstanceMethod<&Context::Guard<&Context::fn>>(name, napi_default, OpData(name))
  const std::vector<PropertyDescriptor> methods = {
      // core: lifetime, events, operations, log
      METHOD(Close, "close"),
      METHOD(SetEventHandler, "setEventHandler"),
      METHOD(EnableDeathEvents, "enableDeathEvents"),
      METHOD(DisableDeathEvents, "disableDeathEvents"),
      METHOD(EnableDiskEject, "enableDiskEject"),
      METHOD(DisableDiskEject, "disableDiskEject"),
      METHOD(JsRef, "ref"),
      METHOD(JsUnref, "unref"),
      METHOD(InFlight, "inFlight"),
      METHOD(XenstoreLost, "xenstoreLost"),
      METHOD(WatchXenstore, "watchXenstore"),
      METHOD(UnwatchXenstore, "unwatchXenstore"),
      METHOD(RecentLog, "recentLog"),
      METHOD(SetLogLevel, "setLogLevel"),
      // One abort for every operation (abort ids are unique across both names).
      METHOD(Abort, "abortAo"),
      METHOD(Abort, "abortWorkerOp"),
      // core/host.cc
      METHOD(PhysinfoJson, "physinfoJson"),
      METHOD(VersionInfoJson, "versionInfoJson"),
      METHOD(Scheduler, "scheduler"),
      METHOD(FreeCpus, "freeCpus"),
      // domain/list.cc
      METHOD(ListDomains, "listDomains"),
      METHOD(DomainInfo, "domainInfo"),
      METHOD(DomainConfigJson, "domainConfigJson"),
      // domain/create.cc
      METHOD(CreateDomain, "createDomain"),
      // domain/control.cc
      METHOD(Destroy, "destroy"),
      METHOD(Pause, "pause"),
      METHOD(SuspendOnly, "suspendOnly"),
      METHOD(Unpause, "unpause"),
      METHOD(Shutdown, "shutdown"),
      METHOD(Reboot, "reboot"),
      METHOD(Rename, "rename"),
      METHOD(SetMemoryTarget, "setMemoryTarget"),
      METHOD(SetMaxMemory, "setMaxMemory"),
      METHOD(SetVcpusOnline, "setVcpusOnline"),
      METHOD(SendSysrq, "sendSysrq"),
      METHOD(SendTrigger, "sendTrigger"),
      METHOD(CoreDump, "coreDump"),
      METHOD(ConsoleTty, "consoleTty"),
      // domain/cleanup.cc
      METHOD(RemoveStaleDomainPaths, "removeStaleDomainPaths"),
      METHOD(XenstoreRead, "xenstoreRead"),
      METHOD(XenstoreDirectory, "xenstoreDirectory"),
      METHOD(LoopDetach, "loopDetach"),
      // devices/devices.cc, devices/assignable.cc
      METHOD(DeviceList, "deviceList"),
      METHOD(DeviceOp, "deviceOp"),
      METHOD(CdromInsert, "cdromInsert"),
      METHOD(PciAssignableList, "pciAssignableList"),
      METHOD(PciAssignable, "pciAssignable"),
      // sched/params.cc
      METHOD(SchedParamsGet, "schedParamsGet"),
      METHOD(SchedParamsSet, "schedParamsSet"),
      METHOD(VcpuSchedParamsGet, "vcpuSchedParamsGet"),
      METHOD(VcpuSchedParamsSet, "vcpuSchedParamsSet"),
      METHOD(PoolSchedParams, "poolSchedParams"),
      // sched/cpus.cc
      METHOD(ListVcpus, "listVcpus"),
      METHOD(SetVcpuAffinity, "setVcpuAffinity"),
      METHOD(ListCpupools, "listCpupools"),
      METHOD(CpupoolCreate, "cpupoolCreate"),
      METHOD(CpupoolDestroy, "cpupoolDestroy"),
      METHOD(CpupoolRename, "cpupoolRename"),
      METHOD(CpupoolCpu, "cpupoolCpu"),
      METHOD(CpupoolMoveDomain, "cpupoolMoveDomain"),
      METHOD(CpuTopology, "cpuTopology"),
      METHOD(NumaInfo, "numaInfo"),
      // monitor/hostdiag.cc
      METHOD(XenConsoleRead, "xenConsoleRead"),
      METHOD(XenConsoleReadFrom, "xenConsoleReadFrom"),
      METHOD(PsrCmtAttach, "psrCmtAttach"),
      METHOD(PsrCmtEnabled, "psrCmtEnabled"),
      METHOD(PsrCmtTypeSupported, "psrCmtTypeSupported"),
      METHOD(PsrCmtDomainAttached, "psrCmtDomainAttached"),
      METHOD(PsrCmtL3CacheSize, "psrCmtL3CacheSize"),
      METHOD(PsrCmtSample, "psrCmtSample"),
      METHOD(TmemList, "tmemList"),
      METHOD(TmemFreeze, "tmemFreeze"),
      METHOD(TmemSet, "tmemSet"),
      METHOD(TmemSharedAuth, "tmemSharedAuth"),
      METHOD(TmemFreeable, "tmemFreeable"),
      // monitor/stats.cc
      METHOD(StatsOpen, "statsOpen"),
      METHOD(StatsClose, "statsClose"),
      METHOD(StatsSampleInto, "statsSampleInto"),
      // debug/introspect.cc
      METHOD(VcpuRegisters, "vcpuRegisters"),
      METHOD(SetVcpuRegisters, "setVcpuRegisters"),
      METHOD(GuestMemory, "guestMemory"),
      METHOD(SendDebugKeys, "sendDebugKeys"),
      // transfer/save_restore.cc
      METHOD(SaveDomain, "saveDomain"),
      METHOD(RestoreDomain, "restoreDomain"),
      METHOD(Resume, "resume"),
  };
#undef METHOD
  return DefineClass(env, "Context", methods);
}

Context::Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    throw MakeXenError(env, "open", "no libuv loop for this environment", "ERR_INTERNAL", 0, {});
  }
  if (XenstoredDown()) {
    throw MakeXenError(env, "open", "open: xenstored does not answer on its socket (stopped or restarting)",
                       "ERR_XENSTORE_LOST", ECONNREFUSED, {});
  }
  logger_.BeginCall();
  int rc = libxl_ctx_alloc(&ctx_, LIBXL_VERSION, 0, logger_.get());
  if (rc != 0 || !ctx_) {
    ctx_ = nullptr;
    std::vector<std::string> lines = logger_.CallLines();
    std::string msg = "cannot open a libxl context (" + LibxlErrorName(rc) + ")";
    if (!lines.empty()) msg += ": " + lines.back();
    throw MakeXenError(env, "open", msg, LibxlErrorName(rc), logger_.CallErrno(), lines);
  }
  loop_ = std::make_unique<LoopBinding>(loop);
  loop_->Attach(ctx_);
  libxl_event_register_callbacks(ctx_, &kEventHooks, this);
  dispatch_ = new uv_async_t;
  uv_async_init(loop, dispatch_, OnDispatch);
  dispatch_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(dispatch_));
  OpenXenstore();
}

Context::~Context() {
  // Also run when a worker thread's environment is torn down with the Host still open: napi
  // calls may fail then, and a destructor must not throw.
  try {
    DoClose();
  } catch (const Napi::Error&) {
  }
}

void Context::DoClose() {
  if (!ctx_) return;
  for (auto& [id, gen] : deathGens_) libxl_evdisable_domain_death(ctx_, gen);
  deathGens_.clear();
  for (auto& [id, gen] : ejectGens_) libxl_evdisable_disk_eject(ctx_, gen);
  ejectGens_.clear();
  for (libxl_event* ev : events_) libxl_event_free(ctx_, ev);
  events_.clear();
  worker_.reset();  // joins the thread; its operations have settled (the TS side waits)
  if (results_) results_.Release();
  libxl_ctx_free(ctx_);
  ctx_ = nullptr;
  if (xch_) {
    xc_interface_close(xch_);
    xch_ = nullptr;
  }
  loop_->Detach();
  if (xsPoll_) {
    uv_poll_stop(xsPoll_);
    uv_close(reinterpret_cast<uv_handle_t*>(xsPoll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    xsPoll_ = nullptr;
  }
  if (xsh_) {
    xs_close(xsh_);
    xsh_ = nullptr;
  }
  if (dispatch_) {
    dispatch_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(dispatch_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    dispatch_ = nullptr;
  }
  onEvent_.Reset();
}

Napi::Value Context::Close(const Napi::CallbackInfo& info) {
  // The TypeScript side waits for in-flight operations before closing.
  if (inflight_ > 0) {
    throw MakeXenError(info.Env(), "close", "close: operations are still in flight", "ERR_INTERNAL", 0, {});
  }
  DoClose();
  return info.Env().Undefined();
}

// ---- calls

Call::Call(Context* c, Napi::Env env, std::string op) : c_(c), env_(env), op_(std::move(op)) {
  if (!c_->ctx_) throw MakeXenError(env_, op_, op_ + ": the host is closed", "ERR_CLOSED", 0, {});
  c_->logger_.BeginCall();
}

void Call::Fail(int rc) { FailErrno(rc, 0); }

void Call::FailErrno(int rc, int errnoval) {
  std::vector<std::string> lines = c_->logger_.CallLines();
  std::string code = LibxlErrorName(rc);
  std::string msg = FailureMessage(op_, code, lines);
  int err = c_->logger_.CallErrno() ? c_->logger_.CallErrno() : errnoval;
  if (err > 0 && c_->logger_.CallErrno() == 0) msg += std::string(" (") + strerror(err) + ")";
  c_->MapXenstoreLoss(code, msg);
  throw MakeXenError(env_, op_, msg, code, err, lines);
}

void Call::Fail(const std::string& code, const std::string& message, int errnoval) {
  throw MakeXenError(env_, op_, op_ + ": " + message, code, errnoval, c_->logger_.CallLines());
}

// Keeps Node's loop alive while the JS side waits for events (handles are unref'd otherwise).
void Context::KeepLoopAlive(bool on) {
  if (!dispatch_) return;
  if (on && refs_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(dispatch_));
  if (!on && refs_ > 0 && --refs_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(dispatch_));
}

Napi::Value Context::JsRef(const Napi::CallbackInfo& info) {
  KeepLoopAlive(true);
  return info.Env().Undefined();
}

Napi::Value Context::JsUnref(const Napi::CallbackInfo& info) {
  KeepLoopAlive(false);
  return info.Env().Undefined();
}

Napi::Value Context::InFlight(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), inflight_); }

// libxenctrl, for what libxl has no call for; opened at first use, closed with the context.
xc_interface* Context::Xc(Call& call) {
  if (!xch_) {
    xch_ = xc_interface_open(logger_.get(), logger_.get(), 0);
    if (!xch_) call.FailErrno(ERROR_FAIL, errno);
  }
  return xch_;
}

Napi::Value Context::RecentLog(const Napi::CallbackInfo& info) {
  const auto& recent = logger_.Recent();
  Napi::Array arr = Napi::Array::New(info.Env(), recent.size());
  for (size_t i = 0; i < recent.size(); i++) arr.Set(i, recent[i]);
  return arr;
}

Napi::Value Context::SetLogLevel(const Napi::CallbackInfo& info) {
  logger_.SetLevel(static_cast<int>(ArgInt(info, 0, "log level", 0, XTL_NUM_LEVELS - 1)));
  return info.Env().Undefined();
}
