// xl.cfg sub-specifications parsed by libxlutil and libxl themselves (disk, PCI, vif rate, RDM,
// CPUID), so they mean exactly what they mean to `xl`. Thin: convert, call, hand back libxl's JSON of the result,
// libxlutil's return code and whatever it reported. Policy (what an error means) is in
// src/xlcfg/. No libxl_ctx is needed: the JSON comes from libxl's *_gen_json on a yajl
// generator, which works on any machine with the libraries installed.
#include <napi.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/args.h"
#include "core/errors.h"
#include "core/xen.h"
extern "C" {
#include <libxlutil.h>

// yajl 2 (libyajl2 ships no headers without yajl-dev): the four calls libxl's JSON needs.
typedef struct yajl_gen_t* yajl_gen;
typedef int yajl_gen_status;  // an enum in yajl; 0 is yajl_gen_status_ok
yajl_gen yajl_gen_alloc(const void* alloc_funcs);
yajl_gen_status yajl_gen_get_buf(yajl_gen g, const unsigned char** buf, size_t* len);
void yajl_gen_free(yajl_gen g);

// From libxl's _libxl_types_json.h (which needs yajl's headers).
yajl_gen_status libxl_device_disk_gen_json(yajl_gen hand, libxl_device_disk* p);
yajl_gen_status libxl_device_pci_gen_json(yajl_gen hand, libxl_device_pci* p);
yajl_gen_status libxl_rdm_reserve_gen_json(yajl_gen hand, libxl_rdm_reserve* p);
yajl_gen_status libxl_cpuid_policy_list_gen_json(yajl_gen hand, libxl_cpuid_policy_list* p);
}

namespace {

// An XLU_Config whose report stream is captured in memory.
class Report {
 public:
  explicit Report(const std::string& source) {
    file_ = open_memstream(&buf_, &len_);
    if (file_) cfg_ = xlu_cfg_init(file_, source.c_str());
  }
  ~Report() {
    if (cfg_) xlu_cfg_destroy(cfg_);
    if (file_) fclose(file_);
    free(buf_);
  }
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;
  XLU_Config* cfg() { return cfg_; }
  /** A message of our own, in libxlutil's report stream. */
  void Print(const std::string& line) {
    if (file_) fprintf(file_, "%s\n", line.c_str());
  }
  std::string text() {
    if (!file_) return "";
    fflush(file_);
    return std::string(buf_ ? buf_ : "", len_);
  }

 private:
  FILE* file_ = nullptr;
  char* buf_ = nullptr;
  size_t len_ = 0;
  XLU_Config* cfg_ = nullptr;
};

template <typename T>
std::string GenJson(yajl_gen_status (*gen)(yajl_gen, T*), T* value) {
  yajl_gen hand = yajl_gen_alloc(nullptr);
  if (!hand) return "";
  std::string out;
  const unsigned char* buf = nullptr;
  size_t len = 0;
  if (gen(hand, value) == 0 && yajl_gen_get_buf(hand, &buf, &len) == 0)
    out.assign(reinterpret_cast<const char*>(buf), len);
  yajl_gen_free(hand);
  return out;
}

// [rc, json or null, report text]
Napi::Value Result(Napi::Env env, int rc, const std::string& json, Report& report) {
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, rc));
  out.Set(1u, json.empty() ? env.Null() : Napi::String::New(env, json));
  out.Set(2u, Napi::String::New(env, report.text()));
  return out;
}

std::string Str(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) ThrowArgError(info, false, "expected a string argument");
  return info[i].As<Napi::String>().Utf8Value();
}

// libxlutil takes C strings: a spec with a NUL would be cut short there, silently. Refused.
bool HasNul(Report& report, const std::string& source, const std::string& what, const std::string& spec) {
  if (spec.find('\0') == std::string::npos) return false;
  report.Print(source + ": " + what + " contains a NUL character");
  return true;
}

