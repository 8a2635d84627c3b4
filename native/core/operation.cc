// libxl asynchronous operations: started from JS, completed by libxl's callback, settled from the loop.
#include "core/operation.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "core/errors.h"

// (abortId) → whether the operation was still in flight. libxl then finishes it early with
// ERROR_ABORTED, undoing what it had done; a finished one is left alone.
Napi::Value Context::AbortAo(const Napi::CallbackInfo& info) {
  uint32_t abortId = ArgU32(info, 0, "abort id");
  if (!ctx_) return Napi::Boolean::New(info.Env(), false);
  auto it = abortable_.find(abortId);
  if (it == abortable_.end() || it->second->rc != 0 || std::find(completions_.begin(), completions_.end(), it->second) != completions_.end()) {
    return Napi::Boolean::New(info.Env(), false);
  }
  libxl_asyncop_how how;
  how.callback = AoDone;
  how.u.for_callback = it->second;
  return Napi::Boolean::New(info.Env(), libxl_ao_abort(ctx_, &how) == 0);
}


// ---- asynchronous operations (libxl ao with a callback)

Napi::Value Context::StartAo(Napi::Env env, const std::string& op,
                             const std::function<int(const libxl_asyncop_how*)>& start, std::function<void()> cleanup,
                             uint32_t abortId, std::function<Napi::Value(Napi::Env)> result) {
  Call call(this, env, op);
  auto* req = new AoRequest{this, Napi::Promise::Deferred::New(env), op, logger_.Mark(), 0, std::move(cleanup), abortId,
                            std::move(result)};
  Napi::Promise promise = req->deferred.Promise();
  libxl_asyncop_how how;
  how.callback = AoDone;
  how.u.for_callback = req;
  OpStarted();
  if (abortId) abortable_[abortId] = req;
  int rc = start(&how);
  if (rc) {
    // A failed initiation never calls back.
    OpSettled();
    if (abortId) abortable_.erase(abortId);
    if (req->cleanup) req->cleanup();
    delete req;
    call.Fail(rc);
  }
  return promise;
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

// May run inside the initiating call (e.g. destroy of an unknown domain): only record.
void Context::AoDone(libxl_ctx*, int rc, void* for_callback) {
  auto* req = static_cast<AoRequest*>(for_callback);
  req->rc = rc;
  req->self->completions_.push_back(req);
  if (req->self->dispatch_) uv_async_send(req->self->dispatch_);
}



namespace {

// Abortable operations in flight, by (context, id). Registered on the JS thread, looked up on
// the worker; an op leaves the table before it is freed.
std::mutex abortableMu;
std::map<std::pair<Context*, uint32_t>, WorkerOp*> abortable;

void Settle(Napi::Env env, Napi::Function, WorkerOp* op) {
  std::unique_ptr<WorkerOp> owned(op);
  if (op->abortId) {
    std::lock_guard<std::mutex> lock(abortableMu);
    abortable.erase({op->self, op->abortId});
  }
  if (op->cleanup) op->cleanup();
  // Called from libuv (the ThreadSafeFunction's async handle), outside any call from JS: no C++
  // exception may leave it. napi calls fail while a worker thread's environment is torn down
  // with an operation settling (JS can no longer run); the promise is then moot.
  try {
    if (op->rc == 0) {
      op->deferred.Resolve(op->resolveDomid ? Napi::Value(Napi::Number::New(env, op->domid)) : env.Undefined());
    } else {
      std::string code = LibxlErrorName(op->rc);
      std::string msg = FailureMessage(op->op, code, op->lines);
      op->self->MapXenstoreLoss(code, msg);
      Napi::Error err = MakeXenError(env, op->op, msg, code, 0, op->lines);
      // The domain a failed create had made (libxl tells it early), for the caller's clean-up.
      if (op->resolveDomid && op->domid != static_cast<uint32_t>(INVALID_DOMID)) err.Set("domid", Napi::Number::New(env, op->domid));
      op->deferred.Reject(err.Value());
    }
  } catch (const Napi::Error&) {
  }
  try {
    op->self->OpSettledFromWorker();
  } catch (const Napi::Error&) {
  }
}

void Finish(Worker& w, WorkerOp* op) {
  op->results->NonBlockingCall(op, Settle);
}

void WorkerAoDone(libxl_ctx*, int rc, void* p);


// Worker thread: starts the next stage (or the undo); finishes when there is nothing to start.
void RunNext(Worker& w, WorkerOp* op) {
  for (;;) {
    WorkerOp::Stage* next = nullptr;
    if (op->undoing) {
      next = nullptr;
    } else if (op->rc != 0) {
      op->lines = w.logger().Since(op->mark);
      if (op->onFailure) {
        op->undoing = true;
        next = &op->onFailure;
      }
    } else if (op->stage < op->stages.size()) {
      next = &op->stages[op->stage++];
    }
    if (!next) return Finish(w, op);
    libxl_asyncop_how how;
    how.callback = WorkerAoDone;
    how.u.for_callback = op;
    int rc = (*next)(w.ctx(), &how, op);
    if (rc == 0) return;  // the callback continues
    // A failed initiation never calls back.
    if (!op->undoing) op->rc = rc;
  }
}

// libxl calls back here, possibly inside the initiating call: continue as a job of its own,
// outside libxl's callback.
void WorkerAoDone(libxl_ctx*, int rc, void* p) {
  auto* op = static_cast<WorkerOp*>(p);
  if (!op->undoing) op->rc = rc;
  op->worker->Post([op](Worker& w) { RunNext(w, op); });
}

}  // namespace

Napi::Value Context::StartWorkerAo(Call& call, std::unique_ptr<WorkerOp> op) {
  op->worker = EnsureWorker(call);
  op->results = &results_;
  Napi::Promise promise = op->deferred.Promise();
  OpStarted();
  WorkerOp* raw = op.release();
  if (raw->abortId) {
    std::lock_guard<std::mutex> lock(abortableMu);
    abortable[{this, raw->abortId}] = raw;
  }
  raw->worker->Post([raw](Worker& w) {
    raw->mark = w.logger().Mark();
    RunNext(w, raw);
  });
  return promise;
}

// (id): libxl_ao_abort on the operation started with that abort id, on its worker. libxl may
// still complete it; the TypeScript side undoes a create that completes anyway.
Napi::Value Context::AbortWorkerOp(const Napi::CallbackInfo& info) {
  uint32_t id = ArgU32(info, 0, "abort id");
  Context* self = this;
  std::lock_guard<std::mutex> lock(abortableMu);
  auto it = abortable.find({self, id});
  if (it == abortable.end()) return Napi::Boolean::New(info.Env(), false);
  it->second->worker->Post([self, id](Worker& w) {
    std::lock_guard<std::mutex> lock(abortableMu);
    auto found = abortable.find({self, id});
    if (found == abortable.end()) return;
    libxl_asyncop_how how;
    how.callback = WorkerAoDone;
    how.u.for_callback = found->second;
    libxl_ao_abort(w.ctx(), &how);
  });
  return Napi::Boolean::New(info.Env(), true);
}

int UnpauseStage(libxl_ctx* ctx, const libxl_asyncop_how* how, WorkerOp* o) {
  return libxl_domain_unpause(ctx, o->domid, how);
}
