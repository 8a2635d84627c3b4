// Save, restore, migration: libxl's stream to and from a descriptor, on the worker thread.
#include "core/context.h"
#include "core/operation.h"

// (domid, fd, after, flags) → `xl save`'s libxl part: the domain's state as libxl's stream,
// appended to fd (the TypeScript side wrote xl's header first). Then, as xl does: destroy the
// domain (after 0), resume it (after 1, `xl save -c`), or leave it suspended (after 2: a
// migration sender, which decides after the receiver's answer). A failed suspend resumes it.
// flags: LIBXL_SUSPEND_LIVE for migration. abortId: for abortWorkerOp (an aborted save resumes
// the domain, as a failed one does).
Napi::Value Context::SaveDomain(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  int fd = static_cast<int>(ArgInt(info, 1, "fd", 0, INT32_MAX));
  int after = static_cast<int>(ArgInt(info, 2, "after", 0, 2));
  int flags = static_cast<int>(ArgOptInt(info, 3, "flags", 0, INT32_MAX, 0));
  uint32_t abortId = static_cast<uint32_t>(ArgOptInt(info, 4, "abort id", 0, UINT32_MAX, 0));
  std::string name = (flags & LIBXL_SUSPEND_LIVE ? "migrate domain " : "save domain ") + std::to_string(domid);
  Call call(this, info.Env(), name);
  if (after < 0 || after > 2 || (flags & ~(LIBXL_SUSPEND_LIVE | LIBXL_SUSPEND_DEBUG))) {
    call.Fail("ERR_INVALID_ARG", "bad save mode");
  }
  auto op = std::make_unique<Operation>(this, info.Env(), name);
  op->abortId = abortId;
  op->stages.push_back([domid, fd, flags](libxl_ctx* ctx, const libxl_asyncop_how* how, Operation*) {
    return libxl_domain_suspend(ctx, domid, fd, flags, how);
  });
  if (after != 2) {
    op->stages.push_back([domid, after](libxl_ctx* ctx, const libxl_asyncop_how* how, Operation*) {
      return after == 1 ? libxl_domain_resume(ctx, domid, 1, how) : libxl_domain_destroy(ctx, domid, how);
    });
  }
  op->onFailure = [domid](libxl_ctx* ctx, const libxl_asyncop_how* how, Operation*) {
    return libxl_domain_resume(ctx, domid, 1, how);
  };
  return StartWorkerAo(call, std::move(op));
}

// (domid) → resumes a suspended domain (a migration sender whose receiver failed).
Napi::Value Context::Resume(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  libxl_ctx* ctx = ctx_;
  return StartAo(info.Env(), "resume domain " + std::to_string(domid),
                 [ctx, domid](const libxl_asyncop_how* how) { return libxl_domain_resume(ctx, domid, 1, how); });
}

// (libxl_domain_config JSON, fd at the start of libxl's stream, paused, abortId) → Promise<domid>.
// An aborted restore, like a failed one, is destroyed by libxl.
Napi::Value Context::RestoreDomain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call(this, env, "restore domain");
  std::string text = ArgString(info, 0, "domain configuration JSON");
  int fd = static_cast<int>(ArgInt(info, 1, "fd", 0, INT32_MAX));
  bool paused = ArgBool(info, 2, "paused", false);
  uint32_t abortId = static_cast<uint32_t>(ArgOptInt(info, 3, "abort id", 0, UINT32_MAX, 0));
  auto* cfg = new libxl_domain_config;
  libxl_domain_config_init(cfg);
  auto freeCfg = [cfg] {
    libxl_domain_config_dispose(cfg);
    delete cfg;
  };
  if (text.empty() || libxl_domain_config_from_json(ctx_, cfg, text.c_str())) {
    freeCfg();
    call.Fail("ERR_INVALID_ARG", "libxl rejected the domain configuration JSON of the image");
  }
  auto op = std::make_unique<Operation>(this, env, "restore domain");
  op->abortId = abortId;
  op->stages.push_back([cfg, fd](libxl_ctx* ctx, const libxl_asyncop_how* how, Operation* o) {
    libxl_domain_restore_params params;
    libxl_domain_restore_params_init(&params);
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;
    int rc = libxl_domain_create_restore(ctx, cfg, &o->domid, fd, -1, &params, how, nullptr);
    libxl_domain_restore_params_dispose(&params);
    return rc;
  });
  if (!paused) op->stages.push_back(UnpauseStage);
  op->cleanup = freeCfg;
  op->resolveDomid = true;
  return StartWorkerAo(call, std::move(op));
}
