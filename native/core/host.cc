// Host queries: physical info, version, scheduler, free CPUs (what `xl info` shows).
#include "core/context.h"
#include "core/errors.h"

Napi::Value Context::PhysinfoJson(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "physinfo");
  libxl_physinfo p;
  libxl_physinfo_init(&p);
  int rc = libxl_get_physinfo(ctx_, &p);
  if (rc) {
    libxl_physinfo_dispose(&p);
    call.Fail(rc);
  }
  char* json = libxl_physinfo_to_json(ctx_, &p);
  // libxl's JSON carries only the first 4 words of hw_cap; xl info prints all 8.
  Napi::Array hwCap = Napi::Array::New(info.Env(), 8);
  for (uint32_t i = 0; i < 8; i++) hwCap.Set(i, p.hw_cap[i]);
  libxl_physinfo_dispose(&p);
  if (!json) call.Fail(ERROR_NOMEM);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("json", json);
  out.Set("hw_cap", hwCap);
  free(json);
  return out;
}

Napi::Value Context::VersionInfoJson(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "version info");
  const libxl_version_info* v = libxl_get_version_info(ctx_);
  if (!v) call.Fail(ERROR_FAIL);
  char* json = libxl_version_info_to_json(ctx_, const_cast<libxl_version_info*>(v));
  if (!json) call.Fail(ERROR_NOMEM);
  Napi::String s = Napi::String::New(info.Env(), json);
  free(json);
  return s;
}

Napi::Value Context::Scheduler(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "scheduler");
  int sched = libxl_get_scheduler(ctx_);
  if (sched < 0) call.Fail(sched);
  const char* name = libxl_scheduler_to_string(static_cast<libxl_scheduler>(sched));
  return Napi::String::New(info.Env(), name ? name : "unknown");
}

Napi::Value Context::FreeCpus(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "free cpus");
  libxl_bitmap map;
  libxl_bitmap_init(&map);
  int rc = libxl_get_freecpus(ctx_, &map);
  if (rc) {
    libxl_bitmap_dispose(&map);
    call.Fail(rc);
  }
  Napi::Array cpus = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (int i = 0; i < static_cast<int>(map.size) * 8; i++) {
    if (libxl_bitmap_test(&map, i)) cpus.Set(n++, i);
  }
  libxl_bitmap_dispose(&map);
  return cpus;
}
