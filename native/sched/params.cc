// Scheduler parameters of a domain, of its vCPUs, of a CPU pool. Quick calls, answered on the JS
// thread; data as libxl's JSON.
#include "core/context.h"
#include "core/errors.h"
#include "core/json.h"

Napi::Value Context::SchedParamsGet(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "scheduler parameters of domain " + std::to_string(domid));
  Owned<libxl_domain_sched_params> p;
  int rc = libxl_domain_sched_params_get(ctx_, domid, p.get());
  if (rc) call.Fail(rc);
  return Napi::String::New(info.Env(), ToJson(call, p.get()));
}

Napi::Value Context::SchedParamsSet(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "set scheduler parameters of domain " + std::to_string(domid));
  Owned<libxl_domain_sched_params> p;
  FromJson(call, p.get(), info[1]);
  int rc = libxl_domain_sched_params_set(ctx_, domid, p.get());
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

Napi::Value Context::VcpuSchedParamsGet(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "vCPU scheduler parameters of domain " + std::to_string(domid));
  Owned<libxl_vcpu_sched_params> p;
  int rc = libxl_vcpu_sched_params_get_all(ctx_, domid, p.get());
  if (rc) call.Fail(rc);
  return Napi::String::New(info.Env(), ToJson(call, p.get()));
}

// set(domid, json, all): all = one entry applied to every vCPU (xl sched-rtds -v all).
Napi::Value Context::VcpuSchedParamsSet(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "set vCPU scheduler parameters of domain " + std::to_string(domid));
  Owned<libxl_vcpu_sched_params> p;
  FromJson(call, p.get(), info[1]);
  bool all = ArgBool(info, 2, "all", false);
  int rc =
      all ? libxl_vcpu_sched_params_set_all(ctx_, domid, p.get()) : libxl_vcpu_sched_params_set(ctx_, domid, p.get());
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}

// Pool-wide parameters: (poolid, 'credit' | 'credit2'[, json to set]).
Napi::Value Context::PoolSchedParams(const Napi::CallbackInfo& info) {
  uint32_t poolid = ArgU32(info, 0, "poolid");
  std::string sched = ArgString(info, 1, "scheduler");
  bool set = info.Length() > 2 && !info[2].IsUndefined();
  Call call(this, info.Env(), std::string(set ? "set " : "") + sched + " parameters of pool " + std::to_string(poolid));
  int rc;
  if (sched == "credit") {
    Owned<libxl_sched_credit_params> p;
    if (set) {
      FromJson(call, p.get(), info[2]);
      rc = libxl_sched_credit_params_set(ctx_, poolid, p.get());
    } else {
      rc = libxl_sched_credit_params_get(ctx_, poolid, p.get());
    }
    if (rc) call.Fail(rc);
    return Napi::String::New(info.Env(), ToJson(call, p.get()));
  }
  if (sched == "credit2") {
    Owned<libxl_sched_credit2_params> p;
    if (set) {
      FromJson(call, p.get(), info[2]);
      rc = libxl_sched_credit2_params_set(ctx_, poolid, p.get());
    } else {
      rc = libxl_sched_credit2_params_get(ctx_, poolid, p.get());
    }
    if (rc) call.Fail(rc);
    return Napi::String::New(info.Env(), ToJson(call, p.get()));
  }
  call.Fail("ERR_INVALID_ARG", "pool-wide parameters exist for credit and credit2 only");
}
