// Module entry: per-environment state (so the addon works in worker threads) and init().
#include <dlfcn.h>
#include <napi.h>

#include "core/context.h"
#include "core/errors.h"

Napi::Value StreamPair(const Napi::CallbackInfo& info);  // transfer/stream_pair.cc
void InitXlcfg(Napi::Env env, Napi::Object exports);     // xlcfg/subspecs.cc

namespace {

// init({ XenError }): the TypeScript error class, so C++ throws what users instanceof-check.
Napi::Value InitAddon(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "init({ XenError })");
  Napi::Value cls = info[0].As<Napi::Object>().Get("XenError");
  if (!cls.IsFunction()) throw Napi::TypeError::New(info.Env(), "init({ XenError }): XenError must be a class");
  data->xenError = Napi::Persistent(cls.As<Napi::Function>());
  return info.Env().Undefined();
}

// Node unloads an addon when the last environment that loaded it ends (a worker thread, when
// the main thread never loaded it), but libuv runs our handles' close callbacks after that, and
// libxenstore's reader threads outlive it too: a SIGSEGV in unmapped code. Keep this library,
// and the Xen libraries it holds, for the life of the process.
void PinLibrary() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&PinLibrary), &self) && self.dli_fname) {
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // no dlclose: pinned
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function ctor = Context::Init(env);
  data->context = Napi::Persistent(ctor);
  exports.Set("Context", ctor);
  exports.Set("init", Napi::Function::New(env, InitAddon));
  exports.Set("streamPair", Napi::Function::New(env, StreamPair));
  exports.Set("libxlVersion", Napi::Number::New(env, LIBXL_VERSION));
  InitXlcfg(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(xenlight, Init)