// libxlutil's disk lexer (libxlu_disk_l.l, flex with %option nodefault) has no rule for a
// newline right after a character that starts its LEXERR state: flex then calls
// yy_fatal_error("flex scanner jammed"), which exits the process (xl dies the same way on
// such a disk spec in xl.cfg, e.g. "x,=\n"). This replays the lexer's choice of rules
// (longest match, the first rule on a tie, trailing context counted) over the spec's bytes
// to find that case before xlu_disk_parse sees it. The rules stop at the first error, so a
// jam found here means the spec is wrong either way.
bool DiskLexerJams(const std::string& s) {
  const size_t n = s.size();
  if (s.find("=\n") == std::string::npos) return false;  // a jam is "=" then a newline
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  auto run = [&](size_t p, auto pred) {
    size_t q = p;
    while (q < n && pred(s[q])) q++;
    return q - p;
  };
  auto starts = [&](size_t p, const char* w) { return s.compare(p, strlen(w), w) == 0; };
  auto notNl = [](char c) { return c != '\n'; };
  auto notComma = [](char c) { return c != ','; };
  size_t p = 0;
  while (p < n) {
    // The longest match so far: its length (trailing context included) and what it uses.
    size_t best = 0, used = 0;
    enum { NONE, TOKEN, DOT, STOP } kind = NONE;
    auto cand = [&](size_t total, size_t use, decltype(kind) k) {
      if (total > best) best = total, used = use, kind = k;
    };
    // [ \t\n]+/([^ \t\n].*)?
    if (size_t b = run(p, blank)) {
      size_t q = p + b;
      cand(b + (q < n ? 1 + run(q + 1, notNl) : 0), b, TOKEN);
    }
    auto kwValue = [&](const char* kw) {  // kw=[^,]*,?
      if (!starts(p, kw) || p + strlen(kw) >= n || s[p + strlen(kw)] != '=') return;
      size_t l = strlen(kw) + 1;
      l += run(p + l, notComma);
      if (p + l < n) l++;
      cand(l, l, TOKEN);
    };
    auto word = [&](const char* w) {  // w,?
      if (!starts(p, w)) return;
      size_t l = strlen(w);
      if (p + l < n && s[p + l] == ',') l++;
      cand(l, l, TOKEN);
    };
    kwValue("format");
    word("cdrom");
    word("devtype=cdrom");
    word("devtype=disk");
    kwValue("devtype");
    kwValue("access");
    kwValue("backend");
    kwValue("backendtype");
    kwValue("specification");
    kwValue("vdev");
    kwValue("script");
    word("direct-io-safe");
    word("discard");
    word("no-discard");
    word("colo");
    word("no-colo");
    kwValue("colo-host");
    kwValue("colo-port");
    kwValue("colo-export");
    kwValue("active-disk");
    kwValue("hidden-disk");
    if (starts(p, "target=")) {  // target=.*
      size_t l = 7 + run(p + 7, notNl);
      cand(l, l, TOKEN);
    }
    if (lower(s[p])) {  // [a-z][-a-z0-9]*=[^,],?
      size_t l = 1 + run(p + 1, [&](char c) { return c == '-' || alnum(c); });
      if (p + l + 1 < n && s[p + l] == '=' && s[p + l + 1] != ',') {
        l += 2;
        if (p + l < n && s[p + l] == ',') l++;
        cand(l, l, TOKEN);
      }
    }
    // Deprecated prefixes, with /.* as trailing context.
    for (const char* pre : {"raw:", "qcow:", "qcow2:", "vhd:", "iscsi:", "nbd:", "enbd:", "drbd:", "tapdisk:", "tap:",
                            "tap2:", "aio:", "ioemu:", "file:", "phy:"}) {
      size_t l = strlen(pre);
      if (starts(p, pre)) cand(l + run(p + l, notNl), l, TOKEN);
    }
    if (lower(s[p])) {  // [a-z][a-z0-9]*:/([^a-z0-9].*)? ends the scan (unknown prefix)
      size_t l = 1 + run(p + 1, alnum);
      if (p + l < n && s[p + l] == ':') {
        size_t q = p + l + 1;
        cand(l + 1 + (q < n && !alnum(s[q]) ? 1 + run(q + 1, notNl) : 0), l + 1, STOP);
      }
    }
    {  // [^=,]*,|[^=,]+,?
      size_t r = run(p, [](char c) { return c != '=' && c != ','; });
      if (p + r < n && s[p + r] == ',') {
        cand(r + 1, r + 1, TOKEN);
      } else if (r) {
        cand(r, r, TOKEN);
      }
    }
    if (s[p] != '\n') cand(1, 1, DOT);                      // . { BEGIN(LEXERR); yymore(); }
    if (kind == DOT) return p + 1 < n && s[p + 1] == '\n';  // <LEXERR>.* cannot match a newline
    if (kind != TOKEN) return false;
    p += used;
  }
  return false;
}

