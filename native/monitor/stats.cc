// Statistics (what xentop shows), collected as libxenstat does but without its costs: one
// XEN_DOMCTL_getdomaininfolist for all domains, a vcpu_getinfo per vCPU of domains with more than
// one, XEN_SYSCTL_getcpuinfo and physinfo through libxenctrl; vif counters from one read of
// /proc/net/dev; blkback disks from one sysfs directory (listed again only when something may have
// changed) and their counters' files; names from the context's xenstore-watched cache.
// (libxenstat re-parses /proc/net/dev with a regex per domain and reads xenstore per domain and
// per vbd: ~10x slower.) In the box every system call costs 100-300 us, so each one counts.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/errors.h"

namespace {
// One vif line of /proc/net/dev, as dom0's end of the vif counts it (so does libxenstat, so
// xentop's NETRX is what dom0 received from the guest).
struct NetLine {
  unsigned domid, id;
  unsigned long long v[8];  // rbytes rpackets rerrs rdrop tbytes tpackets terrs tdrop
};

// The counters' files stay open between samples: under emulation an open+read+close of a sysfs
// file costs ~6x a pread of an open one, and there are five per disk.
struct VbdFiles {
  int fd[5] = {-1, -1, -1, -1, -1};
  bool seen = false;
};

// libxencall keeps freed single-page hypercall buffers for reuse and maps (and unmaps) larger
// ones on every call: two more system calls, the dearest ones. So the domain list asks for what
// fits in one page, and more only when a host has more domains than that.
constexpr size_t kDomsPerPage = XC_PAGE_SIZE / sizeof(xc_domaininfo_t);
// A safety net under the xenstore watch: sysfs may list a disk a moment after xenstore says so.
constexpr auto kVbdRescan = std::chrono::seconds(5);

struct StatsBox {
  xc_interface* xc = nullptr;
  std::vector<xc_domaininfo_t> doms;
  std::vector<xc_cpuinfo_t> cpus;
  int netdev = -1;
  std::vector<char> netdevBuf = std::vector<char>(65536);
  std::string netdevText;
  std::map<std::pair<unsigned, unsigned>, VbdFiles> vbds;  // (domid, dev) → its statistics files
  std::vector<std::pair<unsigned, unsigned>> vbdList;      // the same keys, sorted
  std::vector<NetLine> nets;
  uint64_t vbdGeneration = ~0ull;  // the context's vbdGeneration_ at the last listing
  bool vbdReadFailed = false;
  std::chrono::steady_clock::time_point vbdListed;
};

void CloseVbd(VbdFiles& v) {
  for (int& fd : v.fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

void FreeBox(StatsBox* b) {
  if (b->xc) xc_interface_close(b->xc);
  b->xc = nullptr;
  if (b->netdev >= 0) close(b->netdev);
  b->netdev = -1;
  for (auto& [_, v] : b->vbds) CloseVbd(v);
  b->vbds.clear();
}

// The flat layout statsSampleInto writes; src/monitor/stats.ts (STATS_LAYOUT) reads the same.
constexpr size_t kHeader = 10;  // ndom tot_mem free_mem num_cpus cpu_hz freeable_mb need_f64 need_names npcpu -
constexpr unsigned kDying = 1, kShutdown = 2, kBlocked = 4, kCrashed = 8, kPaused = 16, kRunning = 32, kNoMaxMem = 64;

// Marks the externals StatsOpen makes: an External from elsewhere (another addon, another
// handle type) is refused instead of being read as a StatsBox.
constexpr napi_type_tag kStatsBoxTag = {0x7865'6e6c'6967'6874ULL, 0x7374'6174'7362'6f78ULL};

bool IsStatsBox(const Napi::Value& v) {
  return v.IsExternal() && v.As<Napi::External<StatsBox>>().CheckTypeTag(&kStatsBoxTag);
}

StatsBox* BoxArg(const Napi::CallbackInfo& info, Call& call) {
  if (info.Length() < 1 || !IsStatsBox(info[0])) call.Fail("ERR_INVALID_ARG", "no statistics handle");
  StatsBox* b = info[0].As<Napi::External<StatsBox>>().Data();
  if (!b->xc) call.Fail("ERR_CLOSED", "statistics handle closed");
  return b;
}

// The whole of a proc file through a descriptor kept open (pread from 0 regenerates it), in one
// call when it fits the buffer: seq_file fills a read to its size unless the file ends first.
bool ReadFd(int fd, std::vector<char>& buf, std::string& out) {
  out.clear();
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, buf.data(), buf.size(), off);
    if (n < 0) return false;
    out.append(buf.data(), static_cast<size_t>(n));
    if (static_cast<size_t>(n) < buf.size()) return true;
    off += n;
  }
}

bool ReadU64(int fd, unsigned long long* v) {
  char buf[32];
  ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = 0;
  char* end;
  *v = strtoull(buf, &end, 10);
  return end != buf;
}

void ParseNetdev(const std::string& text, std::vector<NetLine>& out) {
  out.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    NetLine n;
    unsigned long long rx[4], tx[4];
    char tail;
    // "  vif3.0: rxbytes rxpackets rxerrs rxdrop fifo frame compressed multicast txbytes txpackets txerrs txdrop ..."
    if (sscanf(line.c_str(), " vif%u.%u%c", &n.domid, &n.id, &tail) != 3 || tail != ':') continue;
    const char* p = strchr(line.c_str(), ':') + 1;
    if (sscanf(p, "%llu %llu %llu %llu %*u %*u %*u %*u %llu %llu %llu %llu", &rx[0], &rx[1], &rx[2], &rx[3], &tx[0],
               &tx[1], &tx[2], &tx[3]) != 8) {
      continue;
    }
    for (int i = 0; i < 4; i++) {
      n.v[i] = rx[i];
      n.v[4 + i] = tx[i];
    }
    out.push_back(n);
  }
}

