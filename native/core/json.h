// libxl's JSON as the bridge for its structured types: one template instead of a pair of
// converters per type.
#pragma once
#include <napi.h>

#include <cstdlib>
#include <string>

#include "core/context.h"

template <typename T>
struct LibxlJson;

#define XENLIGHT_JSON_TYPE_BASE(T)                                                  \
  static void Init(libxl_##T* p) { libxl_##T##_init(p); }                           \
  static char* To(libxl_ctx* c, libxl_##T* p) { return libxl_##T##_to_json(c, p); } \
  static int From(libxl_ctx* c, libxl_##T* p, const char* s) { return libxl_##T##_from_json(c, p, s); }

#define XENLIGHT_JSON_TYPE(T)                                     \
  template <>                                                     \
  struct LibxlJson<libxl_##T> {                                   \
    XENLIGHT_JSON_TYPE_BASE(T)                                    \
    static void Dispose(libxl_##T* p) { libxl_##T##_dispose(p); } \
  };

// Types with nothing to free have no _dispose in libxl.
#define XENLIGHT_JSON_TYPE_PLAIN(T)    \
  template <>                          \
  struct LibxlJson<libxl_##T> {        \
    XENLIGHT_JSON_TYPE_BASE(T)         \
    static void Dispose(libxl_##T*) {} \
  };

XENLIGHT_JSON_TYPE(domain_sched_params)
XENLIGHT_JSON_TYPE(vcpu_sched_params)
XENLIGHT_JSON_TYPE_PLAIN(sched_credit_params)
XENLIGHT_JSON_TYPE_PLAIN(sched_credit2_params)
XENLIGHT_JSON_TYPE(vcpuinfo)
XENLIGHT_JSON_TYPE(cpupoolinfo)
XENLIGHT_JSON_TYPE(cputopology)
XENLIGHT_JSON_TYPE(numainfo)
XENLIGHT_JSON_TYPE(device_disk)
XENLIGHT_JSON_TYPE(device_nic)
XENLIGHT_JSON_TYPE(device_pci)
XENLIGHT_JSON_TYPE(device_usbctrl)
XENLIGHT_JSON_TYPE(device_usbdev)
XENLIGHT_JSON_TYPE(diskinfo)
XENLIGHT_JSON_TYPE(nicinfo)
XENLIGHT_JSON_TYPE(usbctrlinfo)

// A libxl value that is disposed of when it goes out of scope.
template <typename T>
class Owned {
 public:
  Owned() { LibxlJson<T>::Init(&v_); }
  ~Owned() { LibxlJson<T>::Dispose(&v_); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  T* get() { return &v_; }
  T* operator->() { return &v_; }

 private:
  T v_;
};

// libxl's JSON text of a value (fails the call on allocation failure).
template <typename T>
std::string ToJson(Call& call, T* v) {
  char* s = LibxlJson<T>::To(call.ctx(), v);
  if (!s) call.Fail(ERROR_NOMEM);
  std::string out(s);
  free(s);
  return out;
}

// Fills v from libxl's JSON text in arg (the TypeScript side built and validated it).
template <typename T>
void FromJson(Call& call, T* v, const Napi::Value& arg) {
  if (!arg.IsString()) call.Fail("ERR_INVALID_ARG", "expected libxl JSON text");
  std::string text = arg.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos)
    call.Fail("ERR_INVALID_ARG", "libxl JSON text must not contain a NUL character");
  int rc = LibxlJson<T>::From(call.ctx(), v, text.c_str());
  if (rc) call.Fail("ERR_INVALID_ARG", "libxl rejected the JSON: " + text);
}

// A JSON array of the JSON of each element of a libxl list.
template <typename T>
std::string ListJson(Call& call, T* list, int n) {
  std::string out = "[";
  for (int i = 0; i < n; i++) {
    if (i) out += ',';
    out += ToJson(call, &list[i]);
  }
  return out + "]";
}

// A libxl list call's result as one JSON array string, the list freed (fails the call if libxl
// returned no list).
template <typename T>
Napi::Value ListResult(Call& call, Napi::Env env, T* list, int n, void (*free_list)(T*, int)) {
  if (!list) call.Fail(ERROR_FAIL);
  std::string json;
  try {
    json = ListJson(call, list, n);
  } catch (...) {
    free_list(list, n);
    throw;
  }
  free_list(list, n);
  return Napi::String::New(env, json);
}
