// Domain creation, on the worker thread.
#include "core/context.h"
#include "core/operation.h"

// (libxl_domain_config JSON, paused) → Promise<domid>. The build blocks its thread for
// seconds (libxc unpacks the kernel inside the call).
Napi::Value Context::CreateDomain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "create domain");
  // Every argument is checked before anything is allocated: a throw leaks nothing.
  std::string text = ArgString(info, 0, "domain configuration JSON");
  bool paused = ArgBool(info, 1, "paused", false);
  uint32_t abortId = static_cast<uint32_t>(ArgOptInt(info, 2, "abort id", 0, UINT32_MAX, 0));
  auto* cfg = new libxl_domain_config;
  libxl_domain_config_init(cfg);
  auto freeCfg = [cfg] {
    libxl_domain_config_dispose(cfg);
    delete cfg;
  };
  if (libxl_domain_config_from_json(ctx_, cfg, text.c_str())) {
    freeCfg();
    call.Fail("ERR_INVALID_ARG", "libxl rejected the domain configuration JSON");
  }
  auto op = std::make_unique<Operation>(this, env, "create domain");
  op->abortId = abortId;
  op->stages.push_back([cfg](libxl_ctx* ctx, const libxl_asyncop_how* how, Operation* o) {
    return libxl_domain_create_new(ctx, cfg, &o->domid, how, nullptr);
  });
  // libxl leaves a new domain paused; xl create unpauses it unless -p.
  if (!paused) op->stages.push_back(UnpauseStage);
  op->cleanup = freeCfg;
  op->resolveDomid = true;
  return StartWorkerAo(call, std::move(op));
}
