// libxl asynchronous operations: on the JS thread's context, or on the worker thread.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/context.h"

struct WorkerOp {
  Context* self;
  Napi::Promise::Deferred deferred;
  std::string op;
  Worker* worker = nullptr;
  Napi::ThreadSafeFunction* results = nullptr;
  // On the worker: asynchronous libxl calls run one after the other while they succeed (e.g.
  // suspend, then destroy). Each is an ao with a callback: a synchronous call that forks
  // (destroy runs hotplug scripts) would wait inside libxl for a SIGCHLD that only this
  // thread's loop can deliver, and deadlock.
  using Stage = std::function<int(libxl_ctx*, const libxl_asyncop_how*, WorkerOp*)>;
  std::vector<Stage> stages;
  size_t stage = 0;
  // After a failure, an asynchronous undo (e.g. resume after a failed save); its result is
  // not reported over the original error.
  Stage onFailure;
  bool undoing = false;
  // On the JS thread, once settled: frees what the operation used.
  std::function<void()> cleanup;
  bool resolveDomid = false;
  uint32_t domid = INVALID_DOMID;
  // Names the operation for abortWorkerOp (0: not abortable).
  uint32_t abortId = 0;
  uint64_t mark = 0;
  int rc = 0;
  std::vector<std::string> lines;
};

// A stage that unpauses the domain the operation made (xl create/restore without -p).
int UnpauseStage(libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp* o);
