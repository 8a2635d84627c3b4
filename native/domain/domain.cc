// Domain queries: list, info, stored configuration, names.
#include <cstdio>
#include <map>
#include <mutex>

#include "core/context.h"
#include "core/errors.h"
#include "core/json.h"

namespace {

std::string UuidString(const libxl_uuid& u) {
  char buf[LIBXL_UUID_FMTLEN + 1];
  snprintf(buf, sizeof buf, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(u));
  return buf;
}

}  // namespace

// The hot path: one Float64Array of numbers (kListFields per domain, enums as libxl's codes),
// the UUIDs as one string (36 characters each) and the names joined by NUL; src/domain.ts
// builds the objects. ~100 napi_set_property calls per list cost more than libxl itself.
namespace {
constexpr int kListFields = 21;
}

Napi::Value Context::ListDomains(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "list domains");
  int n = 0;
  libxl_dominfo* list = libxl_list_domain(ctx_, &n);
  if (!list) call.Fail(ERROR_FAIL);
  DrainWatches();
  ForgetDomainsExcept(list, n);
  Napi::Array out = PackDomains(env, list, n);
  libxl_dominfo_list_free(list, n);
  // Names come from xenstore: without it the list would be silently nameless.
  if (xenstoreLost_) call.Fail("ERR_XENSTORE_LOST", "the xenstore connection is lost (xenstored stopped or restarted)");
  return out;
}

Napi::Array Context::PackDomains(Napi::Env env, const libxl_dominfo* list, int n) {
  Napi::Float64Array nums = Napi::Float64Array::New(env, static_cast<size_t>(n) * kListFields);
  double* f = nums.Data();
  std::string uuids;
  std::string names;
  Napi::Array labels = Napi::Array::New(env);
  for (int i = 0; i < n; i++) {
    const libxl_dominfo& d = list[i];
    const std::string* name = CachedName(d.domid);
    double* r = f + static_cast<size_t>(i) * kListFields;
    r[0] = d.domid;
    r[1] = d.ssidref;
    r[2] = d.running;
    r[3] = d.blocked;
    r[4] = d.paused;
    r[5] = d.shutdown;
    r[6] = d.dying;
    r[7] = d.never_stop;
    r[8] = d.shutdown_reason;
    r[9] = static_cast<double>(d.outstanding_memkb);
    r[10] = static_cast<double>(d.current_memkb);
    r[11] = static_cast<double>(d.shared_memkb);
    r[12] = static_cast<double>(d.paged_memkb);
    r[13] = static_cast<double>(d.max_memkb);
    r[14] = static_cast<double>(d.cpu_time);
    r[15] = d.vcpu_max_id;
    r[16] = d.vcpu_online;
    r[17] = d.cpupool;
    r[18] = d.gpaddr_bits;
    r[19] = d.domain_type;
    r[20] = name != nullptr;
    uuids += UuidString(d.uuid);
    if (i) names += '\0';
    if (name) names += *name;
    if (d.ssid_label) labels.Set(static_cast<uint32_t>(i), d.ssid_label);
  }
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, nums);
  out.Set(1u, Napi::String::New(env, uuids));
  out.Set(2u, Napi::String::New(env, names));
  out.Set(3u, labels);
  return out;
}

Napi::Value Context::DomainInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, env, "domain info of " + std::to_string(domid));
  libxl_dominfo d;
  libxl_dominfo_init(&d);
  int rc = libxl_domain_info(ctx_, &d, domid);
  if (rc) {
    libxl_dominfo_dispose(&d);
    call.Fail(rc);
  }
  DrainWatches();
  Napi::Array o = PackDomains(env, &d, 1);
  libxl_dominfo_dispose(&d);
  return o;
}

