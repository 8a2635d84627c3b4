#include <cerrno>

#include "core/context.h"

#include <algorithm>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "core/errors.h"

// xenstored's socket is there but nothing listens on it: the daemon is gone. Asked before a new
// libxl context is made, because xs_open() — libxl's, and ours — then falls back to dom0's
// /dev/xen/xenbus, whose requests wait for ever for a daemon that is not there (libxenstore has
// ignored XS_OPEN_SOCKETONLY since Xen 4.15, so a plain connect() is the test). No socket at
// all: xenstored runs elsewhere, in a stub domain, and there is nothing to ask.
bool XenstoredDown() {
  const char* path = xs_daemon_socket();
  if (access(path, F_OK) != 0) return false;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  bool down = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
  close(fd);
  return down;
}

const libxl_event_hooks Context::kEventHooks = {LIBXL_EVENTMASK_ALL, EventOccurs, Disaster};

Napi::Function Context::Init(Napi::Env env) {
  return DefineClass(env, "Context", {
      InstanceMethod<&Context::Guard<&Context::Close>>("close"),
      InstanceMethod<&Context::Guard<&Context::SetEventHandler>>("setEventHandler"),
      InstanceMethod<&Context::Guard<&Context::EnableDeathEvents>>("enableDeathEvents"),
      InstanceMethod<&Context::Guard<&Context::DisableDeathEvents>>("disableDeathEvents"),
      InstanceMethod<&Context::Guard<&Context::EnableDiskEject>>("enableDiskEject"),
      InstanceMethod<&Context::Guard<&Context::DisableDiskEject>>("disableDiskEject"),
      InstanceMethod<&Context::Guard<&Context::AbortAo>>("abortAo"),
      InstanceMethod<&Context::Guard<&Context::RemoveStaleDomainPaths>>("removeStaleDomainPaths"),
      InstanceMethod<&Context::Guard<&Context::XenstoreRead>>("xenstoreRead"),
      InstanceMethod<&Context::Guard<&Context::XenstoreDirectory>>("xenstoreDirectory"),
      InstanceMethod<&Context::Guard<&Context::LoopDetach>>("loopDetach"),
      InstanceMethod<&Context::Guard<&Context::JsRef>>("ref"),
      InstanceMethod<&Context::Guard<&Context::JsUnref>>("unref"),
      InstanceMethod<&Context::Guard<&Context::InFlight>>("inFlight"),
      InstanceMethod<&Context::Guard<&Context::XenstoreLost>>("xenstoreLost"),
      InstanceMethod<&Context::Guard<&Context::Destroy>>("destroy"),
      InstanceMethod<&Context::Guard<&Context::CreateDomain>>("createDomain"),
      InstanceMethod<&Context::Guard<&Context::CoreDump>>("coreDump"),
      InstanceMethod<&Context::Guard<&Context::SaveDomain>>("saveDomain"),
      InstanceMethod<&Context::Guard<&Context::RestoreDomain>>("restoreDomain"),
      InstanceMethod<&Context::Guard<&Context::Resume>>("resume"),
      InstanceMethod<&Context::Guard<&Context::DeviceList>>("deviceList"),
      InstanceMethod<&Context::Guard<&Context::DeviceOp>>("deviceOp"),
      InstanceMethod<&Context::Guard<&Context::CdromInsert>>("cdromInsert"),
      InstanceMethod<&Context::Guard<&Context::PciAssignableList>>("pciAssignableList"),
      InstanceMethod<&Context::Guard<&Context::PciAssignable>>("pciAssignable"),
      InstanceMethod<&Context::Guard<&Context::AbortWorkerOp>>("abortWorkerOp"),
      InstanceMethod<&Context::Guard<&Context::ConsoleTty>>("consoleTty"),
      InstanceMethod<&Context::Guard<&Context::Shutdown>>("shutdown"),
      InstanceMethod<&Context::Guard<&Context::Reboot>>("reboot"),
      InstanceMethod<&Context::Guard<&Context::Rename>>("rename"),
      InstanceMethod<&Context::Guard<&Context::SetMemoryTarget>>("setMemoryTarget"),
      InstanceMethod<&Context::Guard<&Context::SetMaxMemory>>("setMaxMemory"),
      InstanceMethod<&Context::Guard<&Context::SetVcpusOnline>>("setVcpusOnline"),
      InstanceMethod<&Context::Guard<&Context::SendSysrq>>("sendSysrq"),
      InstanceMethod<&Context::Guard<&Context::SendTrigger>>("sendTrigger"),
      InstanceMethod<&Context::Guard<&Context::Pause>>("pause"),
      InstanceMethod<&Context::Guard<&Context::Unpause>>("unpause"),
      InstanceMethod<&Context::Guard<&Context::RecentLog>>("recentLog"),
      InstanceMethod<&Context::Guard<&Context::SetLogLevel>>("setLogLevel"),
      InstanceMethod<&Context::Guard<&Context::ListDomains>>("listDomains"),
      InstanceMethod<&Context::Guard<&Context::DomainInfo>>("domainInfo"),
      InstanceMethod<&Context::Guard<&Context::DomainConfigJson>>("domainConfigJson"),
      InstanceMethod<&Context::Guard<&Context::PhysinfoJson>>("physinfoJson"),
      InstanceMethod<&Context::Guard<&Context::VersionInfoJson>>("versionInfoJson"),
      InstanceMethod<&Context::Guard<&Context::Scheduler>>("scheduler"),
      InstanceMethod<&Context::Guard<&Context::FreeCpus>>("freeCpus"),
      InstanceMethod<&Context::Guard<&Context::SchedParamsGet>>("schedParamsGet"),
      InstanceMethod<&Context::Guard<&Context::SchedParamsSet>>("schedParamsSet"),
      InstanceMethod<&Context::Guard<&Context::VcpuSchedParamsGet>>("vcpuSchedParamsGet"),
      InstanceMethod<&Context::Guard<&Context::VcpuSchedParamsSet>>("vcpuSchedParamsSet"),
      InstanceMethod<&Context::Guard<&Context::PoolSchedParams>>("poolSchedParams"),
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
      InstanceMethod<&Context::Guard<&Context::StatsOpen>>("statsOpen"),
      InstanceMethod<&Context::Guard<&Context::StatsClose>>("statsClose"),
      InstanceMethod<&Context::Guard<&Context::StatsSampleInto>>("statsSampleInto"),
      InstanceMethod<&Context::Guard<&Context::VcpuRegisters>>("vcpuRegisters"),
      InstanceMethod<&Context::Guard<&Context::SetVcpuRegisters>>("setVcpuRegisters"),
      InstanceMethod<&Context::Guard<&Context::GuestMemory>>("guestMemory"),
      InstanceMethod<&Context::Guard<&Context::SendDebugKeys>>("sendDebugKeys"),
  });
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
    uv_close(reinterpret_cast<uv_handle_t*>(dispatch_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
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

// ---- events: libxl callbacks only record; JS is called later from the loop.

void Context::EventOccurs(void* user, libxl_event* event) {
  auto* self = static_cast<Context*>(user);
  self->events_.push_back(event);
  if (self->dispatch_) uv_async_send(self->dispatch_);
}

void Context::Disaster(void* user, libxl_event_type type, const char* msg, int errnoval) {
  auto* self = static_cast<Context*>(user);
  std::string text = std::string("libxl event disaster (") + libxl_event_type_to_string(type) + "): " + (msg ? msg : "");
  if (errnoval > 0) text += std::string(": ") + strerror(errnoval);
  self->disasters_.push_back(text);
  if (self->dispatch_) uv_async_send(self->dispatch_);
}

void Context::OnDispatch(uv_async_t* handle) {
  auto* self = static_cast<Context*>(handle->data);
  if (!self) return;
  // A libuv callback, outside any call from JS: a C++ exception must not leave it (that is
  // std::terminate). One comes from a JS handler that threw — handed to Node as an uncaught
  // exception, as from any callback — or from a worker thread being torn down, where JS no
  // longer runs and napi calls fail (then napi_fatal_exception does nothing).
  try {
    self->Dispatch();
  } catch (const Napi::Error& e) {
    napi_value err = e.Value();
    if (err) napi_fatal_exception(self->Env(), err);
  }
}

void Context::Dispatch() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  while (!completions_.empty()) {
    AoRequest* req = completions_.front();
    completions_.pop_front();
    if (req->rc == 0) {
      Napi::Value value = env.Undefined();
      if (req->result) {
        try {
          value = req->result(env);
        } catch (const Napi::Error& e) {
          value = Napi::Value();
          req->deferred.Reject(e.Value());
        }
      }
      if (!value.IsEmpty()) req->deferred.Resolve(value);
    } else {
      std::vector<std::string> lines = logger_.Since(req->logFrom);
      std::string code = LibxlErrorName(req->rc);
      std::string msg = FailureMessage(req->op, code, lines);
      MapXenstoreLoss(code, msg);
      req->deferred.Reject(MakeXenError(env, req->op, msg, code, 0, lines).Value());
    }
    if (req->cleanup) req->cleanup();
    if (req->abortId) abortable_.erase(req->abortId);
    delete req;
    OpSettled();
  }
  if (!ctx_) return;
  std::vector<std::pair<std::string, std::string>> out;
  while (!events_.empty()) {
    libxl_event* ev = events_.front();
    events_.pop_front();
    char* json = libxl_event_to_json(ctx_, ev);
    if (json) out.emplace_back("event", json);
    free(json);
    libxl_event_free(ctx_, ev);
  }
  while (!disasters_.empty()) {
    out.emplace_back("disaster", disasters_.front());
    disasters_.pop_front();
  }
  if (domainsChanged_) {
    domainsChanged_ = false;
    out.emplace_back("domains", "");
  }
  if (onEvent_.IsEmpty()) return;
  for (auto& [kind, payload] : out) {
    onEvent_.MakeCallback(Value(), {Napi::String::New(env, kind), Napi::String::New(env, payload)});
    if (!ctx_) break;  // the handler closed the host
  }
}

Napi::Value Context::SetEventHandler(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "handler must be a function");
  onEvent_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Context::EnableDeathEvents(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "watch domain " + std::to_string(domid));
  libxl_evgen_domain_death* gen = nullptr;
  uint64_t id = nextGen_++;
  int rc = libxl_evenable_domain_death(ctx_, domid, id, &gen);
  if (rc) call.Fail(rc);
  deathGens_[id] = gen;
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value Context::DisableDeathEvents(const Napi::CallbackInfo& info) {
  if (!ctx_) return info.Env().Undefined();
  uint64_t id = static_cast<uint64_t>(ArgInt(info, 0, "event id", 0, INT64_C(1) << 53));
  auto it = deathGens_.find(id);
  if (it != deathGens_.end()) {
    libxl_evdisable_domain_death(ctx_, it->second);
    deathGens_.erase(it);
  }
  return info.Env().Undefined();
}

// (domid, vdev) → id: DISK_EJECT events when the guest (its device model) ejects the medium.
Napi::Value Context::EnableDiskEject(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string vdev = ArgString(info, 1, "vdev");
  Call call(this, info.Env(), "watch " + vdev + " of domain " + std::to_string(domid) + " for ejects");
  libxl_evgen_disk_eject* gen = nullptr;
  uint64_t id = nextGen_++;
  int rc = libxl_evenable_disk_eject(ctx_, domid, vdev.c_str(), id, &gen);
  if (rc) call.Fail(rc);
  ejectGens_[id] = gen;
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value Context::DisableDiskEject(const Napi::CallbackInfo& info) {
  if (!ctx_) return info.Env().Undefined();
  uint64_t id = static_cast<uint64_t>(ArgInt(info, 0, "event id", 0, INT64_C(1) << 53));
  auto it = ejectGens_.find(id);
  if (it != ejectGens_.end()) {
    libxl_evdisable_disk_eject(ctx_, it->second);
    ejectGens_.erase(it);
  }
  return info.Env().Undefined();
}

// (abortId) → whether the operation was still in flight. libxl then finishes it early with
// ERROR_ABORTED, undoing what it had done; a finished one is left alone.
Napi::Value Context::AbortAo(const Napi::CallbackInfo& info) {
  uint32_t abortId = ArgU32(info, 0, "abort id");
  if (!ctx_) return Napi::Boolean::New(info.Env(), false);
  auto it = abortable_.find(abortId);
  if (it == abortable_.end() || it->second->rc != 0 || std::find(completions_.begin(), completions_.end(), it->second) != completions_.end()) {
    return Napi::Boolean::New(info.Env(), false);
  }
  libxl_asyncop_how how;
  how.callback = AoDone;
  how.u.for_callback = it->second;
  return Napi::Boolean::New(info.Env(), libxl_ao_abort(ctx_, &how) == 0);
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

Napi::Value Context::InFlight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), inflight_);
}

// ---- asynchronous operations (libxl ao with a callback)

Napi::Value Context::StartAo(Napi::Env env, const std::string& op,
                             const std::function<int(const libxl_asyncop_how*)>& start, std::function<void()> cleanup,
                             uint32_t abortId, std::function<Napi::Value(Napi::Env)> result) {
  Call call(this, env, op);
  auto* req = new AoRequest{this, Napi::Promise::Deferred::New(env), op, logger_.Mark(), 0, std::move(cleanup), abortId,
                            std::move(result)};
  Napi::Promise promise = req->deferred.Promise();
  libxl_asyncop_how how;
  how.callback = AoDone;
  how.u.for_callback = req;
  OpStarted();
  if (abortId) abortable_[abortId] = req;
  int rc = start(&how);
  if (rc) {
    // A failed initiation never calls back.
    OpSettled();
    if (abortId) abortable_.erase(abortId);
    if (req->cleanup) req->cleanup();
    delete req;
    call.Fail(rc);
  }
  return promise;
}

// While an operation is in flight the loop stays alive and this object is not collected.
void Context::OpStarted() {
  if (inflight_++ == 0) Ref();
  KeepLoopAlive(true);
}

void Context::OpSettled() {
  inflight_--;
  KeepLoopAlive(false);
  if (inflight_ == 0) Unref();
}

Worker* Context::EnsureWorker(Call& call) {
  if (worker_) return worker_.get();
  if (XenstoredDown()) {
    CheckXenstoreLost();
    call.Fail("ERR_XENSTORE_LOST", "xenstored does not answer on its socket (stopped or restarting)", ECONNREFUSED);
  }
  std::string error;
  worker_ = Worker::Start(logger_.Level(), &error);
  if (!worker_) call.Fail("ERR_INTERNAL", error);
  results_ = Napi::ThreadSafeFunction::New(Env(), Napi::Function::New(Env(), [](const Napi::CallbackInfo&) {}),
                                           "xenlight worker results", 0, 1);
  results_.Unref(Env());
  return worker_.get();
}

// May run inside the initiating call (e.g. destroy of an unknown domain): only record.
void Context::AoDone(libxl_ctx*, int rc, void* for_callback) {
  auto* req = static_cast<AoRequest*>(for_callback);
  req->rc = rc;
  req->self->completions_.push_back(req);
  if (req->self->dispatch_) uv_async_send(req->self->dispatch_);
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

// ---- xenstore: domain arrivals/departures and name changes, for events and the name cache.

bool Context::CheckXenstoreLost() {
  if (xenstoreLost_ || !xsh_) return xenstoreLost_;
  unsigned int len = 0;
  void* root = xs_read(xsh_, XBT_NULL, "/", &len);
  xenstoreLost_ = root == nullptr;
  free(root);
  return xenstoreLost_;
}

void Context::MapXenstoreLoss(std::string& code, std::string& msg) {
  if (!CheckXenstoreLost()) return;
  msg += " [the xenstore connection is lost: xenstored stopped or restarted; libxl said " + code + "]";
  code = "ERR_XENSTORE_LOST";
}

Napi::Value Context::XenstoreLost(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), xenstoreLost_);
}


