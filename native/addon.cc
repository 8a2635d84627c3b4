// Module entry: per-environment state (so the addon works in worker threads) and init().
#include <dlfcn.h>
#include <napi.h>

#include "core/context.h"
#include "core/errors.h"

Napi::Value StreamPair(const Napi::CallbackInfo& info);  // transfer/stream_pair.cc
void InitXlcfg(Napi::Env env, Napi::Object exports);     // xlcfg/subspecs.cc

namespace {

// init({ XenError, XenTypeError, XenRangeError }): the TypeScript error classes, so C++ throws
// what users instanceof-check. Its own bad arguments are a plain TypeError with the same code.
Napi::Value InitAddon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  auto refuse = [&](const std::string& msg) {
    Napi::Error err = Napi::TypeError::New(env, "init: " + msg);
    err.Set("code", "ERR_INVALID_ARG");
    err.Set("op", "init");
    throw err;
  };
  if (info.Length() < 1 || !info[0].IsObject()) refuse("expected { XenError, XenTypeError, XenRangeError }");
  Napi::Object classes = info[0].As<Napi::Object>();
  Napi::Value cls = classes.Get("XenError");
  if (!cls.IsFunction()) refuse("XenError must be a class");
  // The argument error classes are optional: without them, argument errors are plain
  // TypeError/RangeError objects with the same code and op.
  Napi::Value typeCls = classes.Get("XenTypeError");
  Napi::Value rangeCls = classes.Get("XenRangeError");
  if (!typeCls.IsUndefined() && !typeCls.IsFunction()) refuse("XenTypeError must be a class");
  if (!rangeCls.IsUndefined() && !rangeCls.IsFunction()) refuse("XenRangeError must be a class");
  data->xenError = Napi::Persistent(cls.As<Napi::Function>());
  data->xenTypeError.Reset();
  data->xenRangeError.Reset();
  if (typeCls.IsFunction()) data->xenTypeError = Napi::Persistent(typeCls.As<Napi::Function>());
  if (rangeCls.IsFunction()) data->xenRangeError = Napi::Persistent(rangeCls.As<Napi::Function>());
  return env.Undefined();
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
  exports.Set("streamPair", Napi::Function::New(env, StreamPair, "streamPair", OpData("streamPair")));
  exports.Set("libxlVersion", Napi::Number::New(env, LIBXL_VERSION));
  InitXlcfg(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(xenlight, Init)
