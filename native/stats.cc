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

// ---- libxenstat (what xentop shows), plus pCPU idle times from libxenctrl (xenstat has none).
// The handle lives in an External that frees it.

namespace {
struct XenstatBox {
  xenstat_handle* h = nullptr;
  xc_interface* xc = nullptr;
  std::vector<xc_cpuinfo_t> cpuinfo;
};

void FreeBox(XenstatBox* b) {
  if (b->h) xenstat_uninit(b->h);
  if (b->xc) xc_interface_close(b->xc);
  b->h = nullptr;
  b->xc = nullptr;
}

// The flat layout xenstatSampleInto writes; src/stats.ts (STATS_LAYOUT) reads the same.
constexpr size_t kHeader = 10;     // ndom tot_mem free_mem num_cpus cpu_hz freeable_mb need_f64 need_names npcpu -
constexpr size_t kDomain = 12;     // domid flags cpu_ns cur_mem max_mem ssid nvcpu nnet nvbd name_off name_len -
constexpr size_t kVcpu = 2;        // online ns
constexpr size_t kNet = 9;         // id rbytes rpackets rerrs rdrop tbytes tpackets terrs tdrop
constexpr size_t kVbd = 8;         // type dev oo rd wr rsect wsect error
constexpr unsigned kDying = 1, kShutdown = 2, kBlocked = 4, kCrashed = 8, kPaused = 16, kRunning = 32, kNoMaxMem = 64;

XenstatBox* BoxArg(const Napi::CallbackInfo& info, Call& call) {
  if (info.Length() < 1 || !info[0].IsExternal()) call.Fail("ERR_INVALID_ARG", "no libxenstat handle");
  XenstatBox* b = info[0].As<Napi::External<XenstatBox>>().Data();
  if (!b->h) call.Fail("ERR_CLOSED", "libxenstat handle closed");
  return b;
}
}  // namespace

Napi::Value Context::XenstatOpen(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "open libxenstat");
  errno = 0;
  xenstat_handle* h = xenstat_init();
  if (!h) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  xc_interface* xc = xc_interface_open(nullptr, nullptr, 0);
  if (!xc) {
    int e = errno ? errno : EIO;
    xenstat_uninit(h);
    call.FailErrno(ERROR_FAIL, e);
  }
  auto* box = new XenstatBox{h, xc, {}};
  return Napi::External<XenstatBox>::New(info.Env(), box, [](Napi::Env, XenstatBox* b) {
    FreeBox(b);
    delete b;
  });
}

Napi::Value Context::XenstatClose(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsExternal()) FreeBox(info[0].As<Napi::External<XenstatBox>>().Data());
  return info.Env().Undefined();
}

// xenstat_node_xen_version: collected once, not per sample (it is a hypercall and a string).
Napi::Value Context::XenstatXenVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "statistics: Xen version");
  XenstatBox* b = BoxArg(info, call);
  errno = 0;
  xenstat_node* node = xenstat_get_node(b->h, XENSTAT_XEN_VERSION);
  if (!node) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  const char* ver = xenstat_node_xen_version(node);
  Napi::Value out = ver ? Napi::Value(Napi::String::New(env, ver)) : env.Null();
  xenstat_free_node(node);
  return out;
}

