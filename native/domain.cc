// Domain queries: list, info, stored configuration, names.
#include <cstdio>

#include "context.h"
#include "errors.h"
#include "json.h"

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

Napi::Value Context::DomainName(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "name of domain " + std::to_string(domid));
  DrainWatches();
  const std::string* name = CachedName(domid);
  return name ? Napi::Value(Napi::String::New(info.Env(), *name)) : info.Env().Null();
}

// What `xl list -l` prints for a domain: the configuration libxl stored, updated from the
// running domain.
Napi::Value Context::DomainConfigJson(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "configuration of domain " + std::to_string(domid));
  libxl_domain_config cfg;
  libxl_domain_config_init(&cfg);
  int rc = libxl_retrieve_domain_configuration(ctx_, domid, &cfg, nullptr);
  if (rc) {
    libxl_domain_config_dispose(&cfg);
    call.Fail(rc);
  }
  char* json = libxl_domain_config_to_json(ctx_, &cfg);
  libxl_domain_config_dispose(&cfg);
  if (!json) call.Fail(ERROR_NOMEM);
  Napi::String s = Napi::String::New(info.Env(), json);
  free(json);
  return s;
}

// ---- control: libxl asynchronous operations, settled through the loop.

Napi::Value Context::Destroy(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  return StartAo(info.Env(), "destroy domain " + std::to_string(domid), libxl_domain_destroy, domid);
}

Napi::Value Context::Pause(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  return StartAo(info.Env(), "pause domain " + std::to_string(domid), libxl_domain_pause, domid);
}

Napi::Value Context::Unpause(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  return StartAo(info.Env(), "unpause domain " + std::to_string(domid), libxl_domain_unpause, domid);
}

// ---- create: the build blocks the calling thread for seconds, so it runs on the worker.

namespace {

struct CreateOp {
  Context* self;
  Napi::Promise::Deferred deferred;
  Worker* worker;
  Napi::ThreadSafeFunction* results;
  libxl_domain_config cfg;
  bool paused;
  uint32_t domid = INVALID_DOMID;
  uint64_t mark = 0;
  int rc = 0;
  std::vector<std::string> lines;
};

void Settle(Napi::Env env, Napi::Function, CreateOp* op);

// Worker thread: libxl calls back here (possibly inside the initiating call); only record and
// hand the result to the JS thread.
void CreateDone(libxl_ctx*, int rc, void* p) {
  auto* op = static_cast<CreateOp*>(p);
  op->rc = rc;
  // libxl leaves a new domain paused (xl create unpauses it unless -p): do that as a job of
  // its own, outside libxl's callback.
  op->worker->Post([op](Worker& w) {
    if (op->rc == 0 && !op->paused) op->rc = libxl_domain_unpause(w.ctx(), op->domid, nullptr);
    if (op->rc) op->lines = w.logger().Since(op->mark);
    op->results->NonBlockingCall(op, Settle);
  });
}

void Settle(Napi::Env env, Napi::Function, CreateOp* op) {
  std::unique_ptr<CreateOp> owned(op);
  libxl_domain_config_dispose(&op->cfg);
  if (op->rc == 0) {
    op->deferred.Resolve(Napi::Number::New(env, op->domid));
  } else {
    std::string code = LibxlErrorName(op->rc);
    std::string msg = "create domain failed (" + code + ")";
    for (auto it = op->lines.rbegin(); it != op->lines.rend(); ++it) {
      if (it->find(": error: ") != std::string::npos) {
        msg += ": " + *it;
        break;
      }
    }
    op->deferred.Reject(MakeXenError(env, "create domain", msg, code, 0, op->lines).Value());
  }
  op->self->OpSettledFromWorker();
}

}  // namespace

// (libxl_domain_config JSON, paused) → Promise<domid>
Napi::Value Context::CreateDomain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "create domain");
  auto op = std::make_unique<CreateOp>(CreateOp{this, Napi::Promise::Deferred::New(env), nullptr, &results_, {}, false});
  libxl_domain_config_init(&op->cfg);
  if (!info[0].IsString()) {
    libxl_domain_config_dispose(&op->cfg);
    call.Fail("ERR_INVALID_ARG", "expected libxl JSON text");
  }
  std::string text = info[0].As<Napi::String>().Utf8Value();
  int rc = libxl_domain_config_from_json(ctx_, &op->cfg, text.c_str());
  if (rc) {
    libxl_domain_config_dispose(&op->cfg);
    call.Fail("ERR_INVALID_ARG", "libxl rejected the domain configuration JSON");
  }
  op->paused = info.Length() > 1 && info[1].ToBoolean();
  op->worker = EnsureWorker(call);
  Napi::Promise promise = op->deferred.Promise();
  OpStarted();
  CreateOp* raw = op.release();
  raw->worker->Post([raw](Worker& w) {
    raw->mark = w.logger().Mark();
    libxl_asyncop_how how;
    how.callback = CreateDone;
    how.u.for_callback = raw;
    int rc = libxl_domain_create_new(w.ctx(), &raw->cfg, &raw->domid, &how, nullptr);
    if (rc) {
      // A failed initiation never calls back.
      raw->rc = rc;
      raw->lines = w.logger().Since(raw->mark);
      raw->results->NonBlockingCall(raw, Settle);
    }
  });
  return promise;
}