// What `xl list -l` prints for a domain: the configuration libxl stored, updated from the
// running domain.
// (domid) → Promise<JSON>. Asynchronous: for a guest with a device model libxl takes the
// device lock (forking a child that waits for it when another operation holds it) and asks
// QEMU over QMP; done synchronously on this thread, that child's SIGCHLD could never arrive.
Napi::Value Context::DomainConfigJson(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string op = "configuration of domain " + std::to_string(domid);
  Call call(this, info.Env(), op);
  auto* cfg = new libxl_domain_config;
  libxl_domain_config_init(cfg);
  libxl_ctx* ctx = ctx_;
  return StartAo(info.Env(), op, [ctx, domid, cfg](const libxl_asyncop_how* how) {
    return libxl_retrieve_domain_configuration(ctx, domid, cfg, how);
  }, [cfg] {
    libxl_domain_config_dispose(cfg);
    delete cfg;
  }, 0, [ctx, cfg, op](Napi::Env env) -> Napi::Value {
    char* json = libxl_domain_config_to_json(ctx, cfg);
    if (!json) throw MakeXenError(env, op, op + ": out of memory", "ERROR_NOMEM", 0, {});
    Napi::String s = Napi::String::New(env, json);
    free(json);
    return s;
  });
}

// ---- control: libxl asynchronous operations, settled through the loop.

namespace {
// An ao on the JS thread's context for a libxl call of the form f(ctx, domid, ao_how).
using DomidAo = int (*)(libxl_ctx*, uint32_t, const libxl_asyncop_how*);
}  // namespace

#define XENLIGHT_DOMID_AO(Method, verb, fn)                                                          \
  Napi::Value Context::Method(const Napi::CallbackInfo& info) {                                       \
    uint32_t domid = ArgDomid(info, 0);                                                               \
    libxl_ctx* ctx = ctx_;                                                                            \
    DomidAo f = fn;                                                                                   \
    return StartAo(info.Env(), verb " domain " + std::to_string(domid),                              \
                   [ctx, f, domid](const libxl_asyncop_how* how) { return f(ctx, domid, how); });     \
  }

XENLIGHT_DOMID_AO(Destroy, "destroy", libxl_domain_destroy)
XENLIGHT_DOMID_AO(Pause, "pause", libxl_domain_pause)
XENLIGHT_DOMID_AO(Unpause, "unpause", libxl_domain_unpause)
XENLIGHT_DOMID_AO(Shutdown, "shut down", libxl_domain_shutdown)
XENLIGHT_DOMID_AO(Reboot, "reboot", libxl_domain_reboot)

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
      info.Env(), op, [ctx, domid, map](const libxl_asyncop_how* how) { return libxl_set_vcpuonline(ctx, domid, map, how); },
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

// ---- operations that block their thread (create, core dump) run on the worker.

struct WorkerOp {
  Context* self;
  Napi::Promise::Deferred deferred;
  std::string op;
  Worker* worker = nullptr;
  Napi::ThreadSafeFunction* results = nullptr;
  // On the worker: asynchronous libxl calls run one after the other while they succeed (e.g.
  // suspend, then destroy). Each is an ao with a callback: a synchronous call that forks
  // (destroy runs hotplug scripts) would wait inside libxl for a SIGCHLD that only this
  // thread's loop can deliver, and deadlock.
  using Stage = std::function<int(libxl_ctx*, const libxl_asyncop_how*, WorkerOp*)>;
  std::vector<Stage> stages;
  size_t stage = 0;
  // After a failure, an asynchronous undo (e.g. resume after a failed save); its result is
  // not reported over the original error.
  Stage onFailure;
  bool undoing = false;
  // On the JS thread, once settled: frees what the operation used.
  std::function<void()> cleanup;
  bool resolveDomid = false;
  uint32_t domid = INVALID_DOMID;
  // Names the operation for abortWorkerOp (0: not abortable).
  uint32_t abortId = 0;
  uint64_t mark = 0;
  int rc = 0;
  std::vector<std::string> lines;
};

