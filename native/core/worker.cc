#include "core/worker.h"

#include <condition_variable>

#include "core/errors.h"

std::unique_ptr<Worker> Worker::Start(int logLevel, std::string* error) {
  std::unique_ptr<Worker> w(new Worker());
  w->logger_.SetLevel(logLevel);
  w->thread_ = std::thread([raw = w.get()] { raw->Main(); });
  std::unique_lock<std::mutex> lock(w->startMu_);
  w->startCv_.wait(lock, [&] { return w->started_; });
  if (!w->startError_.empty()) {
    *error = w->startError_;
    lock.unlock();
    w->thread_.join();
    return nullptr;
  }
  return w;
}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  uv_async_send(&wake_);
  if (thread_.joinable()) thread_.join();
}

void Worker::Post(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  uv_async_send(&wake_);
}

void Worker::OnWake(uv_async_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  std::deque<Job> jobs;
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    jobs.swap(self->jobs_);
    stopping = self->stopping_;
  }
  for (Job& job : jobs) job(*self);
  if (stopping) {
    // Jobs settle before Stop is asked (the TypeScript side waits): free the context, close
    // every handle, and let uv_run return.
    libxl_ctx_free(self->ctx_);
    self->ctx_ = nullptr;
    self->binding_->Detach();
    uv_close(reinterpret_cast<uv_handle_t*>(&self->wake_), nullptr);
  }
}

void Worker::Main() {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &wake_, OnWake);
  wake_.data = this;
  int rc = libxl_ctx_alloc(&ctx_, LIBXL_VERSION, 0, logger_.get());
  {
    std::lock_guard<std::mutex> lock(startMu_);
    if (rc) {
      startError_ = "cannot open a libxl context for the worker thread (" + LibxlErrorName(rc) + ")";
      ctx_ = nullptr;
    } else {
      binding_ = std::make_unique<LoopBinding>(&loop_);
      binding_->Attach(ctx_);
    }
    started_ = true;
  }
  startCv_.notify_all();
  if (!ctx_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return;
  }
  // The wake handle keeps the loop running until Stop; libxl's handles are unref'd.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_run(&loop_, UV_RUN_NOWAIT);  // close callbacks
  uv_loop_close(&loop_);
}
