// Host diagnostics: the hypervisor's console ring (xl dmesg), Intel CMT (xl psr-cmt-*),
// transcendent memory (xl tmem-*). Thin: convert, call, fail with libxl's code and log lines;
// src/stats.ts gives the failures their meaning.
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "context.h"
#include "errors.h"

extern "C" {
#include <xenctrl.h>
#include <xenstat.h>
}

namespace {
// libxl's console reader hands out buffers of at most this many characters.
constexpr size_t kLibxlConsoleChunk = 16384;
constexpr unsigned int kRingChunk = 65536;

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0 && d == static_cast<uint32_t>(d))) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " out of range");
  }
  return static_cast<uint32_t>(d);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}
}  // namespace

// `xl dmesg [-c]`: libxl's console reader, every chunk concatenated.
Napi::Value Context::XenConsoleRead(const Napi::CallbackInfo& info) {
  bool clear = info.Length() > 0 && info[0].ToBoolean().Value();
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
  xc_interface* xch = xc_interface_open(logger_.get(), logger_.get(), 0);
  if (!xch) call.FailErrno(ERROR_FAIL, errno);
  std::vector<char> buf(kRingChunk);
  std::string text;
  uint32_t start = 0;
  for (bool first = true;; first = false) {
    unsigned int n = kRingChunk;
    int incremental = first && fromOldest ? 0 : 1;
    if (xc_readconsolering(xch, buf.data(), &n, 0, incremental, &index) < 0) {
      int err = errno;
      xc_interface_close(xch);
      call.FailErrno(ERROR_FAIL, err);
    }
    if (first) start = index - n;
    text.append(buf.data(), n);
    if (n < kRingChunk) break;
  }
  xc_interface_close(xch);
  Napi::Object out = Napi::Object::New(env);
  out.Set("text", text);
  out.Set("start", start);
  out.Set("index", index);
  return out;
}

// ---- Intel CMT (libxl_psr_cmt_*)

Napi::Value Context::PsrCmtAttach(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  bool attach = info.Length() < 2 || info[1].ToBoolean().Value();
  Call call(this, info.Env(), std::string(attach ? "CMT attach of domain " : "CMT detach of domain ") + std::to_string(domid));
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
  Call call(this, info.Env(), "CMT " + name + " of domain " + std::to_string(domid) + " on socket " + std::to_string(socket));
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
  uint32_t domid = ArgU32(info, 0, "domid");
  bool useLong = info.Length() > 1 && info[1].ToBoolean().Value();
  Call call(this, info.Env(), "tmem list");
  errno = 0;
  char* s = libxl_tmem_list(ctx_, domid, useLong ? 1 : 0);
  if (!s) call.Fail(ERROR_FAIL);
  Napi::String out = Napi::String::New(info.Env(), s);
  free(s);
  return out;
}