namespace {

// Abortable operations in flight, by (context, id). Registered on the JS thread, looked up on
// the worker; an op leaves the table before it is freed.
std::mutex abortableMu;
std::map<std::pair<Context*, uint32_t>, WorkerOp*> abortable;

void Settle(Napi::Env env, Napi::Function, WorkerOp* op) {
  std::unique_ptr<WorkerOp> owned(op);
  if (op->abortId) {
    std::lock_guard<std::mutex> lock(abortableMu);
    abortable.erase({op->self, op->abortId});
  }
  if (op->cleanup) op->cleanup();
  // Called from libuv (the ThreadSafeFunction's async handle), outside any call from JS: no C++
  // exception may leave it. napi calls fail while a worker thread's environment is torn down
  // with an operation settling (JS can no longer run); the promise is then moot.
  try {
    if (op->rc == 0) {
      op->deferred.Resolve(op->resolveDomid ? Napi::Value(Napi::Number::New(env, op->domid)) : env.Undefined());
    } else {
      std::string code = LibxlErrorName(op->rc);
      std::string msg = FailureMessage(op->op, code, op->lines);
      op->self->MapXenstoreLoss(code, msg);
      Napi::Error err = MakeXenError(env, op->op, msg, code, 0, op->lines);
      // The domain a failed create had made (libxl tells it early), for the caller's clean-up.
      if (op->resolveDomid && op->domid != static_cast<uint32_t>(INVALID_DOMID)) err.Set("domid", Napi::Number::New(env, op->domid));
      op->deferred.Reject(err.Value());
    }
  } catch (const Napi::Error&) {
  }
  try {
    op->self->OpSettledFromWorker();
  } catch (const Napi::Error&) {
  }
}

void Finish(Worker& w, WorkerOp* op) {
  op->results->NonBlockingCall(op, Settle);
}

void WorkerAoDone(libxl_ctx*, int rc, void* p);

int UnpauseStage(libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp* o) {
  return libxl_domain_unpause(ctx, o->domid, how);
}

// Worker thread: starts the next stage (or the undo); finishes when there is nothing to start.
void RunNext(Worker& w, WorkerOp* op) {
  for (;;) {
    WorkerOp::Stage* next = nullptr;
    if (op->undoing) {
      next = nullptr;
    } else if (op->rc != 0) {
      op->lines = w.logger().Since(op->mark);
      if (op->onFailure) {
        op->undoing = true;
        next = &op->onFailure;
      }
    } else if (op->stage < op->stages.size()) {
      next = &op->stages[op->stage++];
    }
    if (!next) return Finish(w, op);
    libxl_asyncop_how how;
    how.callback = WorkerAoDone;
    how.u.for_callback = op;
    int rc = (*next)(w.ctx(), &how, op);
    if (rc == 0) return;  // the callback continues
    // A failed initiation never calls back.
    if (!op->undoing) op->rc = rc;
  }
}

// libxl calls back here, possibly inside the initiating call: continue as a job of its own,
// outside libxl's callback.
void WorkerAoDone(libxl_ctx*, int rc, void* p) {
  auto* op = static_cast<WorkerOp*>(p);
  if (!op->undoing) op->rc = rc;
  op->worker->Post([op](Worker& w) { RunNext(w, op); });
}

}  // namespace

Napi::Value Context::StartWorkerAo(Call& call, std::unique_ptr<WorkerOp> op) {
  op->worker = EnsureWorker(call);
  op->results = &results_;
  Napi::Promise promise = op->deferred.Promise();
  OpStarted();
  WorkerOp* raw = op.release();
  if (raw->abortId) {
    std::lock_guard<std::mutex> lock(abortableMu);
    abortable[{this, raw->abortId}] = raw;
  }
  raw->worker->Post([raw](Worker& w) {
    raw->mark = w.logger().Mark();
    RunNext(w, raw);
  });
  return promise;
}

// (id): libxl_ao_abort on the operation started with that abort id, on its worker. libxl may
// still complete it; the TypeScript side undoes a create that completes anyway.
Napi::Value Context::AbortWorkerOp(const Napi::CallbackInfo& info) {
  uint32_t id = ArgU32(info, 0, "abort id");
  Context* self = this;
  std::lock_guard<std::mutex> lock(abortableMu);
  auto it = abortable.find({self, id});
  if (it == abortable.end()) return Napi::Boolean::New(info.Env(), false);
  it->second->worker->Post([self, id](Worker& w) {
    std::lock_guard<std::mutex> lock(abortableMu);
    auto found = abortable.find({self, id});
    if (found == abortable.end()) return;
    libxl_asyncop_how how;
    how.callback = WorkerAoDone;
    how.u.for_callback = found->second;
    libxl_ao_abort(w.ctx(), &how);
  });
  return Napi::Boolean::New(info.Env(), true);
}