// One xenstat_get_node (vCPUs, networks, block devices) and one XEN_SYSCTL_getcpuinfo, written as
// raw numbers into the caller's Float64Array and the names' bytes into its Uint8Array: nothing is
// allocated on the JS heap per sample. Returns false (buffers untouched but for the two "need"
// slots of the header) when either buffer is too small; the caller grows them and samples again.
Napi::Value Context::XenstatSampleInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "statistics sample");
  XenstatBox* b = BoxArg(info, call);
  if (info.Length() < 3 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "xenstatSampleInto(handle, Float64Array, Uint8Array)");
  }
  Napi::Float64Array f = info[1].As<Napi::Float64Array>();
  Napi::Uint8Array names = info[2].As<Napi::Uint8Array>();
  if (f.ElementLength() < kHeader) throw Napi::RangeError::New(env, "Float64Array too small for the header");
  double* out = f.Data();
  size_t cap = f.ElementLength();
  uint8_t* nb = names.Data();
  size_t ncap = names.ElementLength();

  errno = 0;
  xenstat_node* node = xenstat_get_node(b->h, XENSTAT_VCPU | XENSTAT_NETWORK | XENSTAT_VBD);
  if (!node) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  unsigned ncpus = xenstat_node_num_cpus(node);
  if (b->cpuinfo.size() < ncpus) b->cpuinfo.resize(ncpus);
  int npcpu = 0;
  if (ncpus && xc_getcpuinfo(b->xc, static_cast<int>(ncpus), b->cpuinfo.data(), &npcpu) != 0) npcpu = 0;

  size_t pos = kHeader;
  size_t npos = 0;
  auto put = [&](double v) {
    if (pos < cap) out[pos] = v;
    pos++;
  };
  for (int i = 0; i < npcpu; i++) put(static_cast<double>(b->cpuinfo[i].idletime));
  unsigned n = xenstat_node_num_domains(node);
  for (unsigned i = 0; i < n; i++) {
    xenstat_domain* d = xenstat_node_domain_by_index(node, i);
    const char* name = xenstat_domain_name(d);
    size_t len = name ? strlen(name) : 0;
    unsigned long long maxmem = xenstat_domain_max_mem(d);
    unsigned flags = (xenstat_domain_dying(d) ? kDying : 0) | (xenstat_domain_shutdown(d) ? kShutdown : 0) |
                     (xenstat_domain_blocked(d) ? kBlocked : 0) | (xenstat_domain_crashed(d) ? kCrashed : 0) |
                     (xenstat_domain_paused(d) ? kPaused : 0) | (xenstat_domain_running(d) ? kRunning : 0) |
                     (maxmem == static_cast<unsigned long long>(-1) ? kNoMaxMem : 0);
    unsigned nv = xenstat_domain_num_vcpus(d), nn = xenstat_domain_num_networks(d), nvb = xenstat_domain_num_vbds(d);
    put(xenstat_domain_id(d));
    put(flags);
    put(static_cast<double>(xenstat_domain_cpu_ns(d)));
    put(static_cast<double>(xenstat_domain_cur_mem(d)));
    put(static_cast<double>(maxmem));
    put(xenstat_domain_ssid(d));
    put(nv);
    put(nn);
    put(nvb);
    put(name ? static_cast<double>(npos) : -1);
    put(static_cast<double>(len));
    put(0);
    if (name && npos + len <= ncap) memcpy(nb + npos, name, len);
    npos += len;
    for (unsigned j = 0; j < nv; j++) {
      xenstat_vcpu* v = xenstat_domain_vcpu(d, j);
      put(v && xenstat_vcpu_online(v) ? 1 : 0);
      put(v ? static_cast<double>(xenstat_vcpu_ns(v)) : 0);
    }
    for (unsigned j = 0; j < nn; j++) {
      xenstat_network* x = xenstat_domain_network(d, j);
      put(xenstat_network_id(x));
      put(static_cast<double>(xenstat_network_rbytes(x)));
      put(static_cast<double>(xenstat_network_rpackets(x)));
      put(static_cast<double>(xenstat_network_rerrs(x)));
      put(static_cast<double>(xenstat_network_rdrop(x)));
      put(static_cast<double>(xenstat_network_tbytes(x)));
      put(static_cast<double>(xenstat_network_tpackets(x)));
      put(static_cast<double>(xenstat_network_terrs(x)));
      put(static_cast<double>(xenstat_network_tdrop(x)));
    }
    for (unsigned j = 0; j < nvb; j++) {
      xenstat_vbd* x = xenstat_domain_vbd(d, j);
      put(xenstat_vbd_type(x));
      put(xenstat_vbd_dev(x));
      put(static_cast<double>(xenstat_vbd_oo_reqs(x)));
      put(static_cast<double>(xenstat_vbd_rd_reqs(x)));
      put(static_cast<double>(xenstat_vbd_wr_reqs(x)));
      put(static_cast<double>(xenstat_vbd_rd_sects(x)));
      put(static_cast<double>(xenstat_vbd_wr_sects(x)));
      put(xenstat_vbd_error(x) ? 1 : 0);
    }
  }
  out[0] = n;
  out[1] = static_cast<double>(xenstat_node_tot_mem(node));
  out[2] = static_cast<double>(xenstat_node_free_mem(node));
  out[3] = ncpus;
  out[4] = static_cast<double>(xenstat_node_cpu_hz(node));
  out[5] = static_cast<double>(xenstat_node_freeable_mb(node));
  out[6] = static_cast<double>(pos);
  out[7] = static_cast<double>(npos);
  out[8] = npcpu;
  out[9] = 0;
  xenstat_free_node(node);
  return Napi::Boolean::New(env, pos <= cap && npos <= ncap);
}