Napi::Value Context::TmemFreeze(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgU32(info, 0, "domid");
  bool thaw = info.Length() > 1 && info[1].ToBoolean().Value();
  Call call(this, info.Env(), thaw ? "tmem thaw" : "tmem freeze");
  errno = 0;
  int rc = thaw ? libxl_tmem_thaw(ctx_, domid) : libxl_tmem_freeze(ctx_, domid);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::TmemSet(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgU32(info, 0, "domid");
  std::string name = ArgString(info, 1, "name");
  uint32_t value = ArgU32(info, 2, "value");
  Call call(this, info.Env(), "tmem set " + name);
  errno = 0;
  int rc = libxl_tmem_set(ctx_, domid, const_cast<char*>(name.c_str()), value);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::TmemSharedAuth(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgU32(info, 0, "domid");
  std::string uuid = ArgString(info, 1, "uuid");
  bool auth = info.Length() > 2 && info[2].ToBoolean().Value();
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

// ---- libxenstat (what xentop shows). The handle lives in an External that frees it.

namespace {
struct XenstatBox {
  xenstat_handle* h = nullptr;
};

Napi::Number U64(Napi::Env env, unsigned long long v) { return Napi::Number::New(env, static_cast<double>(v)); }
}  // namespace

Napi::Value Context::XenstatOpen(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "open libxenstat");
  errno = 0;
  xenstat_handle* h = xenstat_init();
  if (!h) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  auto* box = new XenstatBox{h};
  return Napi::External<XenstatBox>::New(info.Env(), box, [](Napi::Env, XenstatBox* b) {
    if (b->h) xenstat_uninit(b->h);
    delete b;
  });
}

Napi::Value Context::XenstatClose(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsExternal()) {
    XenstatBox* b = info[0].As<Napi::External<XenstatBox>>().Data();
    if (b->h) xenstat_uninit(b->h);
    b->h = nullptr;
  }
  return info.Env().Undefined();
}

// One xenstat_get_node(XENSTAT_ALL) as plain objects with libxenstat's raw numbers.
Napi::Value Context::XenstatSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "statistics sample");
  if (info.Length() < 1 || !info[0].IsExternal()) call.Fail("ERR_INVALID_ARG", "no libxenstat handle");
  XenstatBox* b = info[0].As<Napi::External<XenstatBox>>().Data();
  if (!b->h) call.Fail("ERR_CLOSED", "libxenstat handle closed");
  errno = 0;
  xenstat_node* node = xenstat_get_node(b->h, XENSTAT_ALL);
  if (!node) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  Napi::Object out = Napi::Object::New(env);
  const char* ver = xenstat_node_xen_version(node);
  out.Set("xen_version", ver ? Napi::Value(Napi::String::New(env, ver)) : env.Null());
  out.Set("tot_mem", U64(env, xenstat_node_tot_mem(node)));
  out.Set("free_mem", U64(env, xenstat_node_free_mem(node)));
  out.Set("freeable_mb", Napi::Number::New(env, static_cast<double>(xenstat_node_freeable_mb(node))));
  out.Set("num_cpus", Napi::Number::New(env, xenstat_node_num_cpus(node)));
  out.Set("cpu_hz", U64(env, xenstat_node_cpu_hz(node)));
  unsigned n = xenstat_node_num_domains(node);
  Napi::Array doms = Napi::Array::New(env, n);
  for (unsigned i = 0; i < n; i++) {
    xenstat_domain* d = xenstat_node_domain_by_index(node, i);
    Napi::Object o = Napi::Object::New(env);
    o.Set("domid", Napi::Number::New(env, xenstat_domain_id(d)));
    const char* name = xenstat_domain_name(d);
    o.Set("name", name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
    o.Set("cpu_ns", U64(env, xenstat_domain_cpu_ns(d)));
    o.Set("cur_mem", U64(env, xenstat_domain_cur_mem(d)));
    o.Set("max_mem", U64(env, xenstat_domain_max_mem(d)));
    o.Set("no_max_mem", Napi::Boolean::New(env, xenstat_domain_max_mem(d) == static_cast<unsigned long long>(-1)));
    o.Set("ssid", Napi::Number::New(env, xenstat_domain_ssid(d)));
    o.Set("dying", Napi::Boolean::New(env, xenstat_domain_dying(d)));
    o.Set("shutdown", Napi::Boolean::New(env, xenstat_domain_shutdown(d)));
    o.Set("blocked", Napi::Boolean::New(env, xenstat_domain_blocked(d)));
    o.Set("crashed", Napi::Boolean::New(env, xenstat_domain_crashed(d)));
    o.Set("paused", Napi::Boolean::New(env, xenstat_domain_paused(d)));
    o.Set("running", Napi::Boolean::New(env, xenstat_domain_running(d)));
    unsigned nv = xenstat_domain_num_vcpus(d);
    Napi::Array vcpus = Napi::Array::New(env, nv);
    for (unsigned j = 0; j < nv; j++) {
      xenstat_vcpu* v = xenstat_domain_vcpu(d, j);
      Napi::Object vo = Napi::Object::New(env);
      vo.Set("online", Napi::Boolean::New(env, v && xenstat_vcpu_online(v)));
      vo.Set("ns", U64(env, v ? xenstat_vcpu_ns(v) : 0));
      vcpus.Set(j, vo);
    }
    o.Set("vcpus", vcpus);
    unsigned nn = xenstat_domain_num_networks(d);
    Napi::Array nets = Napi::Array::New(env, nn);
    for (unsigned j = 0; j < nn; j++) {
      xenstat_network* x = xenstat_domain_network(d, j);
      Napi::Object no = Napi::Object::New(env);
      no.Set("id", Napi::Number::New(env, xenstat_network_id(x)));
      no.Set("rbytes", U64(env, xenstat_network_rbytes(x)));
      no.Set("rpackets", U64(env, xenstat_network_rpackets(x)));
      no.Set("rerrs", U64(env, xenstat_network_rerrs(x)));
      no.Set("rdrop", U64(env, xenstat_network_rdrop(x)));
      no.Set("tbytes", U64(env, xenstat_network_tbytes(x)));
      no.Set("tpackets", U64(env, xenstat_network_tpackets(x)));
      no.Set("terrs", U64(env, xenstat_network_terrs(x)));
      no.Set("tdrop", U64(env, xenstat_network_tdrop(x)));
      nets.Set(j, no);
    }
    o.Set("networks", nets);
    unsigned nb = xenstat_domain_num_vbds(d);
    Napi::Array vbds = Napi::Array::New(env, nb);
    for (unsigned j = 0; j < nb; j++) {
      xenstat_vbd* x = xenstat_domain_vbd(d, j);
      Napi::Object bo = Napi::Object::New(env);
      bo.Set("type", Napi::Number::New(env, xenstat_vbd_type(x)));
      bo.Set("dev", Napi::Number::New(env, xenstat_vbd_dev(x)));
      bo.Set("oo_reqs", U64(env, xenstat_vbd_oo_reqs(x)));
      bo.Set("rd_reqs", U64(env, xenstat_vbd_rd_reqs(x)));
      bo.Set("wr_reqs", U64(env, xenstat_vbd_wr_reqs(x)));
      bo.Set("rd_sects", U64(env, xenstat_vbd_rd_sects(x)));
      bo.Set("wr_sects", U64(env, xenstat_vbd_wr_sects(x)));
      bo.Set("error", Napi::Boolean::New(env, xenstat_vbd_error(x)));
      vbds.Set(j, bo);
    }
    o.Set("vbds", vbds);
    doms.Set(i, o);
  }
  xenstat_free_node(node);
  out.Set("domains", doms);
  return out;
}