// (libxl_domain_config JSON, paused) → Promise<domid>. The build blocks its thread for
// seconds (libxc unpacks the kernel inside the call).
Napi::Value Context::CreateDomain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "create domain");
  // Every argument is checked before anything is allocated: a throw leaks nothing.
  std::string text = ArgString(info, 0, "domain configuration JSON");
  bool paused = ArgBool(info, 1, "paused", false);
  uint32_t abortId = static_cast<uint32_t>(ArgOptInt(info, 2, "abort id", 0, UINT32_MAX, 0));
  auto* cfg = new libxl_domain_config;
  libxl_domain_config_init(cfg);
  auto freeCfg = [cfg] {
    libxl_domain_config_dispose(cfg);
    delete cfg;
  };
  if (libxl_domain_config_from_json(ctx_, cfg, text.c_str())) {
    freeCfg();
    call.Fail("ERR_INVALID_ARG", "libxl rejected the domain configuration JSON");
  }
  auto op = std::make_unique<WorkerOp>(WorkerOp{this, Napi::Promise::Deferred::New(env), "create domain"});
  op->abortId = abortId;
  op->stages.push_back([cfg](libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp* o) {
    return libxl_domain_create_new(ctx, cfg, &o->domid, how, nullptr);
  });
  // libxl leaves a new domain paused; xl create unpauses it unless -p.
  if (!paused) op->stages.push_back(UnpauseStage);
  op->cleanup = freeCfg;
  op->resolveDomid = true;
  return StartWorkerAo(call, std::move(op));
}

// (domid) → whether it removed anything: the xenstore directories of a domain that no longer
// exists. A create that another toolstack destroyed halfway goes on writing its nodes after
// the destroy removed them, and nobody else would remove them.
Napi::Value Context::RemoveStaleDomainPaths(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "remove the xenstore nodes of gone domain " + std::to_string(domid));
  if (domid == 0) call.Fail("ERR_INVALID_ARG", "domain 0 always exists");
  int rc = libxl_domain_info(ctx_, nullptr, domid);
  if (rc != ERROR_DOMAIN_NOTFOUND) return Napi::Boolean::New(info.Env(), false);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  bool removed = false;
  std::vector<std::string> paths = {"/local/domain/" + std::to_string(domid), "/libxl/" + std::to_string(domid)};
  // dom0's backends of the gone domain: a device add racing its destroy writes them after the
  // destroy has walked the domain's devices (backend/<kind>/<domid>).
  unsigned int nkinds = 0;
  char** kinds = xs_directory(xsh_, XBT_NULL, "/local/domain/0/backend", &nkinds);
  for (unsigned int i = 0; kinds && i < nkinds; i++) {
    paths.push_back(std::string("/local/domain/0/backend/") + kinds[i] + "/" + std::to_string(domid));
  }
  free(kinds);
  for (const std::string& path : paths) {
    unsigned int n = 0;
    char** ls = xs_directory(xsh_, XBT_NULL, path.c_str(), &n);
    if (!ls) continue;  // not there
    free(ls);
    if (xs_rm(xsh_, XBT_NULL, path.c_str())) removed = true;
  }
  return Napi::Boolean::New(info.Env(), removed);
}

// (path) → the value at a xenstore path, or null where there is none. For the clean-up after a
// gone domain, which reads what a hotplug script recorded before running its remove.
Napi::Value Context::XenstoreRead(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  Call call(this, info.Env(), "xenstore read " + path);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  unsigned int len = 0;
  char* value = static_cast<char*>(xs_read(xsh_, XBT_NULL, path.c_str(), &len));
  if (!value) return info.Env().Null();
  Napi::String out = Napi::String::New(info.Env(), value, len);
  free(value);
  return out;
}

// (path) → the names under a xenstore path ([] where there is none).
Napi::Value Context::XenstoreDirectory(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  Call call(this, info.Env(), "xenstore directory " + path);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  unsigned int n = 0;
  char** ls = xs_directory(xsh_, XBT_NULL, path.c_str(), &n);
  Napi::Array out = Napi::Array::New(info.Env(), ls ? n : 0);
  for (unsigned int i = 0; ls && i < n; i++) out.Set(i, Napi::String::New(info.Env(), ls[i]));
  free(ls);
  return out;
}

