// The Context class: one libxl context on the JS thread's loop; its method table, its
// lifetime, and the Call scope every libxl call runs in.
#include "core/context.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/errors.h"

Napi::Function Context::Init(Napi::Env env) {
  const std::vector<PropertyDescriptor> methods = {
      // core: lifetime, events, operations, log
      InstanceMethod<&Context::Guard<&Context::Close>>("close"),
      InstanceMethod<&Context::Guard<&Context::SetEventHandler>>("setEventHandler"),
      InstanceMethod<&Context::Guard<&Context::EnableDeathEvents>>("enableDeathEvents"),
      InstanceMethod<&Context::Guard<&Context::DisableDeathEvents>>("disableDeathEvents"),
      InstanceMethod<&Context::Guard<&Context::EnableDiskEject>>("enableDiskEject"),
      InstanceMethod<&Context::Guard<&Context::DisableDiskEject>>("disableDiskEject"),
      InstanceMethod<&Context::Guard<&Context::JsRef>>("ref"),
      InstanceMethod<&Context::Guard<&Context::JsUnref>>("unref"),
      InstanceMethod<&Context::Guard<&Context::InFlight>>("inFlight"),
      InstanceMethod<&Context::Guard<&Context::XenstoreLost>>("xenstoreLost"),
      InstanceMethod<&Context::Guard<&Context::WatchXenstore>>("watchXenstore"),
      InstanceMethod<&Context::Guard<&Context::UnwatchXenstore>>("unwatchXenstore"),
      InstanceMethod<&Context::Guard<&Context::RecentLog>>("recentLog"),
      InstanceMethod<&Context::Guard<&Context::SetLogLevel>>("setLogLevel"),
      // One abort for every operation (abort ids are unique across both names).
      InstanceMethod<&Context::Guard<&Context::Abort>>("abortAo"),
      InstanceMethod<&Context::Guard<&Context::Abort>>("abortWorkerOp"),
      // core/host.cc
      InstanceMethod<&Context::Guard<&Context::PhysinfoJson>>("physinfoJson"),
      InstanceMethod<&Context::Guard<&Context::VersionInfoJson>>("versionInfoJson"),
      InstanceMethod<&Context::Guard<&Context::Scheduler>>("scheduler"),
      InstanceMethod<&Context::Guard<&Context::FreeCpus>>("freeCpus"),
      // domain/list.cc
      InstanceMethod<&Context::Guard<&Context::ListDomains>>("listDomains"),
      InstanceMethod<&Context::Guard<&Context::DomainInfo>>("domainInfo"),
      InstanceMethod<&Context::Guard<&Context::DomainConfigJson>>("domainConfigJson"),
      // domain/create.cc
      InstanceMethod<&Context::Guard<&Context::CreateDomain>>("createDomain"),
      // domain/control.cc
      InstanceMethod<&Context::Guard<&Context::Destroy>>("destroy"),
      InstanceMethod<&Context::Guard<&Context::Pause>>("pause"),
      InstanceMethod<&Context::Guard<&Context::SuspendOnly>>("suspendOnly"),
      InstanceMethod<&Context::Guard<&Context::Unpause>>("unpause"),
      InstanceMethod<&Context::Guard<&Context::Shutdown>>("shutdown"),
      InstanceMethod<&Context::Guard<&Context::Reboot>>("reboot"),
      InstanceMethod<&Context::Guard<&Context::Rename>>("rename"),
      InstanceMethod<&Context::Guard<&Context::SetMemoryTarget>>("setMemoryTarget"),
      InstanceMethod<&Context::Guard<&Context::SetMaxMemory>>("setMaxMemory"),
      InstanceMethod<&Context::Guard<&Context::SetVcpusOnline>>("setVcpusOnline"),
      InstanceMethod<&Context::Guard<&Context::SendSysrq>>("sendSysrq"),
      InstanceMethod<&Context::Guard<&Context::SendTrigger>>("sendTrigger"),
      InstanceMethod<&Context::Guard<&Context::CoreDump>>("coreDump"),
      InstanceMethod<&Context::Guard<&Context::ConsoleTty>>("consoleTty"),
      // domain/cleanup.cc
      InstanceMethod<&Context::Guard<&Context::RemoveStaleDomainPaths>>("removeStaleDomainPaths"),
      InstanceMethod<&Context::Guard<&Context::XenstoreRead>>("xenstoreRead"),
      InstanceMethod<&Context::Guard<&Context::XenstoreDirectory>>("xenstoreDirectory"),
      InstanceMethod<&Context::Guard<&Context::LoopDetach>>("loopDetach"),
      // devices/devices.cc, devices/assignable.cc
      InstanceMethod<&Context::Guard<&Context::DeviceList>>("deviceList"),
      InstanceMethod<&Context::Guard<&Context::DeviceOp>>("deviceOp"),
      InstanceMethod<&Context::Guard<&Context::CdromInsert>>("cdromInsert"),
      InstanceMethod<&Context::Guard<&Context::PciAssignableList>>("pciAssignableList"),
      InstanceMethod<&Context::Guard<&Context::PciAssignable>>("pciAssignable"),
      // sched/params.cc
      InstanceMethod<&Context::Guard<&Context::SchedParamsGet>>("schedParamsGet"),
      InstanceMethod<&Context::Guard<&Context::SchedParamsSet>>("schedParamsSet"),
      InstanceMethod<&Context::Guard<&Context::VcpuSchedParamsGet>>("vcpuSchedParamsGet"),
      InstanceMethod<&Context::Guard<&Context::VcpuSchedParamsSet>>("vcpuSchedParamsSet"),
      InstanceMethod<&Context::Guard<&Context::PoolSchedParams>>("poolSchedParams"),
      // sched/cpus.cc
      InstanceMethod<&Context::Guard<&Context::ListVcpus>>("listVcpus"),
      InstanceMethod<&Context::Guard<&Context::SetVcpuAffinity>>("setVcpuAffinity"),
      InstanceMethod<&Context::Guard<&Context::ListCpupools>>("listCpupools"),
      InstanceMethod<&Context::Guard<&Context::CpupoolCreate>>("cpupoolCreate"),
      InstanceMethod<&Context::Guard<&Context::CpupoolDestroy>>("cpupoolDestroy"),
      InstanceMethod<&Context::Guard<&Context::CpupoolRename>>("cpupoolRename"),
      InstanceMethod<&Context::Guard<&Context::CpupoolCpu>>("cpupoolCpu"),
      InstanceMethod<&Context::Guard<&Context::CpupoolMoveDomain>>("cpupoolMoveDomain"),
      InstanceMethod<&Context::Guard<&Context::CpuTopology>>("cpuTopology"),
      InstanceMethod<&Context::Guard<&Context::NumaInfo>>("numaInfo"),
      // monitor/hostdiag.cc
      InstanceMethod<&Context::Guard<&Context::XenConsoleRead>>("xenConsoleRead"),
      InstanceMethod<&Context::Guard<&Context::XenConsoleReadFrom>>("xenConsoleReadFrom"),
      InstanceMethod<&Context::Guard<&Context::PsrCmtAttach>>("psrCmtAttach"),
      InstanceMethod<&Context::Guard<&Context::PsrCmtEnabled>>("psrCmtEnabled"),
      InstanceMethod<&Context::Guard<&Context::PsrCmtTypeSupported>>("psrCmtTypeSupported"),
      InstanceMethod<&Context::Guard<&Context::PsrCmtDomainAttached>>("psrCmtDomainAttached"),
      InstanceMethod<&Context::Guard<&Context::PsrCmtL3CacheSize>>("psrCmtL3CacheSize"),
      InstanceMethod<&Context::Guard<&Context::PsrCmtSample>>("psrCmtSample"),
      InstanceMethod<&Context::Guard<&Context::TmemList>>("tmemList"),
      InstanceMethod<&Context::Guard<&Context::TmemFreeze>>("tmemFreeze"),
      InstanceMethod<&Context::Guard<&Context::TmemSet>>("tmemSet"),
      InstanceMethod<&Context::Guard<&Context::TmemSharedAuth>>("tmemSharedAuth"),
      InstanceMethod<&Context::Guard<&Context::TmemFreeable>>("tmemFreeable"),
      // monitor/stats.cc
      InstanceMethod<&Context::Guard<&Context::StatsOpen>>("statsOpen"),
      InstanceMethod<&Context::Guard<&Context::StatsClose>>("statsClose"),
      InstanceMethod<&Context::Guard<&Context::StatsSampleInto>>("statsSampleInto"),
      // debug/introspect.cc
      InstanceMethod<&Context::Guard<&Context::VcpuRegisters>>("vcpuRegisters"),
      InstanceMethod<&Context::Guard<&Context::SetVcpuRegisters>>("setVcpuRegisters"),
      InstanceMethod<&Context::Guard<&Context::GuestMemory>>("guestMemory"),
      InstanceMethod<&Context::Guard<&Context::SendDebugKeys>>("sendDebugKeys"),
      // transfer/save_restore.cc
      InstanceMethod<&Context::Guard<&Context::SaveDomain>>("saveDomain"),
      InstanceMethod<&Context::Guard<&Context::RestoreDomain>>("restoreDomain"),
      InstanceMethod<&Context::Guard<&Context::Resume>>("resume"),
  };
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