Napi::Value ReportFailure(Napi::Env env) {
  throw Napi::Error::New(env, "xlcfg: cannot allocate libxlutil's report stream");
}

// xlcfgDisk(source, spec): xlu_disk_parse of one disk spec.
Napi::Value Disk(const Napi::CallbackInfo& info) {
  std::string source = Str(info, 0), spec = Str(info, 1);
  Report report(source);
  if (!report.cfg()) return ReportFailure(info.Env());
  if (HasNul(report, source, "a disk specification", spec)) return Result(info.Env(), EINVAL, "", report);
  if (DiskLexerJams(spec)) {
    report.Print(
        source + ": config parsing error in disk specification: bad disk syntax: near `=' in `" + spec +
        "' (a newline right after it would make libxlutil's disk scanner exit the process: \"flex scanner jammed\")");
    return Result(info.Env(), EINVAL, "", report);
  }
  libxl_device_disk disk;
  libxl_device_disk_init(&disk);
  const char* specs[] = {spec.c_str()};
  int rc = xlu_disk_parse(report.cfg(), 1, specs, &disk);
  std::string json = rc ? "" : GenJson(libxl_device_disk_gen_json, &disk);
  libxl_device_disk_dispose(&disk);
  return Result(info.Env(), rc, json, report);
}

// xlcfgPci(source, spec, msitranslate, power_mgmt, permissive, seize, rdm_policy): xl presets
// these fields from the config's pci_* keys before xlu_pci_parse_spec_string.
Napi::Value Pci(const Napi::CallbackInfo& info) {
  std::string source = Str(info, 0), spec = Str(info, 1);
  Report report(source);
  if (!report.cfg()) return ReportFailure(info.Env());
  if (HasNul(report, source, "a PCI specification", spec)) return Result(info.Env(), EINVAL, "", report);
  // xl assigns these from xlu_cfg_get_long, any int (the bool fields take it as C does).
  auto i32 = [&](size_t i, const char* what) { return static_cast<int>(ArgInt(info, i, what, INT32_MIN, INT32_MAX)); };
  int msitranslate = i32(2, "pci_msitranslate"), powerMgmt = i32(3, "pci_power_mgmt"),
      permissive = i32(4, "pci_permissive"), seize = i32(5, "pci_seize"), rdmPolicy = i32(6, "rdm policy");
  libxl_device_pci pci;
  libxl_device_pci_init(&pci);
  pci.msitranslate = msitranslate;
  pci.power_mgmt = powerMgmt;
  pci.permissive = permissive;
  pci.seize = seize;
  pci.rdm_policy = static_cast<libxl_rdm_reserve_policy>(rdmPolicy);
  int rc = xlu_pci_parse_spec_string(report.cfg(), &pci, spec.c_str());
  std::string json = rc ? "" : GenJson(libxl_device_pci_gen_json, &pci);
  libxl_device_pci_dispose(&pci);
  return Result(info.Env(), rc, json, report);
}

