// xenstore: whether xenstored is there, domain arrivals and departures, the name cache.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/context.h"

// xenstored's socket is there but nothing listens on it: the daemon is gone. Asked before a new
// libxl context is made, because xs_open() — libxl's, and ours — then falls back to dom0's
// /dev/xen/xenbus, whose requests wait for ever for a daemon that is not there (libxenstore has
// ignored XS_OPEN_SOCKETONLY since Xen 4.15, so a plain connect() is the test). No socket at
// all: xenstored runs elsewhere, in a stub domain, and there is nothing to ask.
bool XenstoredDown() {
  const char* path = xs_daemon_socket();
  if (access(path, F_OK) != 0) return false;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  bool down = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
  close(fd);
  return down;
}

// ---- xenstore: domain arrivals/departures and name changes, for events and the name cache.

bool Context::CheckXenstoreLost() {
  if (xenstoreLost_ || !xsh_) return xenstoreLost_;
  unsigned int len = 0;
  void* root = xs_read(xsh_, XBT_NULL, "/", &len);
  xenstoreLost_ = root == nullptr;
  free(root);
  return xenstoreLost_;
}

void Context::MapXenstoreLoss(std::string& code, std::string& msg) {
  if (!CheckXenstoreLost()) return;
  msg += " [the xenstore connection is lost: xenstored stopped or restarted; libxl said " + code + "]";
  code = "ERR_XENSTORE_LOST";
}

Napi::Value Context::XenstoreLost(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), xenstoreLost_);
}

bool Context::OpenXenstore() {
  xsh_ = xs_open(0);
  if (!xsh_) return false;
  if (!xs_watch(xsh_, "@introduceDomain", "@i") || !xs_watch(xsh_, "@releaseDomain", "@r")) {
    xs_close(xsh_);
    xsh_ = nullptr;
    return false;
  }
  xsPoll_ = new uv_poll_t;
  uv_poll_init(loop_->loop(), xsPoll_, xs_fileno(xsh_));
  xsPoll_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(xsPoll_));
  uv_poll_start(xsPoll_, UV_READABLE, OnXenstore);
  return true;
}

void Context::OnXenstore(uv_poll_t* handle, int, int) {
  auto* self = static_cast<Context*>(handle->data);
  self->DrainWatches();
}

void Context::DrainWatches() {
  if (!xsh_) return;
  for (;;) {
    char** w = xs_check_watch(xsh_);
    if (!w) break;
    const char* token = w[XS_WATCH_TOKEN];
    if (token[0] == '@') {
      domainsChanged_ = true;
      vbdGeneration_++;
    } else if (token[0] == 'w') {
      // A watch of JS's: dispatched as ("xenstore", path) unless unwatched meanwhile.
      if (pathWatches_.count(strtoull(token + 1, nullptr, 10))) firedPaths_.emplace_back(w[XS_WATCH_PATH]);
    } else if (token[0] == 'v') {
      vbdGeneration_++;
    } else if (token[0] == 'n') {
      uint32_t domid = static_cast<uint32_t>(strtoul(token + 1, nullptr, 10));
      auto it = names_.find(domid);
      if (it != names_.end()) {
        if (it->second.skipFirstEvent) it->second.skipFirstEvent = false;
        else
          it->second.valid = false;
      }
    }
    free(w);
  }
  // Also when a list or a sample drained them: what fired is dispatched either way.
  if ((domainsChanged_ || !firedPaths_.empty()) && dispatch_) uv_async_send(dispatch_);
}

const std::string* Context::CachedName(uint32_t domid) {
  auto it = names_.find(domid);
  if (it != names_.end() && it->second.valid) return &it->second.name;
  std::string path = "/local/domain/" + std::to_string(domid) + "/name";
  std::string token = "n" + std::to_string(domid);
  bool watched = it != names_.end();
  // Watch before reading: a rename after the read then always invalidates.
  if (!watched && xsh_ && !xs_watch(xsh_, path.c_str(), token.c_str())) return nullptr;
  unsigned int len = 0;
  char* value = xsh_ ? static_cast<char*>(xs_read(xsh_, XBT_NULL, path.c_str(), &len)) : nullptr;
  if (!value && xsh_ && errno != ENOENT) CheckXenstoreLost();
  NameEntry& e = names_[domid];
  if (!watched) e.skipFirstEvent = true;
  e.name = value ? std::string(value, len) : std::string();
  e.valid = value != nullptr;
  free(value);
  return value ? &e.name : nullptr;
}

void Context::ForgetDomainsExcept(const libxl_dominfo* list, int n) {
  for (auto it = names_.begin(); it != names_.end();) {
    bool alive = false;
    for (int i = 0; i < n && !alive; i++) alive = list[i].domid == it->first;
    if (alive) {
      ++it;
      continue;
    }
    std::string path = "/local/domain/" + std::to_string(it->first) + "/name";
    std::string token = "n" + std::to_string(it->first);
    if (xsh_) xs_unwatch(xsh_, path.c_str(), token.c_str());
    it = names_.erase(it);
  }
}

// (path) → id. Watches a xenstore path and everything under it for JS: each change is an
// ("xenstore", changed path) event. xenstored fires a new watch once at once.
Napi::Value Context::WatchXenstore(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  Call call(this, info.Env(), "xenstore watch " + path);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  uint64_t id = nextPathWatch_++;
  std::string token = "w" + std::to_string(id);
  if (!xs_watch(xsh_, path.c_str(), token.c_str())) {
    int err = errno;
    CheckXenstoreLost();
    call.FailErrno(ERROR_FAIL, err);
  }
  pathWatches_[id] = path;
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

// (id) → removes a watch of watchXenstore (nothing when it is gone already).
Napi::Value Context::UnwatchXenstore(const Napi::CallbackInfo& info) {
  uint64_t id = static_cast<uint64_t>(ArgInt(info, 0, "watch id", 0, INT64_C(1) << 53));
  auto it = pathWatches_.find(id);
  if (it != pathWatches_.end()) {
    std::string token = "w" + std::to_string(id);
    if (xsh_) xs_unwatch(xsh_, it->second.c_str(), token.c_str());
    pathWatches_.erase(it);
  }
  return info.Env().Undefined();
}
