// Devices of a domain (disks, NICs, PCI, USB controllers and devices): list, info, add,
// remove, destroy, in libxl's JSON. One template for every kind; libxl does the work
// (hotplug scripts run as children of this process, reaped through the loop's SIGCHLD).
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "core/context.h"
#include "core/json.h"

namespace {

template <typename T>
using AoFn = int (*)(libxl_ctx*, uint32_t, T*, const libxl_asyncop_how*);

// What libxl offers for one kind of device (nullptr: not offered).
template <typename T, typename I>
struct Kind {
  AoFn<T> add, remove, destroy;
  T* (*list)(libxl_ctx*, uint32_t, int*);
  void (*listFree)(T*, int);
  int (*getinfo)(libxl_ctx*, uint32_t, const T*, I*);
};

struct NoInfo {};  // kinds libxl has no getinfo for

// A table, laid out for reading.
// clang-format off
const Kind<libxl_device_disk, libxl_diskinfo> kDisk{
    libxl_device_disk_add, libxl_device_disk_remove, libxl_device_disk_destroy,
    libxl_device_disk_list, libxl_device_disk_list_free, libxl_device_disk_getinfo};
const Kind<libxl_device_nic, libxl_nicinfo> kNic{
    libxl_device_nic_add, libxl_device_nic_remove, libxl_device_nic_destroy,
    libxl_device_nic_list, libxl_device_nic_list_free, libxl_device_nic_getinfo};
const Kind<libxl_device_pci, NoInfo> kPci{
    libxl_device_pci_add, libxl_device_pci_remove, libxl_device_pci_destroy,
    libxl_device_pci_list, libxl_device_pci_list_free, nullptr};
const Kind<libxl_device_usbctrl, libxl_usbctrlinfo> kUsbctrl{
    libxl_device_usbctrl_add, libxl_device_usbctrl_remove, libxl_device_usbctrl_destroy,
    libxl_device_usbctrl_list, libxl_device_usbctrl_list_free, libxl_device_usbctrl_getinfo};
const Kind<libxl_device_usbdev, NoInfo> kUsbdev{
    libxl_device_usbdev_add, libxl_device_usbdev_remove, nullptr,
    libxl_device_usbdev_list, libxl_device_usbdev_list_free, nullptr};
// clang-format on

// [{ "config": <device JSON>, "info": <info JSON> }] for the domain's devices of this kind.
template <typename T, typename I>
Napi::Value List(Call& call, Napi::Env env, const Kind<T, I>& k, uint32_t domid) {
  int n = 0;
  T* list = k.list(call.ctx(), domid, &n);
  std::string out = "[";
  try {
    for (int i = 0; i < n; i++) {
      if (i) out += ',';
      out += "{\"config\":" + ToJson(call, &list[i]);
      if constexpr (!std::is_same_v<I, NoInfo>) {
        Owned<I> info;
        // A device being torn down may have lost its backend nodes: list it without info.
        if (k.getinfo(call.ctx(), domid, &list[i], info.get()) == 0) out += ",\"info\":" + ToJson(call, info.get());
      }
      out += '}';
    }
  } catch (...) {
    if (list) k.listFree(list, n);
    throw;
  }
  if (list) k.listFree(list, n);
  return Napi::String::New(env, out + "]");
}

// A libxl value on the heap, filled from JSON, and the function that frees it: the parameters
// of an asynchronous operation must outlive the call that starts it.
template <typename T>
std::pair<T*, std::function<void()>> HeapFromJson(Call& call, const Napi::Value& json) {
  auto* v = new T;
  LibxlJson<T>::Init(v);
  std::function<void()> free = [v] {
    LibxlJson<T>::Dispose(v);
    delete v;
  };
  try {
    FromJson(call, v, json);
  } catch (...) {
    free();
    throw;
  }
  return {v, free};
}

template <typename T, typename I>
Napi::Value Op(Context* self, Call& call, Napi::Env env, const Kind<T, I>& k, const std::string& verb, uint32_t domid,
               const Napi::Value& json, const std::string& what, uint32_t abortId) {
  AoFn<T> fn = verb == "add" ? k.add : verb == "remove" ? k.remove : verb == "destroy" ? k.destroy : nullptr;
  if (!fn) call.Fail("ERR_UNSUPPORTED", "libxl offers no " + verb + " for this kind of device");
  auto [dev, free] = HeapFromJson<T>(call, json);
  libxl_ctx* ctx = call.ctx();
  return self->StartAo(
      env, what, [ctx, domid, dev, fn](const libxl_asyncop_how* how) { return fn(ctx, domid, dev, how); }, free,
      abortId);
}

}  // namespace

#define XENLIGHT_FOR_KIND(kind, F)           \
  if (kind == "disk") return F(kDisk);       \
  if (kind == "nic") return F(kNic);         \
  if (kind == "pci") return F(kPci);         \
  if (kind == "usbctrl") return F(kUsbctrl); \
  if (kind == "usbdev") return F(kUsbdev);   \
  call.Fail("ERR_INVALID_ARG", "no such kind of device: " + kind);

// (kind, domid) → JSON [{ config, info? }].
Napi::Value Context::DeviceList(const Napi::CallbackInfo& info) {
  std::string kind = ArgWord(info, 0, "device kind", {"disk", "nic", "pci", "usbctrl", "usbdev"});
  uint32_t domid = ArgDomid(info, 1);
  Call call(this, info.Env(), kind + " list of domain " + std::to_string(domid));
  Napi::Env env = info.Env();
#define XENLIGHT_LIST(k) List(call, env, k, domid)
  XENLIGHT_FOR_KIND(kind, XENLIGHT_LIST)
#undef XENLIGHT_LIST
}

// A non-zero id under which Context::Abort can abort the operation (argument i, optional).
static uint32_t ArgAbortId(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<uint32_t>(ArgOptInt(info, i, "abort id", 0, UINT32_MAX, 0));
}

// (kind, 'add' | 'remove' | 'destroy', domid, device JSON, abortId?) → Promise.
Napi::Value Context::DeviceOp(const Napi::CallbackInfo& info) {
  std::string kind = ArgWord(info, 0, "device kind", {"disk", "nic", "pci", "usbctrl", "usbdev"});
  std::string verb = ArgWord(info, 1, "verb", {"add", "remove", "destroy"});
  uint32_t domid = ArgDomid(info, 2);
  std::string what = kind + " " + verb + " on domain " + std::to_string(domid);
  Call call(this, info.Env(), what);
  Napi::Env env = info.Env();
  uint32_t abortId = ArgAbortId(info, 4);
#define XENLIGHT_OP(k) Op(this, call, env, k, verb, domid, info[3], what, abortId)
  XENLIGHT_FOR_KIND(kind, XENLIGHT_OP)
#undef XENLIGHT_OP
}

// (domid, disk JSON, abortId?) → Promise: `xl cd-insert` (an empty target ejects).
Napi::Value Context::CdromInsert(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string what = "cd-insert on domain " + std::to_string(domid);
  Call call(this, info.Env(), what);
  uint32_t abortId = ArgAbortId(info, 2);  // before the allocation: a throw leaks nothing
  auto [disk, free] = HeapFromJson<libxl_device_disk>(call, info[1]);
  libxl_ctx* ctx = ctx_;
  return StartAo(
      info.Env(), what,
      [ctx, domid, disk](const libxl_asyncop_how* how) { return libxl_cdrom_insert(ctx, domid, disk, how); }, free,
      abortId);
}