// blkback's disks, all domains at once: sysfs names them vbd-DOMID-DEV. Files of disks that went
// away are closed; those of new ones (and any that failed to open) opened.
void ListVbds(StatsBox* b) {
  b->vbdList.clear();
  for (auto& [_, v] : b->vbds) v.seen = false;
  if (DIR* dir = opendir("/sys/bus/xen-backend/devices")) {
    while (struct dirent* e = readdir(dir)) {
      unsigned dom, dev;
      if (sscanf(e->d_name, "vbd-%u-%u", &dom, &dev) != 2) continue;
      b->vbdList.emplace_back(dom, dev);
      VbdFiles& files = b->vbds[{dom, dev}];
      files.seen = true;
      static const char* const kFiles[] = {"oo_req", "rd_req", "wr_req", "rd_sect", "wr_sect"};
      for (int v = 0; v < 5; v++) {
        if (files.fd[v] >= 0) continue;
        char p[320];
        snprintf(p, sizeof p, "/sys/bus/xen-backend/devices/%s/statistics/%s", e->d_name, kFiles[v]);
        files.fd[v] = open(p, O_RDONLY | O_CLOEXEC);
      }
    }
    closedir(dir);
  }
  for (auto it = b->vbds.begin(); it != b->vbds.end();) {
    if (it->second.seen) {
      ++it;
    } else {
      CloseVbd(it->second);
      it = b->vbds.erase(it);
    }
  }
  std::sort(b->vbdList.begin(), b->vbdList.end());
}
}  // namespace

Napi::Value Context::StatsOpen(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "open statistics");
  errno = 0;
  xc_interface* xc = xc_interface_open(nullptr, nullptr, 0);
  if (!xc) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  auto* box = new StatsBox{};
  box->xc = xc;
  auto handle = Napi::External<StatsBox>::New(info.Env(), box, [](Napi::Env, StatsBox* b) {
    FreeBox(b);
    delete b;
  });
  handle.TypeTag(&kStatsBoxTag);
  return handle;
}