// xlcfgVifRate(source, rate): [rc, [bytes_per_interval, interval_usecs] as JSON, report].
Napi::Value VifRate(const Napi::CallbackInfo& info) {
  std::string source = Str(info, 0), rate = Str(info, 1);
  Report report(source);
  if (!report.cfg()) return ReportFailure(info.Env());
  if (HasNul(report, source, "a vif rate", rate)) return Result(info.Env(), EINVAL, "", report);
  libxl_device_nic nic;
  libxl_device_nic_init(&nic);
  int rc = xlu_vif_parse_rate(report.cfg(), rate.c_str(), &nic);
  std::string json;
  if (!rc)
    json = "[" + std::to_string(nic.rate_bytes_per_interval) + "," + std::to_string(nic.rate_interval_usecs) + "]";
  libxl_device_nic_dispose(&nic);
  return Result(info.Env(), rc, json, report);
}

// xlcfgRdm(source, spec): xlu_rdm_parse into an initialised libxl_rdm_reserve.
Napi::Value Rdm(const Napi::CallbackInfo& info) {
  std::string source = Str(info, 0), spec = Str(info, 1);
  Report report(source);
  if (!report.cfg()) return ReportFailure(info.Env());
  if (HasNul(report, source, "an RDM specification", spec)) return Result(info.Env(), EINVAL, "", report);
  libxl_rdm_reserve rdm;
  libxl_rdm_reserve_init(&rdm);
  int rc = xlu_rdm_parse(report.cfg(), &rdm, spec.c_str());
  std::string json = rc ? "" : GenJson(libxl_rdm_reserve_gen_json, &rdm);
  libxl_rdm_reserve_dispose(&rdm);
  return Result(info.Env(), rc, json, report);
}

// xlcfgCpuid(xend, items): libxl's CPUID parsers applied in order to one policy list, as xl
// does for cpuid = [ "leaf:reg=bits", … ] (xend) or cpuid = "host,flag=v,…" (the flags).
// Returns [return code of each item, the list's JSON or null when empty].
Napi::Value Cpuid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool xend = ArgBool(info, 0, "xend", false);
  if (!info[1].IsArray()) ThrowArgError(info, false, "expected an array of strings");
  Napi::Array items = info[1].As<Napi::Array>();
  libxl_cpuid_policy_list list = nullptr;
  Napi::Array codes = Napi::Array::New(env, items.Length());
  for (uint32_t i = 0; i < items.Length(); i++) {
    Napi::Value v = items.Get(i);
    if (!v.IsString()) {
      libxl_cpuid_dispose(&list);
      ThrowArgError(info, false, "expected an array of strings");
    }
    std::string item = v.As<Napi::String>().Utf8Value();
    // A NUL would cut the item short in C: reported as libxl's "missing colon"/"=" code.
    int rc;
    if (item.find('\0') != std::string::npos) {
      rc = xend ? 3 : 1;
    } else {
      rc = xend ? libxl_cpuid_parse_config_xend(&list, item.c_str()) : libxl_cpuid_parse_config(&list, item.c_str());
    }
    codes.Set(i, Napi::Number::New(env, rc));
  }
  std::string json = list ? GenJson(libxl_cpuid_policy_list_gen_json, &list) : "";
  libxl_cpuid_dispose(&list);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, codes);
  out.Set(1u, json.empty() ? env.Null() : Napi::String::New(env, json));
  return out;
}

}  // namespace

void InitXlcfg(Napi::Env env, Napi::Object exports) {
  exports.Set("xlcfgDisk", Napi::Function::New(env, Disk, "xlcfgDisk", OpData("xlcfgDisk")));
  exports.Set("xlcfgPci", Napi::Function::New(env, Pci, "xlcfgPci", OpData("xlcfgPci")));
  exports.Set("xlcfgVifRate", Napi::Function::New(env, VifRate, "xlcfgVifRate", OpData("xlcfgVifRate")));
  exports.Set("xlcfgRdm", Napi::Function::New(env, Rdm, "xlcfgRdm", OpData("xlcfgRdm")));
  exports.Set("xlcfgCpuid", Napi::Function::New(env, Cpuid, "xlcfgCpuid", OpData("xlcfgCpuid")));
}
