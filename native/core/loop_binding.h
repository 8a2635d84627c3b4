// libxl's application event hooks (osevent) on a libuv loop, and SIGCHLD in libxl's
// "mainloop" mode: libxl sees its fds and timeouts served by the loop of the thread that owns
// the context, and libuv keeps reaping its own children next to libxl's.
#pragma once
#include <uv.h>

#include <cstdint>
#include <map>
#include <unordered_map>

#include "core/xen.h"

class LoopBinding {
 public:
  explicit LoopBinding(uv_loop_t* loop) : loop_(loop) {}
  ~LoopBinding() { Detach(); }
  // Installs the hooks on a freshly allocated ctx (before any other call on it).
  void Attach(libxl_ctx* ctx);
  // Closes every handle; call after libxl_ctx_free (which deregisters what it still had).
  void Detach();
  uv_loop_t* loop() const { return loop_; }
  size_t pendingTimeouts() const { return timers_.size(); }

 private:
  struct FdWatch;
  struct FdReg {
    uint64_t id;
    FdWatch* watch;
    short events;
    void* for_libxl;
  };
  struct FdWatch {
    LoopBinding* owner;
    int fd;
    uv_poll_t* poll;  // null for an fd epoll cannot watch (a regular file): always ready
    std::map<uint64_t, FdReg*> regs;
  };
  struct Timer {
    LoopBinding* owner;
    uint64_t id;
    uv_timer_t* handle;
    void* for_libxl;
  };

  static int FdRegister(void* user, int fd, void** out, short events, void* for_libxl);
  static int FdModify(void* user, int fd, void** update, short events);
  static void FdDeregister(void* user, int fd, void* reg);
  static int TimeoutRegister(void* user, void** out, struct timeval abs, void* for_libxl);
  static int TimeoutModify(void* user, void** update, struct timeval abs);
  static void TimeoutDeregister(void* user, void* reg);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnSigchld(uv_signal_t* handle, int signum);
  static void OnReadyIdle(uv_idle_t* handle);
  void Dispatch(FdWatch* w, short revents);
  void UpdateReadyIdle();

  int UpdatePoll(FdWatch* w);
  void StartTimer(Timer* t, uint64_t delayMs);
  void CloseTimer(Timer* t);

  static const libxl_osevent_hooks kHooks;
  static const libxl_childproc_hooks kChildHooks;

  uv_loop_t* loop_;
  libxl_ctx* ctx_ = nullptr;
  uint64_t nextId_ = 1;
  std::unordered_map<int, FdWatch*> watches_;
  std::unordered_map<uint64_t, FdReg*> regs_;
  std::unordered_map<uint64_t, Timer*> timers_;
  uv_signal_t* sigchld_ = nullptr;
  // poll(2) says a regular file is always readable and writable; epoll refuses to watch one
  // (EPERM). libxl's datacopier writes save images to such fds, so they are served from an
  // idle handle for as long as libxl wants events on them.
  uv_idle_t* readyIdle_ = nullptr;
};
