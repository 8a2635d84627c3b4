#include "core/loop_binding.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

const libxl_osevent_hooks LoopBinding::kHooks = {
    FdRegister, FdModify, FdDeregister, TimeoutRegister, TimeoutModify, TimeoutDeregister,
};

// libuv installs its own SIGCHLD handler; every libxl mode that would install one aborts, so
// the loop owns SIGCHLD and tells libxl, which then waits only for its own children.
const libxl_childproc_hooks LoopBinding::kChildHooks = {libxl_sigchld_owner_mainloop, nullptr, nullptr};

void LoopBinding::Attach(libxl_ctx* ctx) {
  ctx_ = ctx;
  libxl_osevent_register_hooks(ctx, &kHooks, this);
  libxl_childproc_setmode(ctx, &kChildHooks, this);
  sigchld_ = new uv_signal_t;
  uv_signal_init(loop_, sigchld_);
  sigchld_->data = this;
  uv_signal_start(sigchld_, OnSigchld, SIGCHLD);
  uv_unref(reinterpret_cast<uv_handle_t*>(sigchld_));
  readyIdle_ = new uv_idle_t;
  uv_idle_init(loop_, readyIdle_);
  readyIdle_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(readyIdle_));
}

void LoopBinding::Detach() {
  for (auto& [fd, w] : watches_) {
    if (w->poll) {
      uv_poll_stop(w->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(w->poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    }
    for (auto& [id, r] : w->regs) delete r;
    delete w;
  }
  watches_.clear();
  regs_.clear();
  for (auto& [id, t] : timers_) {
    uv_timer_stop(t->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(t->handle),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    delete t;
  }
  timers_.clear();
  if (readyIdle_) {
    uv_idle_stop(readyIdle_);
    uv_close(reinterpret_cast<uv_handle_t*>(readyIdle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
    readyIdle_ = nullptr;
  }
  if (sigchld_) {
    uv_signal_stop(sigchld_);
    uv_close(reinterpret_cast<uv_handle_t*>(sigchld_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
    sigchld_ = nullptr;
  }
  ctx_ = nullptr;
}

void LoopBinding::OnSigchld(uv_signal_t* handle, int) {
  auto* self = static_cast<LoopBinding*>(handle->data);
  if (self->ctx_) libxl_childproc_sigchld_occurred(self->ctx_);
}

// ---- fds: one uv_poll_t per fd (a second uv_poll_init on a polled fd fails with EEXIST),
// carrying every registration libxl has on that fd.

int LoopBinding::UpdatePoll(FdWatch* w) {
  if (!w->poll) {
    UpdateReadyIdle();
    return 0;
  }
  int uvev = 0;
  for (auto& [id, r] : w->regs) {
    if (r->events & (POLLIN | POLLRDHUP)) uvev |= UV_READABLE;
    if (r->events & POLLOUT) uvev |= UV_WRITABLE;
    if (r->events & POLLPRI) uvev |= UV_PRIORITIZED;
  }
  if (uvev == 0) return uv_poll_stop(w->poll);
  return uv_poll_start(w->poll, uvev, OnPoll);
}

int LoopBinding::FdRegister(void* user, int fd, void** out, short events, void* for_libxl) {
  auto* self = static_cast<LoopBinding*>(user);
  FdWatch* w;
  auto it = self->watches_.find(fd);
  if (it != self->watches_.end()) {
    w = it->second;
  } else {
    w = new FdWatch{self, fd, new uv_poll_t, {}};
    // uv_poll_init makes the fd non-blocking; libxl did not ask for that, so restore it.
    int flags = fcntl(fd, F_GETFL);
    int rc = uv_poll_init(self->loop_, w->poll, fd);
    if (flags >= 0) fcntl(fd, F_SETFL, flags);
    if (rc == UV_EPERM) {
      delete w->poll;
      w->poll = nullptr;  // always ready, as poll(2) has it
    } else if (rc != 0) {
      delete w->poll;
      delete w;
      return ERROR_OSEVENT_REG_FAIL;
    } else {
      w->poll->data = w;
      uv_unref(reinterpret_cast<uv_handle_t*>(w->poll));
    }
    self->watches_[fd] = w;
  }
  auto* r = new FdReg{self->nextId_++, w, events, for_libxl};
  w->regs[r->id] = r;
  self->regs_[r->id] = r;
  if (self->UpdatePoll(w) != 0) {
    FdDeregister(user, fd, r);
    return ERROR_OSEVENT_REG_FAIL;
  }
  *out = r;
  return 0;
}

int LoopBinding::FdModify(void* user, int, void** update, short events) {
  auto* self = static_cast<LoopBinding*>(user);
  auto* r = static_cast<FdReg*>(*update);
  r->events = events;
  return self->UpdatePoll(r->watch) == 0 ? 0 : ERROR_OSEVENT_REG_FAIL;
}

void LoopBinding::FdDeregister(void* user, int fd, void* reg) {
  auto* self = static_cast<LoopBinding*>(user);
  auto* r = static_cast<FdReg*>(reg);
  FdWatch* w = r->watch;
  w->regs.erase(r->id);
  self->regs_.erase(r->id);
  delete r;
  if (w->regs.empty()) {
    if (w->poll) {
      uv_poll_stop(w->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(w->poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    }
    self->watches_.erase(fd);
    delete w;
    self->UpdateReadyIdle();
  } else {
    self->UpdatePoll(w);
  }
}

void LoopBinding::OnPoll(uv_poll_t* handle, int status, int uvev) {
  auto* w = static_cast<FdWatch*>(handle->data);
  LoopBinding* self = w->owner;
  short revents = 0;
  if (status < 0) {
    revents = POLLERR;
  } else {
    if (uvev & UV_READABLE) revents |= POLLIN;
    if (uvev & UV_WRITABLE) revents |= POLLOUT;
    if (uvev & UV_PRIORITIZED) revents |= POLLPRI;
    if (uvev & UV_DISCONNECT) revents |= POLLHUP;
  }
  self->Dispatch(w, revents);
}

void LoopBinding::Dispatch(FdWatch* w, short revents) {
  int fd = w->fd;
  // libxl may deregister (this or other) registrations, even the whole watch, from inside
  // occurred_fd: dispatch from a snapshot of ids and look each one up again.
  std::vector<uint64_t> ids;
  for (auto& [id, r] : w->regs) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = regs_.find(id);
    if (it == regs_.end() || !ctx_) continue;
    FdReg* r = it->second;
    short mine = revents & (r->events | POLLERR | POLLHUP);
    if (mine) libxl_osevent_occurred_fd(ctx_, r->for_libxl, fd, r->events, mine);
  }
}

void LoopBinding::UpdateReadyIdle() {
  if (!readyIdle_) return;
  bool wanted = false;
  for (auto& [fd, w] : watches_) {
    if (w->poll) continue;
    for (auto& [id, r] : w->regs) wanted = wanted || (r->events & (POLLIN | POLLOUT | POLLPRI)) != 0;
  }
  if (wanted) uv_idle_start(readyIdle_, OnReadyIdle);
  else
    uv_idle_stop(readyIdle_);
}

void LoopBinding::OnReadyIdle(uv_idle_t* handle) {
  auto* self = static_cast<LoopBinding*>(handle->data);
  std::vector<int> fds;
  for (auto& [fd, w] : self->watches_)
    if (!w->poll) fds.push_back(fd);
  for (int fd : fds) {
    auto it = self->watches_.find(fd);
    if (it == self->watches_.end() || it->second->poll) continue;
    self->Dispatch(it->second, POLLIN | POLLOUT);
  }
}

// ---- timeouts: libxl gives absolute wall-clock times.

void LoopBinding::StartTimer(Timer* t, uint64_t delayMs) {
  // Hooks run inside libxl calls that can block for seconds: libuv's cached "now" is stale
  // and the timer would fire early without this.
  uv_update_time(loop_);
  uv_timer_start(t->handle, OnTimer, delayMs, 0);
}

int LoopBinding::TimeoutRegister(void* user, void** out, struct timeval abs, void* for_libxl) {
  auto* self = static_cast<LoopBinding*>(user);
  auto* t = new Timer{self, self->nextId_++, new uv_timer_t, for_libxl};
  uv_timer_init(self->loop_, t->handle);
  t->handle->data = t;
  uv_unref(reinterpret_cast<uv_handle_t*>(t->handle));
  self->timers_[t->id] = t;
  struct timeval now;
  gettimeofday(&now, nullptr);
  int64_t ms = (int64_t(abs.tv_sec) - now.tv_sec) * 1000 + (int64_t(abs.tv_usec) - now.tv_usec + 999) / 1000;
  self->StartTimer(t, ms > 0 ? uint64_t(ms) : 0);
  *out = t;
  return 0;
}

int LoopBinding::TimeoutModify(void* user, void** update, struct timeval) {
  // Only ever called with abs = {0,0}: "fire as soon as possible".
  auto* self = static_cast<LoopBinding*>(user);
  self->StartTimer(static_cast<Timer*>(*update), 0);
  return 0;
}

void LoopBinding::TimeoutDeregister(void* user, void* reg) {
  // libxl documents that this is never called; handled anyway.
  auto* self = static_cast<LoopBinding*>(user);
  self->CloseTimer(static_cast<Timer*>(reg));
}

void LoopBinding::CloseTimer(Timer* t) {
  timers_.erase(t->id);
  uv_timer_stop(t->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(t->handle), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  delete t;
}

void LoopBinding::OnTimer(uv_timer_t* handle) {
  auto* t = static_cast<Timer*>(handle->data);
  LoopBinding* self = t->owner;
  void* for_libxl = t->for_libxl;
  // Once it has fired, the registration is gone as far as libxl is concerned.
  self->CloseTimer(t);
  if (self->ctx_) libxl_osevent_occurred_timeout(self->ctx_, for_libxl);
}
