// Connected socket pairs for libxl's streams (save, restore, migration): libxl reads or writes
// one end; Node pumps the other to and from any stream the user gives.
#include <napi.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/errors.h"

Napi::Value StreamPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    int e = errno;
    throw MakeXenError(info.Env(), "stream pair", std::string("socketpair: ") + strerror(e), "ERR_INTERNAL", e, {});
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}
