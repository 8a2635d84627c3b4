// libxl asynchronous operations: started from JS, completed by libxl's callback, settled from
// the loop; the abort table. See operation.h.
#include "core/operation.h"

#include <mutex>

#include "core/errors.h"

namespace {

libxl_asyncop_how HowFor(Operation* op, void (*callback)(libxl_ctx*, int, void*)) {
  libxl_asyncop_how how;
  how.callback = callback;
  how.u.for_callback = op;
  return how;
}

}  // namespace

// ---- on the JS thread's context

Napi::Value Context::StartAo(Napi::Env env, const std::string& name,
                             const std::function<int(const libxl_asyncop_how*)>& start, std::function<void()> cleanup,
                             uint32_t abortId, std::function<Napi::Value(Napi::Env)> result) {
  Call call(this, env, name);
  auto op = std::make_unique<Operation>(this, env, name);
  op->logMark = logger_.Mark();
  op->cleanup = std::move(cleanup);
  op->abortId = abortId;
  op->result = std::move(result);
  Napi::Promise promise = op->deferred.Promise();
  libxl_asyncop_how how = HowFor(op.get(), AoDone);
  OpStarted();
  Track(op.get());
  int rc = start(&how);
  if (rc) {
    // A failed initiation never calls back.
    OpSettled();
    Untrack(op.get());
    if (op->cleanup) op->cleanup();
    call.Fail(rc);
  }
  op.release();  // AoDone queues it; Settle frees it
  return promise;
}

// May run inside the initiating call (e.g. destroy of an unknown domain): only record.
void Context::AoDone(libxl_ctx*, int rc, void* for_callback) {
  auto* op = static_cast<Operation*>(for_callback);
  op->rc = rc;
  op->completed = true;
  op->self->completions_.push_back(op);
  if (op->self->dispatch_) uv_async_send(op->self->dispatch_);
}

// From Dispatch, on the loop.
void Context::SettleCompletions(Napi::Env env) {
  while (!completions_.empty()) {
    Operation* op = completions_.front();
    completions_.pop_front();
    if (op->rc) op->lines = logger_.Since(op->logMark);
    Settle(env, op);
  }
}

// ---- on the worker thread's context

Napi::Value Context::StartWorkerAo(Call& call, std::unique_ptr<Operation> op) {
  try {
    op->worker = EnsureWorker(call);
  } catch (const Napi::Error&) {
    if (op->cleanup) op->cleanup();  // never started: free what it was given
    throw;
  }
  Napi::Promise promise = op->deferred.Promise();
  OpStarted();
  Operation* raw = op.release();  // FinishOnWorker hands it to Settle, which frees it
  Track(raw);
  raw->worker->Post([raw](Worker& w) {
    raw->logMark = w.logger().Mark();
    RunNext(w, raw);
  });
  return promise;
}

Worker* Context::EnsureWorker(Call& call) {
  if (worker_) return worker_.get();
  if (XenstoredDown()) {
    CheckXenstoreLost();
    call.Fail("ERR_XENSTORE_LOST", "xenstored does not answer on its socket (stopped or restarting)", ECONNREFUSED);
  }
  std::string error;
  worker_ = Worker::Start(logger_.Level(), &error);
  if (!worker_) call.Fail("ERR_INTERNAL", error);
  results_ = Napi::ThreadSafeFunction::New(Env(), Napi::Function::New(Env(), [](const Napi::CallbackInfo&) {}),
                                           "xenlight worker results", 0, 1);
  results_.Unref(Env());
  return worker_.get();
}

// Worker thread: starts the next stage (or the undo); finishes when there is nothing to start.
void Context::RunNext(Worker& w, Operation* op) {
  for (;;) {
    Operation::Stage* next = nullptr;
    if (op->undoing) {
      next = nullptr;
    } else if (op->rc != 0) {
      op->lines = w.logger().Since(op->logMark);
      if (op->onFailure) {
        op->undoing = true;
        next = &op->onFailure;
      }
    } else if (op->stage < op->stages.size()) {
      next = &op->stages[op->stage++];
    }
    if (!next) return FinishOnWorker(op);
    libxl_asyncop_how how = HowFor(op, WorkerAoDone);
    int rc = (*next)(w.ctx(), &how, op);
    if (rc == 0) return;  // the callback continues
    // A failed initiation never calls back.
    if (!op->undoing) op->rc = rc;
  }
}

// libxl calls back here, possibly inside the initiating call: continue as a job of its own,
// outside libxl's callback.
void Context::WorkerAoDone(libxl_ctx*, int rc, void* p) {
  auto* op = static_cast<Operation*>(p);
  if (!op->undoing) op->rc = rc;
  op->worker->Post([op](Worker& w) { RunNext(w, op); });
}

