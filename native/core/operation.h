// One record for every libxl asynchronous operation (ao) the addon starts, wherever it runs.
//
// On the JS thread's context (Context::StartAo): libxl calls back, possibly inside the starting
// call; the callback only queues the record, and the loop settles its Promise (Dispatch).
// On the worker thread's context (Context::StartWorkerAo), for calls that block their thread:
// stages run there one after the other, then a ThreadSafeFunction call settles the Promise on
// the JS thread. Either way the Promise is never settled from inside libxl's callback.
//
// An operation started with a non-zero abort id sits in its context's abort table while in
// flight, so that JS can ask libxl_ao_abort for it (Context::Abort).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/context.h"

struct Operation {
  // One libxl call with an ao_how, on the worker's context.
  using Stage = std::function<int(libxl_ctx*, const libxl_asyncop_how*, Operation*)>;

  Operation(Context* self, Napi::Env env, std::string name)
      : self(self), deferred(Napi::Promise::Deferred::New(env)), name(std::move(name)) {}

  Context* self;
  Napi::Promise::Deferred deferred;
  std::string name;      // for the error: "<name> failed (<code>)"
  uint32_t abortId = 0;  // 0: not abortable
  // Set by Abort for a worker operation, read by stages that do their own work (core dump).
  std::atomic<bool> abortRequested{false};
  // On the JS thread once settled: frees what the operation used (ao parameters must outlive it).
  std::function<void()> cleanup;
  // The value the Promise resolves with (undefined without); runs before cleanup.
  std::function<Napi::Value(Napi::Env)> result;
  // Create and restore: resolve with the new domid; a failure carries it when libxl made one.
  bool resolveDomid = false;
  uint32_t domid = INVALID_DOMID;

  // libxl's return code, and its log lines from logMark on when it failed.
  int rc = 0;
  uint64_t logMark = 0;
  std::vector<std::string> lines;
  // JS thread: libxl has called back and the record waits in the loop's queue.
  bool completed = false;

  // Worker thread (worker non-null): asynchronous libxl calls run one after the other while they
  // succeed (e.g. suspend, then destroy). Each is an ao with a callback: a synchronous call that
  // forks (destroy runs hotplug scripts) would wait inside libxl for a SIGCHLD that only the
  // worker's loop can deliver, and deadlock.
  Worker* worker = nullptr;
  std::vector<Stage> stages;
  size_t stage = 0;
  // After a failure, an asynchronous undo (e.g. resume after a failed save); its result is
  // not reported over the original error.
  Stage onFailure;
  bool undoing = false;
};

// A stage that unpauses the domain the operation made (xl create/restore without -p).
int UnpauseStage(libxl_ctx* ctx, const libxl_asyncop_how* how, Operation* op);
