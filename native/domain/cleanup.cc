// Clean-up after a domain that is gone: its xenstore nodes, its loop devices.
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "core/context.h"

// (domid) → whether it removed anything: the xenstore directories of a domain that no longer
// exists. A create that another toolstack destroyed halfway goes on writing its nodes after
// the destroy removed them, and nobody else would remove them.
Napi::Value Context::RemoveStaleDomainPaths(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "remove the xenstore nodes of gone domain " + std::to_string(domid));
  if (domid == 0) call.Fail("ERR_INVALID_ARG", "domain 0 always exists");
  int rc = libxl_domain_info(ctx_, nullptr, domid);
  if (rc != ERROR_DOMAIN_NOTFOUND) return Napi::Boolean::New(info.Env(), false);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  bool removed = false;
  std::vector<std::string> paths = {"/local/domain/" + std::to_string(domid), "/libxl/" + std::to_string(domid)};
  // dom0's backends of the gone domain: a device add racing its destroy writes them after the
  // destroy has walked the domain's devices (backend/<kind>/<domid>).
  unsigned int nkinds = 0;
  char** kinds = xs_directory(xsh_, XBT_NULL, "/local/domain/0/backend", &nkinds);
  for (unsigned int i = 0; kinds && i < nkinds; i++) {
    paths.push_back(std::string("/local/domain/0/backend/") + kinds[i] + "/" + std::to_string(domid));
  }
  free(kinds);
  for (const std::string& path : paths) {
    unsigned int n = 0;
    char** ls = xs_directory(xsh_, XBT_NULL, path.c_str(), &n);
    if (!ls) continue;  // not there
    free(ls);
    if (xs_rm(xsh_, XBT_NULL, path.c_str())) removed = true;
  }
  return Napi::Boolean::New(info.Env(), removed);
}

// (path) → the value at a xenstore path, or null where there is none. For the clean-up after a
// gone domain, which reads what a hotplug script recorded before running its remove.
Napi::Value Context::XenstoreRead(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  Call call(this, info.Env(), "xenstore read " + path);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  unsigned int len = 0;
  char* value = static_cast<char*>(xs_read(xsh_, XBT_NULL, path.c_str(), &len));
  if (!value) return info.Env().Null();
  Napi::String out = Napi::String::New(info.Env(), value, len);
  free(value);
  return out;
}

// (path) → the names under a xenstore path ([] where there is none).
Napi::Value Context::XenstoreDirectory(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  Call call(this, info.Env(), "xenstore directory " + path);
  if (!xsh_) call.Fail("ERR_INTERNAL", "no xenstore connection");
  unsigned int n = 0;
  char** ls = xs_directory(xsh_, XBT_NULL, path.c_str(), &n);
  Napi::Array out = Napi::Array::New(info.Env(), ls ? n : 0);
  for (unsigned int i = 0; ls && i < n; i++) out.Set(i, Napi::String::New(info.Env(), ls[i]));
  free(ls);
  return out;
}

// (device) → detaches a loop device (/dev/loopN) from its file: what the block hotplug script's
// remove does (losetup -d) for a file-backed disk. Used only for the disk of a gone domain that
// no destroy saw; the TypeScript side checks the device still has that disk's file behind it.
Napi::Value Context::LoopDetach(const Napi::CallbackInfo& info) {
  std::string device = ArgString(info, 0, "device");
  Call call(this, info.Env(), "detach loop device " + device);
  if (device.rfind("/dev/loop", 0) != 0) call.Fail("ERR_INVALID_ARG", "not a loop device: " + device);
  int fd = open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) call.FailErrno(ERROR_FAIL, errno);
  int rc = ioctl(fd, LOOP_CLR_FD, 0);
  int err = errno;
  close(fd);
  if (rc < 0) call.FailErrno(ERROR_FAIL, err);
  return info.Env().Undefined();
}
