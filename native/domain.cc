// Domain queries: list, info, stored configuration, names.
#include <cstdio>

#include "context.h"
#include "errors.h"

namespace {

std::string UuidString(const libxl_uuid& u) {
  char buf[LIBXL_UUID_FMTLEN + 1];
  snprintf(buf, sizeof buf, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(u));
  return buf;
}

// Built directly (not through libxl's JSON): the list is the hot path. Keys and enum strings
// are libxl's own, as libxl_dominfo_to_json would print them.
Napi::Object DominfoObject(Napi::Env env, const libxl_dominfo& d, const std::string* name) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("domid", d.domid);
  o.Set("name", name ? Napi::Value(Napi::String::New(env, *name)) : env.Null());
  o.Set("uuid", UuidString(d.uuid));
  o.Set("ssidref", d.ssidref);
  if (d.ssid_label) o.Set("ssid_label", d.ssid_label);
  o.Set("running", d.running);
  o.Set("blocked", d.blocked);
  o.Set("paused", d.paused);
  o.Set("shutdown", d.shutdown);
  o.Set("dying", d.dying);
  o.Set("never_stop", d.never_stop);
  const char* reason = libxl_shutdown_reason_to_string(d.shutdown_reason);
  o.Set("shutdown_reason", reason ? reason : "unknown");
  o.Set("outstanding_memkb", static_cast<double>(d.outstanding_memkb));
  o.Set("current_memkb", static_cast<double>(d.current_memkb));
  o.Set("shared_memkb", static_cast<double>(d.shared_memkb));
  o.Set("paged_memkb", static_cast<double>(d.paged_memkb));
  o.Set("max_memkb", static_cast<double>(d.max_memkb));
  o.Set("cpu_time", static_cast<double>(d.cpu_time));
  o.Set("vcpu_max_id", d.vcpu_max_id);
  o.Set("vcpu_online", d.vcpu_online);
  o.Set("cpupool", d.cpupool);
  o.Set("gpaddr_bits", d.gpaddr_bits);
  const char* type = libxl_domain_type_to_string(d.domain_type);
  o.Set("domain_type", type ? type : "invalid");
  return o;
}

}  // namespace

Napi::Value Context::ListDomains(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "list domains");
  int n = 0;
  libxl_dominfo* list = libxl_list_domain(ctx_, &n);
  if (!list) call.Fail(ERROR_FAIL);
  DrainWatches();
  ForgetDomainsExcept(list, n);
  Napi::Array arr = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) arr.Set(i, DominfoObject(env, list[i], CachedName(list[i].domid)));
  libxl_dominfo_list_free(list, n);
  return arr;
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
  Napi::Object o = DominfoObject(env, d, CachedName(domid));
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