// Worker thread: hands the operation to the JS thread.
void Context::FinishOnWorker(Operation* op) {
  op->self->results_.NonBlockingCall(op, [](Napi::Env env, Napi::Function, Operation* op) {
    // Called from libuv (the ThreadSafeFunction's async handle), outside any call from JS: no
    // C++ exception may leave it. napi calls fail while a worker thread's environment is torn
    // down with an operation settling (JS can no longer run); the promise is then moot.
    try {
      op->self->Settle(env, op);
    } catch (const Napi::Error&) {
    }
  });
}

int UnpauseStage(libxl_ctx* ctx, const libxl_asyncop_how* how, Operation* op) {
  return libxl_domain_unpause(ctx, op->domid, how);
}

// ---- settling, on the JS thread

// Settles op's Promise, then forgets op and frees it. A napi failure while settling (the
// environment is going away) still forgets op, and is rethrown for the caller to handle.
void Context::Settle(Napi::Env env, Operation* raw) {
  std::unique_ptr<Operation> op(raw);
  try {
    SettlePromise(env, *op);
  } catch (const Napi::Error&) {
    Forget(*op);
    throw;
  }
  Forget(*op);
}

void Context::SettlePromise(Napi::Env env, Operation& op) {
  if (op.rc == 0) {
    Napi::Value value = op.resolveDomid ? Napi::Value(Napi::Number::New(env, op.domid)) : env.Undefined();
    if (op.result) {
      try {
        value = op.result(env);
      } catch (const Napi::Error& e) {
        op.deferred.Reject(e.Value());
        return;
      }
    }
    op.deferred.Resolve(value);
    return;
  }
  std::string code = LibxlErrorName(op.rc);
  std::string msg = FailureMessage(op.name, code, op.lines);
  MapXenstoreLoss(code, msg);
  Napi::Error err = MakeXenError(env, op.name, msg, code, 0, op.lines);
  // The domain a failed create had made (libxl tells it early), for the caller's clean-up.
  if (op.resolveDomid && op.domid != static_cast<uint32_t>(INVALID_DOMID)) {
    err.Set("domid", Napi::Number::New(env, op.domid));
  }
  op.deferred.Reject(err.Value());
}

void Context::Forget(Operation& op) {
  Untrack(&op);
  if (op.cleanup) op.cleanup();
  OpSettled();
}

// While an operation is in flight the loop stays alive and this object is not collected.
void Context::OpStarted() {
  if (inflight_++ == 0) Ref();
  KeepLoopAlive(true);
}

void Context::OpSettled() {
  inflight_--;
  KeepLoopAlive(false);
  if (inflight_ == 0) Unref();
}

// ---- the abort table

void Context::Track(Operation* op) {
  if (!op->abortId) return;
  std::lock_guard<std::mutex> lock(abortMu_);
  abortable_[op->abortId] = op;
}

void Context::Untrack(Operation* op) {
  if (!op->abortId) return;
  std::lock_guard<std::mutex> lock(abortMu_);
  abortable_.erase(op->abortId);
}

// (abortId) → whether an abort was asked of libxl: libxl_ao_abort on the operation started with
// that id, which libxl then finishes early with ERROR_ABORTED, undoing what it had done. On the
// JS thread's context: false when it has already completed. On the worker: asked there, so true
// while it is in flight; libxl may still complete it (the TypeScript side undoes a create that
// completes anyway). JS names this abortAo and abortWorkerOp; abort ids are unique across both.
Napi::Value Context::Abort(const Napi::CallbackInfo& info) {
  uint32_t abortId = ArgU32(info, 0, "abort id");
  if (!ctx_) return Napi::Boolean::New(info.Env(), false);
  Operation* op = nullptr;
  {
    std::lock_guard<std::mutex> lock(abortMu_);
    auto it = abortable_.find(abortId);
    if (it != abortable_.end()) op = it->second;
    if (op && op->worker) {
      op->abortRequested.store(true);
      // Looked up again on the worker: the operation may have settled by then.
      op->worker->Post([self = this, abortId](Worker& w) { self->AbortOnWorker(w, abortId); });
      return Napi::Boolean::New(info.Env(), true);
    }
  }
  // Only this thread frees an operation of this context: op stays valid without the lock.
  if (!op || op->completed) return Napi::Boolean::New(info.Env(), false);
  libxl_asyncop_how how = HowFor(op, AoDone);
  return Napi::Boolean::New(info.Env(), libxl_ao_abort(ctx_, &how) == 0);
}

// Worker thread. The lock keeps the operation from being freed during libxl_ao_abort.
void Context::AbortOnWorker(Worker& w, uint32_t abortId) {
  std::lock_guard<std::mutex> lock(abortMu_);
  auto it = abortable_.find(abortId);
  if (it == abortable_.end()) return;
  libxl_asyncop_how how = HowFor(it->second, WorkerAoDone);
  libxl_ao_abort(w.ctx(), &how);
}
