// Host diagnostics: the hypervisor's console ring (xl dmesg), Intel CMT (xl psr-cmt-*),
// transcendent memory (xl tmem-*). Thin: convert, call, fail with libxl's code and log lines;
// src/monitor/hostdiag.ts gives the failures their meaning.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/errors.h"

namespace {
// libxl's console reader hands out buffers of at most this many characters.
constexpr size_t kLibxlConsoleChunk = 16384;
constexpr unsigned int kRingChunk = 65536;

}  // namespace

// `xl dmesg [-c]`: libxl's console reader, every chunk concatenated.
Napi::Value Context::XenConsoleRead(const Napi::CallbackInfo& info) {
  bool clear = ArgBool(info, 0, "clear", false);
  Call call(this, info.Env(), clear ? "read and clear the hypervisor console" : "read the hypervisor console");
  libxl_xen_console_reader* cr = libxl_xen_console_read_start(ctx_, clear ? 1 : 0);
  if (!cr) call.Fail(ERROR_NOMEM);
  std::string text;
  char* line = nullptr;
  int rc;
  while ((rc = libxl_xen_console_read_line(ctx_, cr, &line)) > 0) {
    text.append(line, strnlen(line, kLibxlConsoleChunk));
  }
  libxl_xen_console_read_finish(ctx_, cr);
  if (rc < 0) call.Fail(rc);
  return Napi::String::New(info.Env(), text);
}

// The console ring from a producer index (xc_readconsolering, incremental), for readers that
// want only what is new. index null: from the oldest character the ring still holds.
// Returns { text, start, index }: text is the ring from start (Xen's index of its first
// character) up to index (where the next read should begin).
Napi::Value Context::XenConsoleReadFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool fromOldest = info.Length() == 0 || info[0].IsNull() || info[0].IsUndefined();
  uint32_t index = fromOldest ? 0 : ArgU32(info, 0, "index");
  Call call(this, env, "read the hypervisor console ring");
  xc_interface* xch = Xc(call);  // the context's own: a reader polling the ring opens nothing per read
  std::vector<char> buf(kRingChunk);
  std::string text;
  uint32_t start = 0;
  for (bool first = true;; first = false) {
    unsigned int n = kRingChunk;
    int incremental = first && fromOldest ? 0 : 1;
    if (xc_readconsolering(xch, buf.data(), &n, 0, incremental, &index) < 0) {
      call.FailErrno(ERROR_FAIL, errno);
    }
    if (first) start = index - n;
    text.append(buf.data(), n);
    if (n < kRingChunk) break;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("text", text);
  out.Set("start", start);
  out.Set("index", index);
  return out;
}

// ---- Intel CMT (libxl_psr_cmt_*)

Napi::Value Context::PsrCmtAttach(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  bool attach = ArgBool(info, 1, "attach", true);
  Call call(this, info.Env(),
            std::string(attach ? "CMT attach of domain " : "CMT detach of domain ") + std::to_string(domid));
  errno = 0;
  int rc = attach ? libxl_psr_cmt_attach(ctx_, domid) : libxl_psr_cmt_detach(ctx_, domid);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::PsrCmtEnabled(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "CMT enabled");
  return Napi::Boolean::New(info.Env(), libxl_psr_cmt_enabled(ctx_) != 0);
}

// libxl answers 0 both for "not supported" and for a failed query; a failed query has logged
// an error, which becomes a failure here.
Napi::Value Context::PsrCmtTypeSupported(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "type");
  Call call(this, info.Env(), "CMT type " + name);
  libxl_psr_cmt_type type;
  if (libxl_psr_cmt_type_from_string(name.c_str(), &type)) call.Fail("ERR_INVALID_ARG", "unknown CMT type " + name);
  errno = 0;
  int rc = libxl_psr_cmt_type_supported(ctx_, type);
  if (rc == 0 && logger_.CallErrno()) call.Fail(ERROR_FAIL);
  return Napi::Boolean::New(info.Env(), rc != 0);
}

Napi::Value Context::PsrCmtDomainAttached(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "CMT attached " + std::to_string(domid));
  return Napi::Boolean::New(info.Env(), libxl_psr_cmt_domain_attached(ctx_, domid) != 0);
}

Napi::Value Context::PsrCmtL3CacheSize(const Napi::CallbackInfo& info) {
  uint32_t socket = ArgU32(info, 0, "socket");
  Call call(this, info.Env(), "L3 cache size of socket " + std::to_string(socket));
  uint32_t kb = 0;
  int rc = libxl_psr_cmt_get_l3_cache_size(ctx_, socket, &kb);
  if (rc) call.Fail(rc);
  return Napi::Number::New(info.Env(), kb);
}

// [sample, tsc] of one domain on one socket.
Napi::Value Context::PsrCmtSample(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string name = ArgString(info, 1, "type");
  uint32_t socket = ArgU32(info, 2, "socket");
  Call call(this, info.Env(),
            "CMT " + name + " of domain " + std::to_string(domid) + " on socket " + std::to_string(socket));
  libxl_psr_cmt_type type;
  if (libxl_psr_cmt_type_from_string(name.c_str(), &type)) call.Fail("ERR_INVALID_ARG", "unknown CMT type " + name);
  uint64_t sample = 0, tsc = 0;
  int rc = libxl_psr_cmt_get_sample(ctx_, domid, type, socket, &sample, &tsc);
  if (rc) call.Fail(rc);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(sample)));
  out.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(tsc)));
  return out;
}

// ---- tmem (libxl_tmem_*). domid 0xFFFFFFFF (-1 to libxl) means every domain.

Napi::Value Context::TmemList(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomidOrAll(info, 0);
  bool useLong = ArgBool(info, 1, "long", false);
  Call call(this, info.Env(), "tmem list");
  errno = 0;
  char* s = libxl_tmem_list(ctx_, domid, useLong ? 1 : 0);
  if (!s) call.Fail(ERROR_FAIL);
  Napi::String out = Napi::String::New(info.Env(), s);
  free(s);
  return out;
}

Napi::Value Context::TmemFreeze(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomidOrAll(info, 0);
  bool thaw = ArgBool(info, 1, "thaw", false);
  Call call(this, info.Env(), thaw ? "tmem thaw" : "tmem freeze");
  errno = 0;
  int rc = thaw ? libxl_tmem_thaw(ctx_, domid) : libxl_tmem_freeze(ctx_, domid);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::TmemSet(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomidOrAll(info, 0);
  std::string name = ArgString(info, 1, "name");
  uint32_t value = ArgU32(info, 2, "value");
  Call call(this, info.Env(), "tmem set " + name);
  errno = 0;
  int rc = libxl_tmem_set(ctx_, domid, const_cast<char*>(name.c_str()), value);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::TmemSharedAuth(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomidOrAll(info, 0);
  std::string uuid = ArgString(info, 1, "uuid");
  bool auth = ArgBool(info, 2, "auth", false);
  Call call(this, info.Env(), "tmem shared auth");
  errno = 0;
  int rc = libxl_tmem_shared_auth(ctx_, domid, const_cast<char*>(uuid.c_str()), auth ? 1 : 0);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::TmemFreeable(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "tmem freeable");
  errno = 0;
  int rc = libxl_tmem_freeable(ctx_);
  if (rc < 0) call.Fail(rc);
  return Napi::Number::New(info.Env(), rc);
}
