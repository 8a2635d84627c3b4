// CPUs: vCPU lists and affinity, CPU pools, topology. Quick calls, answered on the JS thread;
// data as libxl's JSON.
#include <cerrno>
#include <vector>

#include "core/context.h"
#include "core/errors.h"
#include "core/json.h"

namespace {

// A CPU bitmap (sized for the host) from an array of CPU numbers.
void CpuMapFromArray(Call& call, libxl_bitmap* map, const Napi::Value& arg) {
  if (libxl_cpu_bitmap_alloc(call.ctx(), map, 0)) call.Fail(ERROR_NOMEM);
  if (!arg.IsArray()) call.Fail("ERR_INVALID_ARG", "expected an array of CPU numbers");
  Napi::Array cpus = arg.As<Napi::Array>();
  for (uint32_t i = 0; i < cpus.Length(); i++) {
    Napi::Value v = cpus.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d < map->size * 8.0 && d == static_cast<int>(d))) {
      // ToString() of a number only: a symbol's or a null-prototype object's would throw.
      call.Fail("ERR_INVALID_ARG",
                "no such CPU: " + (v.IsNumber() ? v.ToString().Utf8Value() : std::string("(not a number)")));
    }
    libxl_bitmap_set(map, static_cast<int>(d));
  }
}

class Bitmap {
 public:
  Bitmap() { libxl_bitmap_init(&m_); }
  ~Bitmap() { libxl_bitmap_dispose(&m_); }
  libxl_bitmap* get() { return &m_; }

 private:
  libxl_bitmap m_;
};

}  // namespace

Napi::Value Context::ListVcpus(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "vCPUs of domain " + std::to_string(domid));
  int n = 0, nrcpus = 0;
  libxl_vcpuinfo* list = libxl_list_vcpu(ctx_, domid, &n, &nrcpus);
  if (!list) {
    libxl_dominfo d;
    libxl_dominfo_init(&d);
    int rc = libxl_domain_info(ctx_, &d, domid);
    libxl_dominfo_dispose(&d);
    call.Fail(rc ? rc : ERROR_FAIL);
  }
  std::string json = ListJson(call, list, n);
  libxl_vcpuinfo_list_free(list, n);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("json", json);
  out.Set("nrcpus", nrcpus);
  return out;
}

// (domid, vcpu | -1 for all, hard cpus | null, soft cpus | null, max vcpus)
Napi::Value Context::SetVcpuAffinity(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  int64_t vcpu = ArgInt(info, 1, "vcpu (-1 for all)", -1, 4095);
  // The count libxl_set_vcpuaffinity_all loops over: bounded, or a huge one would hang.
  uint32_t max = vcpu < 0 ? ArgU32(info, 4, "max vcpus", 4096) : 0;
  Call call(
      this, info.Env(),
      "pin vCPU " + (vcpu < 0 ? std::string("all") : std::to_string(vcpu)) + " of domain " + std::to_string(domid));
  Bitmap hard, soft;
  bool hasHard = !info[2].IsNull() && !info[2].IsUndefined();
  bool hasSoft = !info[3].IsNull() && !info[3].IsUndefined();
  if (hasHard) CpuMapFromArray(call, hard.get(), info[2]);
  if (hasSoft) CpuMapFromArray(call, soft.get(), info[3]);
  int rc;
  if (vcpu < 0) {
    rc = libxl_set_vcpuaffinity_all(ctx_, domid, max, hasHard ? hard.get() : nullptr, hasSoft ? soft.get() : nullptr);
  } else {
    rc = libxl_set_vcpuaffinity(ctx_, domid, static_cast<uint32_t>(vcpu), hasHard ? hard.get() : nullptr,
                                hasSoft ? soft.get() : nullptr);
  }
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::ListCpupools(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "list cpupools");
  int n = 0;
  libxl_cpupoolinfo* list = libxl_list_cpupool(ctx_, &n);
  return ListResult(call, info.Env(), list, n, libxl_cpupoolinfo_list_free);
}

// (name, scheduler name, cpus) → poolid
Napi::Value Context::CpupoolCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  std::string schedName = ArgString(info, 1, "scheduler");
  Call call(this, info.Env(), "create cpupool " + name);
  libxl_scheduler sched;
  if (libxl_scheduler_from_string(schedName.c_str(), &sched))
    call.Fail("ERR_INVALID_ARG", "unknown scheduler " + schedName);
  Bitmap cpus;
  CpuMapFromArray(call, cpus.get(), info[2]);
  libxl_uuid uuid;
  libxl_uuid_generate(&uuid);
  uint32_t poolid = LIBXL_CPUPOOL_POOLID_ANY;
  errno = 0;
  int rc = libxl_cpupool_create(ctx_, name.c_str(), sched, *cpus.get(), &uuid, &poolid);
  if (rc) call.FailErrno(rc, errno);
  return Napi::Number::New(info.Env(), poolid);
}

Napi::Value Context::CpupoolDestroy(const Napi::CallbackInfo& info) {
  uint32_t poolid = ArgU32(info, 0, "poolid");
  Call call(this, info.Env(), "destroy cpupool " + std::to_string(poolid));
  errno = 0;
  int rc = libxl_cpupool_destroy(ctx_, poolid);
  if (rc) call.FailErrno(rc, errno);
  return info.Env().Undefined();
}

Napi::Value Context::CpupoolRename(const Napi::CallbackInfo& info) {
  uint32_t poolid = ArgU32(info, 0, "poolid");
  std::string name = ArgString(info, 1, "name");
  Call call(this, info.Env(), "rename cpupool " + std::to_string(poolid));
  int rc = libxl_cpupool_rename(ctx_, name.c_str(), poolid);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

// (poolid, 'add' | 'remove', cpu): one CPU in or out (src/sched/sched.ts expands lists and node:N).
Napi::Value Context::CpupoolCpu(const Napi::CallbackInfo& info) {
  uint32_t poolid = ArgU32(info, 0, "poolid");
  bool add = ArgWord(info, 1, "verb", {"add", "remove"}) == "add";
  uint32_t cpu = ArgU32(info, 2, "cpu");
  Call call(this, info.Env(),
            std::string(add ? "add" : "remove") + " cpu " + std::to_string(cpu) + (add ? " to" : " from") +
                " cpupool " + std::to_string(poolid));
  errno = 0;
  int rc = add ? libxl_cpupool_cpuadd(ctx_, poolid, cpu) : libxl_cpupool_cpuremove(ctx_, poolid, cpu);
  if (rc) call.FailErrno(rc, errno);
  return info.Env().Undefined();
}

Napi::Value Context::CpupoolMoveDomain(const Napi::CallbackInfo& info) {
  uint32_t poolid = ArgU32(info, 0, "poolid");
  uint32_t domid = ArgDomid(info, 1);
  Call call(this, info.Env(), "move domain " + std::to_string(domid) + " to cpupool " + std::to_string(poolid));
  errno = 0;
  int rc = libxl_cpupool_movedomain(ctx_, poolid, domid);
  if (rc) call.FailErrno(rc, errno);
  return info.Env().Undefined();
}

Napi::Value Context::CpuTopology(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "cpu topology");
  int n = 0;
  libxl_cputopology* list = libxl_get_cpu_topology(ctx_, &n);
  return ListResult(call, info.Env(), list, n, libxl_cputopology_list_free);
}

Napi::Value Context::NumaInfo(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "numa info");
  int n = 0;
  libxl_numainfo* list = libxl_get_numainfo(ctx_, &n);
  return ListResult(call, info.Env(), list, n, libxl_numainfo_list_free);
}