bool Context::OpenXenstore() {
  xsh_ = xs_open(0);
  if (!xsh_) return false;
  if (!xs_watch(xsh_, "@introduceDomain", "@i") || !xs_watch(xsh_, "@releaseDomain", "@r")) {
    xs_close(xsh_);
    xsh_ = nullptr;
    return false;
  }
  xsPoll_ = new uv_poll_t;
  uv_poll_init(loop_->loop(), xsPoll_, xs_fileno(xsh_));
  xsPoll_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(xsPoll_));
  uv_poll_start(xsPoll_, UV_READABLE, OnXenstore);
  return true;
}

void Context::OnXenstore(uv_poll_t* handle, int, int) {
  auto* self = static_cast<Context*>(handle->data);
  self->DrainWatches();
  if (self->domainsChanged_ && self->dispatch_) uv_async_send(self->dispatch_);
}

void Context::DrainWatches() {
  if (!xsh_) return;
  for (;;) {
    char** w = xs_check_watch(xsh_);
    if (!w) break;
    const char* token = w[XS_WATCH_TOKEN];
    if (token[0] == '@') {
      domainsChanged_ = true;
      vbdGeneration_++;
    } else if (token[0] == 'v') {
      vbdGeneration_++;
    } else if (token[0] == 'n') {
      uint32_t domid = static_cast<uint32_t>(strtoul(token + 1, nullptr, 10));
      auto it = names_.find(domid);
      if (it != names_.end()) {
        if (it->second.skipFirstEvent) it->second.skipFirstEvent = false;
        else it->second.valid = false;
      }
    }
    free(w);
  }
}

