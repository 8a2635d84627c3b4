// The host's PCI devices that can be assigned to guests (`xl pci-assignable-*`).
#include "core/context.h"
#include "core/json.h"

// () → JSON of the host's assignable PCI devices (`xl pci-assignable-list`).
Napi::Value Context::PciAssignableList(const Napi::CallbackInfo& info) {
  Call call(this, info.Env(), "pci-assignable-list");
  int n = 0;
  libxl_device_pci* list = libxl_device_pci_assignable_list(ctx_, &n);
  if (!list) return Napi::String::New(info.Env(), "[]");  // libxl: NULL for none (and on error)
  return ListResult(call, info.Env(), list, n, libxl_device_pci_assignable_list_free);
}

// (pci JSON, 'add' | 'remove', rebind) → `xl pci-assignable-add/-remove [-r]`.
Napi::Value Context::PciAssignable(const Napi::CallbackInfo& info) {
  std::string verb = ArgWord(info, 1, "verb", {"add", "remove"});
  bool rebind = ArgBool(info, 2, "rebind", false);
  Call call(this, info.Env(), "pci-assignable-" + verb);
  Owned<libxl_device_pci> pci;
  FromJson(call, pci.get(), info[0]);
  int rc = verb == "add" ? libxl_device_pci_assignable_add(ctx_, pci.get(), rebind)
                         : libxl_device_pci_assignable_remove(ctx_, pci.get(), rebind);
  if (rc) call.Fail(rc);
  return info.Env().Undefined();
}
