// A thread with its own libuv loop and its own libxl context, for libxl operations that block
// the calling thread for seconds (libxl_domain_create_new builds the domain inside the call).
// Separate contexts in separate threads behave like separate xl processes.
#pragma once
#include <uv.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/logger.h"
#include "core/loop_binding.h"
#include "core/xen.h"

class Worker {
 public:
  using Job = std::function<void(Worker&)>;
  // Starts the thread and waits until its context exists; nullptr and *error on failure.
  static std::unique_ptr<Worker> Start(int logLevel, std::string* error);
  ~Worker();
  // Runs job on the worker thread.
  void Post(Job job);
  libxl_ctx* ctx() const { return ctx_; }
  CaptureLogger& logger() { return logger_; }

 private:
  Worker() = default;
  void Main();
  static void OnWake(uv_async_t* handle);

  std::thread thread_;
  uv_loop_t loop_;
  uv_async_t wake_;
  std::mutex mu_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  libxl_ctx* ctx_ = nullptr;
  CaptureLogger logger_;
  std::unique_ptr<LoopBinding> binding_;
  // Start-up handshake.
  std::mutex startMu_;
  bool started_ = false;
  std::string startError_;
  std::condition_variable startCv_;
};