const std::string* Context::CachedName(uint32_t domid) {
  auto it = names_.find(domid);
  if (it != names_.end() && it->second.valid) return &it->second.name;
  std::string path = "/local/domain/" + std::to_string(domid) + "/name";
  std::string token = "n" + std::to_string(domid);
  bool watched = it != names_.end();
  // Watch before reading: a rename after the read then always invalidates.
  if (!watched && xsh_ && !xs_watch(xsh_, path.c_str(), token.c_str())) return nullptr;
  unsigned int len = 0;
  char* value = xsh_ ? static_cast<char*>(xs_read(xsh_, XBT_NULL, path.c_str(), &len)) : nullptr;
  if (!value && xsh_ && errno != ENOENT) CheckXenstoreLost();
  NameEntry& e = names_[domid];
  if (!watched) e.skipFirstEvent = true;
  e.name = value ? std::string(value, len) : std::string();
  e.valid = value != nullptr;
  free(value);
  return value ? &e.name : nullptr;
}

void Context::ForgetDomainsExcept(const libxl_dominfo* list, int n) {
  for (auto it = names_.begin(); it != names_.end();) {
    bool alive = false;
    for (int i = 0; i < n && !alive; i++) alive = list[i].domid == it->first;
    if (alive) {
      ++it;
      continue;
    }
    std::string path = "/local/domain/" + std::to_string(it->first) + "/name";
    std::string token = "n" + std::to_string(it->first);
    if (xsh_) xs_unwatch(xsh_, path.c_str(), token.c_str());
    it = names_.erase(it);
  }
}