Napi::Value Context::StatsClose(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && IsStatsBox(info[0])) FreeBox(info[0].As<Napi::External<StatsBox>>().Data());
  return info.Env().Undefined();
}

// One sample written as raw numbers into the caller's Float64Array and the names' bytes into its
// Uint8Array: nothing is allocated on the JS heap. Returns false (buffers untouched but for the
// two "need" slots of the header) when either is too small; the caller grows them and retries.
Napi::Value Context::StatsSampleInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "statistics sample");
  StatsBox* b = BoxArg(info, call);
  if (info.Length() < 3 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArgError(info, false, "expected (handle, Float64Array, Uint8Array)");
  }
  Napi::Float64Array f = info[1].As<Napi::Float64Array>();
  Napi::Uint8Array names = info[2].As<Napi::Uint8Array>();
  if (f.ElementLength() < kHeader) ThrowArgError(info, true, "Float64Array too small for the header");
  double* out = f.Data();
  size_t cap = f.ElementLength();
  uint8_t* nb = names.Data();
  size_t ncap = names.ElementLength();

  xc_physinfo_t phys = {};
  errno = 0;
  if (xc_physinfo(b->xc, &phys) != 0) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
  unsigned ncpus = phys.nr_cpus;
  if (b->cpus.size() < ncpus) b->cpus.resize(ncpus);
  int npcpu = 0;
  if (ncpus && xc_getcpuinfo(b->xc, static_cast<int>(ncpus), b->cpus.data(), &npcpu) != 0) npcpu = 0;
  // All domains in one hypercall, growing the buffer until they fit.
  if (b->doms.size() < kDomsPerPage) b->doms.resize(kDomsPerPage);
  int ndom;
  for (;;) {
    errno = 0;
    ndom = xc_domain_getinfolist(b->xc, 0, static_cast<unsigned>(b->doms.size()), b->doms.data());
    if (ndom < 0) call.FailErrno(ERROR_FAIL, errno ? errno : EIO);
    if (static_cast<size_t>(ndom) < b->doms.size()) break;
    b->doms.resize(b->doms.size() * 2);
  }
  std::vector<NetLine>& nets = b->nets;
  nets.clear();
  if (b->netdev < 0) b->netdev = open("/proc/net/dev", O_RDONLY | O_CLOEXEC);
  if (b->netdev >= 0 && ReadFd(b->netdev, b->netdevBuf, b->netdevText)) ParseNetdev(b->netdevText, nets);
  if (xsh_ && !vbdWatched_) vbdWatched_ = xs_watch(xsh_, "backend/vbd", "v");
  DrainWatches();
  auto now = std::chrono::steady_clock::now();
  if (b->vbdGeneration != vbdGeneration_ || b->vbdReadFailed || !vbdWatched_ || now - b->vbdListed >= kVbdRescan) {
    ListVbds(b);
    b->vbdGeneration = vbdGeneration_;
    b->vbdListed = now;
  }
  b->vbdReadFailed = false;
  const std::vector<std::pair<unsigned, unsigned>>& vbds = b->vbdList;

  size_t pos = kHeader;
  size_t npos = 0;
  auto put = [&](double v) {
    if (pos < cap) out[pos] = v;
    pos++;
  };
  for (int i = 0; i < npcpu; i++) put(static_cast<double>(b->cpus[i].idletime));
  const double page = XC_PAGE_SIZE;
  for (int i = 0; i < ndom; i++) {
    const xc_domaininfo_t& d = b->doms[i];
    uint32_t domid = d.domain;
    const std::string* name = CachedName(domid);
    size_t len = name ? name->size() : 0;
    unsigned shutdownReason = (d.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
    bool shutdown = d.flags & XEN_DOMINF_shutdown;
    bool noMax = d.max_pages == UINT_MAX;
    unsigned flags = (d.flags & XEN_DOMINF_dying ? kDying : 0) | (shutdown ? kShutdown : 0) |
                     (d.flags & XEN_DOMINF_blocked ? kBlocked : 0) |
                     (shutdown && shutdownReason == SHUTDOWN_crash ? kCrashed : 0) |
                     (d.flags & XEN_DOMINF_paused ? kPaused : 0) | (d.flags & XEN_DOMINF_running ? kRunning : 0) |
                     (noMax ? kNoMaxMem : 0);
    unsigned nv = d.max_vcpu_id + 1;
    // This domain's vifs and blkback disks.
    size_t firstNet = nets.size(), nn = 0;
    for (size_t k = 0; k < nets.size(); k++) {
      if (nets[k].domid != domid) continue;
      if (nn == 0) firstNet = k;
      nn++;
    }
    size_t firstVbd = vbds.size(), nvb = 0;
    for (size_t k = 0; k < vbds.size(); k++) {
      if (vbds[k].first != domid) continue;
      if (nvb == 0) firstVbd = k;
      nvb++;
    }
    put(domid);
    put(flags);
    put(static_cast<double>(d.cpu_time));
    put(static_cast<double>(d.tot_pages) * page);
    put(noMax ? -1 : static_cast<double>(d.max_pages) * page);
    put(d.ssidref);
    put(nv);
    put(static_cast<double>(nn));
    put(static_cast<double>(nvb));
    put(name ? static_cast<double>(npos) : -1);
    put(static_cast<double>(len));
    put(static_cast<double>(npos + len));  // the UUID's 16 bytes (Xen's handle) follow the name
    if (name && npos + len <= ncap) memcpy(nb + npos, name->data(), len);
    npos += len;
    if (npos + sizeof d.handle <= ncap) memcpy(nb + npos, d.handle, sizeof d.handle);
    npos += sizeof d.handle;
    if (nv == 1) {
      // Xen sums the domain's cpu_time and counts nr_online_vcpus over its vCPUs
      // (getdomaininfo), so a single vCPU's figures are the domain's: no vcpu_getinfo.
      put(d.nr_online_vcpus == 1 ? 1 : 0);
      put(static_cast<double>(d.cpu_time));
    }
    for (unsigned j = 0; nv > 1 && j < nv; j++) {
      xc_vcpuinfo_t vi = {};
      bool ok = xc_vcpu_getinfo(b->xc, domid, j, &vi) == 0;
      put(ok && vi.online ? 1 : 0);
      put(ok ? static_cast<double>(vi.cpu_time) : 0);
    }
    for (size_t k = firstNet; nn && k < nets.size(); k++) {
      if (nets[k].domid != domid) continue;
      put(nets[k].id);
      for (int v = 0; v < 8; v++) put(static_cast<double>(nets[k].v[v]));
    }
    for (size_t k = firstVbd; nvb && k < vbds.size(); k++) {
      if (vbds[k].first != domid) continue;
      unsigned dev = vbds[k].second;
      VbdFiles& files = b->vbds[vbds[k]];
      unsigned long long vals[5] = {0, 0, 0, 0, 0};
      bool error = false;
      for (int v = 0; v < 5; v++) {
        if (!ReadU64(files.fd[v], &vals[v])) error = true;
      }
      if (error) b->vbdReadFailed = true;
      put(1);  // blkback (libxenstat's type 1)
      put(dev);
      for (int v = 0; v < 5; v++) put(static_cast<double>(vals[v]));
      put(error ? 1 : 0);
    }
  }
  out[0] = ndom;
  out[1] = static_cast<double>(phys.total_pages) * page;
  out[2] = static_cast<double>(phys.free_pages) * page;
  out[3] = ncpus;
  out[4] = static_cast<double>(phys.cpu_khz) * 1000;
  out[5] = 0;
  out[6] = static_cast<double>(pos);
  out[7] = static_cast<double>(npos);
  out[8] = npcpu;
  out[9] = 0;
  return Napi::Boolean::New(env, pos <= cap && npos <= ncap);
}
