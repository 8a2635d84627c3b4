// One libxl context driven from the JS thread, on that thread's libuv loop.
#pragma once
#include <napi.h>
#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/args.h"
#include "core/logger.h"
#include "core/loop_binding.h"
#include "core/worker.h"
#include "core/xen.h"

class Call;
bool XenstoredDown();
struct Operation;

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Context(const Napi::CallbackInfo& info);

  // Every method is registered through Guard. node-addon-api rethrows a Napi::Error as a C++
  // exception when it cannot throw it into JS — as when a worker thread is terminated while a
  // call runs (JS can no longer run there) — and that escapes the callback: std::terminate of
  // the whole process. Guard throws into JS itself and, where it cannot, returns nothing: the
  // terminating thread has no one left to see the result.
  template <Napi::Value (Context::*M)(const Napi::CallbackInfo&)>
  Napi::Value Guard(const Napi::CallbackInfo& info) {
    try {
      return (this->*M)(info);
    } catch (const Napi::Error& e) {
      try {
        if (!e.IsEmpty()) napi_throw(info.Env(), e.Value());
      } catch (const Napi::Error&) {  // Value() itself failed: the same case
      }
      return Napi::Value();
    }
  }
  ~Context() override;
  // After a failure: whether the xenstore connection is gone (one read of "/"; sets the flag).
  bool CheckXenstoreLost();
  // libxl's error code, or ERR_XENSTORE_LOST (and the message says so) when the connection is gone.
  void MapXenstoreLoss(std::string& code, std::string& msg);

  // ---- the JS-visible methods of each area, defined in the area's folder.
  // core/host.cc: what `xl info` shows.
  Napi::Value PhysinfoJson(const Napi::CallbackInfo& info);
  Napi::Value VersionInfoJson(const Napi::CallbackInfo& info);
  Napi::Value Scheduler(const Napi::CallbackInfo& info);
  Napi::Value FreeCpus(const Napi::CallbackInfo& info);
  // domain/list.cc
  Napi::Value ListDomains(const Napi::CallbackInfo& info);
  Napi::Value DomainInfo(const Napi::CallbackInfo& info);
  Napi::Value DomainConfigJson(const Napi::CallbackInfo& info);
  // domain/create.cc
  Napi::Value CreateDomain(const Napi::CallbackInfo& info);
  // domain/control.cc
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value SuspendOnly(const Napi::CallbackInfo& info);
  Napi::Value Unpause(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Reboot(const Napi::CallbackInfo& info);
  Napi::Value Rename(const Napi::CallbackInfo& info);
  Napi::Value SetMemoryTarget(const Napi::CallbackInfo& info);
  Napi::Value SetMaxMemory(const Napi::CallbackInfo& info);
  Napi::Value SetVcpusOnline(const Napi::CallbackInfo& info);
  Napi::Value SendSysrq(const Napi::CallbackInfo& info);
  Napi::Value SendTrigger(const Napi::CallbackInfo& info);
  Napi::Value CoreDump(const Napi::CallbackInfo& info);
  Napi::Value ConsoleTty(const Napi::CallbackInfo& info);
  // domain/cleanup.cc: what a gone domain left behind.
  Napi::Value RemoveStaleDomainPaths(const Napi::CallbackInfo& info);
  Napi::Value XenstoreRead(const Napi::CallbackInfo& info);
  Napi::Value XenstoreDirectory(const Napi::CallbackInfo& info);
  Napi::Value LoopDetach(const Napi::CallbackInfo& info);
  // devices/devices.cc, devices/assignable.cc
  Napi::Value DeviceList(const Napi::CallbackInfo& info);
  Napi::Value DeviceOp(const Napi::CallbackInfo& info);
  Napi::Value CdromInsert(const Napi::CallbackInfo& info);
  Napi::Value PciAssignableList(const Napi::CallbackInfo& info);
  Napi::Value PciAssignable(const Napi::CallbackInfo& info);
  // sched/params.cc
  Napi::Value SchedParamsGet(const Napi::CallbackInfo& info);
  Napi::Value SchedParamsSet(const Napi::CallbackInfo& info);
  Napi::Value VcpuSchedParamsGet(const Napi::CallbackInfo& info);
  Napi::Value VcpuSchedParamsSet(const Napi::CallbackInfo& info);
  Napi::Value PoolSchedParams(const Napi::CallbackInfo& info);
  // sched/cpus.cc
  Napi::Value ListVcpus(const Napi::CallbackInfo& info);
  Napi::Value SetVcpuAffinity(const Napi::CallbackInfo& info);
  Napi::Value ListCpupools(const Napi::CallbackInfo& info);
  Napi::Value CpupoolCreate(const Napi::CallbackInfo& info);
  Napi::Value CpupoolDestroy(const Napi::CallbackInfo& info);
  Napi::Value CpupoolRename(const Napi::CallbackInfo& info);
  Napi::Value CpupoolCpu(const Napi::CallbackInfo& info);
  Napi::Value CpupoolMoveDomain(const Napi::CallbackInfo& info);
  Napi::Value CpuTopology(const Napi::CallbackInfo& info);
  Napi::Value NumaInfo(const Napi::CallbackInfo& info);
  // monitor/hostdiag.cc
  Napi::Value XenConsoleRead(const Napi::CallbackInfo& info);
  Napi::Value XenConsoleReadFrom(const Napi::CallbackInfo& info);
  Napi::Value PsrCmtAttach(const Napi::CallbackInfo& info);
  Napi::Value PsrCmtEnabled(const Napi::CallbackInfo& info);
  Napi::Value PsrCmtTypeSupported(const Napi::CallbackInfo& info);
  Napi::Value PsrCmtDomainAttached(const Napi::CallbackInfo& info);
  Napi::Value PsrCmtL3CacheSize(const Napi::CallbackInfo& info);
  Napi::Value PsrCmtSample(const Napi::CallbackInfo& info);
  Napi::Value TmemList(const Napi::CallbackInfo& info);
  Napi::Value TmemFreeze(const Napi::CallbackInfo& info);
  Napi::Value TmemSet(const Napi::CallbackInfo& info);
  Napi::Value TmemSharedAuth(const Napi::CallbackInfo& info);
  Napi::Value TmemFreeable(const Napi::CallbackInfo& info);
  // monitor/stats.cc
  Napi::Value StatsOpen(const Napi::CallbackInfo& info);
  Napi::Value StatsClose(const Napi::CallbackInfo& info);
  Napi::Value StatsSampleInto(const Napi::CallbackInfo& info);
  // debug/introspect.cc: guest introspection for debuggers.
  Napi::Value VcpuRegisters(const Napi::CallbackInfo& info);
  Napi::Value SetVcpuRegisters(const Napi::CallbackInfo& info);
  Napi::Value GuestMemory(const Napi::CallbackInfo& info);
  Napi::Value SendDebugKeys(const Napi::CallbackInfo& info);
  // transfer/save_restore.cc
  Napi::Value SaveDomain(const Napi::CallbackInfo& info);
  Napi::Value RestoreDomain(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);

  // ---- libxl asynchronous operations (core/operation.cc, core/operation.h)
  // Starts one on this context; the returned Promise settles from the loop.
  // cleanup runs once the operation has settled (ao parameters must outlive the operation).
  // abortId (non-zero) lets Abort(abortId) ask libxl to abort it (libxl_ao_abort).
  // result, if given, makes the value the Promise resolves with (it runs before cleanup).
  Napi::Value StartAo(Napi::Env env, const std::string& name, const std::function<int(const libxl_asyncop_how*)>& start,
                      std::function<void()> cleanup = nullptr, uint32_t abortId = 0,
                      std::function<Napi::Value(Napi::Env)> result = nullptr);
  // Runs op's stages on the worker thread (for libxl calls that block their thread).
  Napi::Value StartWorkerAo(Call& call, std::unique_ptr<Operation> op);

 private:
  friend class Call;
  // core/context.cc: lifetime, loop references, the log.
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value JsRef(const Napi::CallbackInfo& info);
  Napi::Value JsUnref(const Napi::CallbackInfo& info);
  Napi::Value InFlight(const Napi::CallbackInfo& info);
  Napi::Value RecentLog(const Napi::CallbackInfo& info);
  Napi::Value SetLogLevel(const Napi::CallbackInfo& info);
  void DoClose();
  void KeepLoopAlive(bool on);
  // libxenctrl, for what libxl has no call for (debug/, monitor/hostdiag.cc); opened at first use.
  xc_interface* Xc(Call& call);

  // core/events.cc: libxl's callbacks only record; JS is called later from the loop.
  Napi::Value SetEventHandler(const Napi::CallbackInfo& info);
  Napi::Value EnableDeathEvents(const Napi::CallbackInfo& info);
  Napi::Value DisableDeathEvents(const Napi::CallbackInfo& info);
  Napi::Value EnableDiskEject(const Napi::CallbackInfo& info);
  Napi::Value DisableDiskEject(const Napi::CallbackInfo& info);
  static void EventOccurs(void* user, libxl_event* event);
  static void Disaster(void* user, libxl_event_type type, const char* msg, int errnoval);
  static void OnDispatch(uv_async_t* handle);
  void Dispatch();

  // core/xenstore.cc: domain arrivals and departures, the name cache.
  Napi::Value XenstoreLost(const Napi::CallbackInfo& info);
  Napi::Value WatchXenstore(const Napi::CallbackInfo& info);
  Napi::Value UnwatchXenstore(const Napi::CallbackInfo& info);
  static void OnXenstore(uv_poll_t* handle, int status, int events);
  void DrainWatches();
  bool OpenXenstore();
  const std::string* CachedName(uint32_t domid);
  void ForgetDomainsExcept(const libxl_dominfo* list, int n);

  // core/operation.cc
  Napi::Value Abort(const Napi::CallbackInfo& info);
  static void AoDone(libxl_ctx* ctx, int rc, void* for_callback);
  void SettleCompletions(Napi::Env env);
  // The worker thread and the way its results come back, made at the first long operation.
  Worker* EnsureWorker(Call& call);
  static void RunNext(Worker& w, Operation* op);
  static void WorkerAoDone(libxl_ctx* ctx, int rc, void* for_callback);
  static void FinishOnWorker(Operation* op);
  void Settle(Napi::Env env, Operation* op);
  void SettlePromise(Napi::Env env, Operation& op);
  void Forget(Operation& op);
  void OpStarted();
  void OpSettled();
  void Track(Operation* op);
  void Untrack(Operation* op);
  void AbortOnWorker(Worker& w, uint32_t abortId);

  // domain/list.cc
  Napi::Array PackDomains(Napi::Env env, const libxl_dominfo* list, int n);
  // debug/introspect.cc
  std::string GuestKind(Call& call, uint32_t domid);

  static const libxl_event_hooks kEventHooks;

  CaptureLogger logger_;
  libxl_ctx* ctx_ = nullptr;
  xc_interface* xch_ = nullptr;  // see Xc()
  std::unique_ptr<LoopBinding> loop_;
  uv_async_t* dispatch_ = nullptr;
  int refs_ = 0;
  Napi::FunctionReference onEvent_;
  std::deque<libxl_event*> events_;
  std::deque<std::string> disasters_;
  std::deque<Operation*> completions_;  // completed on this context, to settle from the loop
  int inflight_ = 0;
  // Abortable operations in flight, of this context and of its worker: abortId → operation.
  // Written on the JS thread, read on the worker too (AbortOnWorker).
  std::mutex abortMu_;
  std::unordered_map<uint32_t, Operation*> abortable_;
  std::unique_ptr<Worker> worker_;
  Napi::ThreadSafeFunction results_;
  bool domainsChanged_ = false;
  // libxenstore closes its socket for good when xenstored goes away and never reconnects, and
  // libxl's connection inside ctx_ goes with ours: set once a failure finds xenstore gone.
  bool xenstoreLost_ = false;
  // Bumped by xenstore when a domain comes or goes or dom0's vbd backends change: statistics
  // rescan blkback's sysfs directory only then (and after a failed read, and every few seconds).
  uint64_t vbdGeneration_ = 0;
  bool vbdWatched_ = false;
  std::unordered_map<uint64_t, libxl_evgen_domain_death*> deathGens_;
  std::unordered_map<uint64_t, libxl_evgen_disk_eject*> ejectGens_;
  uint64_t nextGen_ = 1;

  // Domain names, from xenstore, kept until the name's watch fires (rename, death).
  struct xs_handle* xsh_ = nullptr;
  uv_poll_t* xsPoll_ = nullptr;
  struct NameEntry {
    std::string name;
    bool valid;
    bool skipFirstEvent;  // xenstored fires every new watch once at once
  };
  std::unordered_map<uint32_t, NameEntry> names_;
  // Watches made for JS (watchXenstore): id → path; the paths that fired, to dispatch.
  std::unordered_map<uint64_t, std::string> pathWatches_;
  uint64_t nextPathWatch_ = 1;
  std::deque<std::string> firedPaths_;
};

// Scope of one libxl call: clears the captured log and builds the XenError on failure.
class Call {
 public:
  Call(Context* c, Napi::Env env, std::string op);
  libxl_ctx* ctx() const { return c_->ctx_; }
  // Throws the XenError for libxl return code rc (< 0).
  [[noreturn]] void Fail(int rc);
  // Same, with the errno the failing call left (for libxl paths that log without one).
  [[noreturn]] void FailErrno(int rc, int errnoval);
  [[noreturn]] void Fail(const std::string& code, const std::string& message, int errnoval = 0);

 private:
  Context* c_;
  Napi::Env env_;
  std::string op_;
};
