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
// the UUIDs as one string (36 characters each) and the names joined by NUL; src/core/domain-info.ts
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
  return StartAo(
      info.Env(), op,
      [ctx, domid, cfg](const libxl_asyncop_how* how) {
        return libxl_retrieve_domain_configuration(ctx, domid, cfg, how);
      },
      [cfg] {
        libxl_domain_config_dispose(cfg);
        delete cfg;
      },
      0,
      [ctx, cfg, op](Napi::Env env) -> Napi::Value {
        char* json = libxl_domain_config_to_json(ctx, cfg);
        if (!json) throw MakeXenError(env, op, op + ": out of memory", "ERROR_NOMEM", 0, {});
        Napi::String s = Napi::String::New(env, json);
        free(json);
        return s;
      });
}