// (domid, file): `xl dump-core`; writes the whole guest memory, so on the worker.
Napi::Value Context::CoreDump(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string file = ArgString(info, 1, "file");
  std::string name = "core dump of domain " + std::to_string(domid);
  Call call(this, info.Env(), name);
  auto op = std::make_unique<WorkerOp>(WorkerOp{this, Napi::Promise::Deferred::New(info.Env()), name});
  op->stages.push_back([domid, file](libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp*) {
    return libxl_domain_core_dump(ctx, domid, file.c_str(), how);
  });
  return StartWorkerAo(call, std::move(op));
}

// (domid, fd, after, flags) → `xl save`'s libxl part: the domain's state as libxl's stream,
// appended to fd (the TypeScript side wrote xl's header first). Then, as xl does: destroy the
// domain (after 0), resume it (after 1, `xl save -c`), or leave it suspended (after 2: a
// migration sender, which decides after the receiver's answer). A failed suspend resumes it.
// flags: LIBXL_SUSPEND_LIVE for migration.
Napi::Value Context::SaveDomain(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  int fd = static_cast<int>(ArgInt(info, 1, "fd", 0, INT32_MAX));
  int after = static_cast<int>(ArgInt(info, 2, "after", 0, 2));
  int flags = static_cast<int>(ArgOptInt(info, 3, "flags", 0, INT32_MAX, 0));
  std::string name = (flags & LIBXL_SUSPEND_LIVE ? "migrate domain " : "save domain ") + std::to_string(domid);
  Call call(this, info.Env(), name);
  if (after < 0 || after > 2 || (flags & ~(LIBXL_SUSPEND_LIVE | LIBXL_SUSPEND_DEBUG))) {
    call.Fail("ERR_INVALID_ARG", "bad save mode");
  }
  auto op = std::make_unique<WorkerOp>(WorkerOp{this, Napi::Promise::Deferred::New(info.Env()), name});
  op->stages.push_back([domid, fd, flags](libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp*) {
    return libxl_domain_suspend(ctx, domid, fd, flags, how);
  });
  if (after != 2) {
    op->stages.push_back([domid, after](libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp*) {
      return after == 1 ? libxl_domain_resume(ctx, domid, 1, how) : libxl_domain_destroy(ctx, domid, how);
    });
  }
  op->onFailure = [domid](libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp*) {
    return libxl_domain_resume(ctx, domid, 1, how);
  };
  return StartWorkerAo(call, std::move(op));
}

// (domid) → resumes a suspended domain (a migration sender whose receiver failed).
Napi::Value Context::Resume(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  libxl_ctx* ctx = ctx_;
  return StartAo(info.Env(), "resume domain " + std::to_string(domid), [ctx, domid](const libxl_asyncop_how* how) {
    return libxl_domain_resume(ctx, domid, 1, how);
  });
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

// (libxl_domain_config JSON, fd at the start of libxl's stream, paused) → Promise<domid>.
Napi::Value Context::RestoreDomain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "restore domain");
  std::string text = ArgString(info, 0, "domain configuration JSON");
  int fd = static_cast<int>(ArgInt(info, 1, "fd", 0, INT32_MAX));
  bool paused = ArgBool(info, 2, "paused", false);
  auto* cfg = new libxl_domain_config;
  libxl_domain_config_init(cfg);
  auto freeCfg = [cfg] {
    libxl_domain_config_dispose(cfg);
    delete cfg;
  };
  if (text.empty() || libxl_domain_config_from_json(ctx_, cfg, text.c_str())) {
    freeCfg();
    call.Fail("ERR_INVALID_ARG", "libxl rejected the domain configuration JSON of the image");
  }
  auto op = std::make_unique<WorkerOp>(WorkerOp{this, Napi::Promise::Deferred::New(env), "restore domain"});
  op->stages.push_back([cfg, fd](libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp* o) {
    libxl_domain_restore_params params;
    libxl_domain_restore_params_init(&params);
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;
    int rc = libxl_domain_create_restore(ctx, cfg, &o->domid, fd, -1, &params, how, nullptr);
    libxl_domain_restore_params_dispose(&params);
    return rc;
  });
  if (!paused) op->stages.push_back(UnpauseStage);
  op->cleanup = freeCfg;
  op->resolveDomid = true;
  return StartWorkerAo(call, std::move(op));
}
