// libxl's events (domain death, disk eject, disasters) and xenstore's domain changes, handed to
// the JS handler from the loop.
#include <cstring>

#include "core/context.h"
#include "core/errors.h"

const libxl_event_hooks Context::kEventHooks = {LIBXL_EVENTMASK_ALL, EventOccurs, Disaster};

// ---- events: libxl callbacks only record; JS is called later from the loop.

void Context::EventOccurs(void* user, libxl_event* event) {
  auto* self = static_cast<Context*>(user);
  self->events_.push_back(event);
  if (self->dispatch_) uv_async_send(self->dispatch_);
}

void Context::Disaster(void* user, libxl_event_type type, const char* msg, int errnoval) {
  auto* self = static_cast<Context*>(user);
  std::string text =
      std::string("libxl event disaster (") + libxl_event_type_to_string(type) + "): " + (msg ? msg : "");
  if (errnoval > 0) text += std::string(": ") + strerror(errnoval);
  self->disasters_.push_back(text);
  if (self->dispatch_) uv_async_send(self->dispatch_);
}

void Context::OnDispatch(uv_async_t* handle) {
  auto* self = static_cast<Context*>(handle->data);
  if (!self) return;
  // A libuv callback, outside any call from JS: a C++ exception must not leave it (that is
  // std::terminate). One comes from a JS handler that threw — handed to Node as an uncaught
  // exception, as from any callback — or from a worker thread being torn down, where JS no
  // longer runs and napi calls fail (then napi_fatal_exception does nothing).
  // The scope is this function's: Dispatch's own has ended when its exception arrives here.
  try {
    Napi::HandleScope scope(self->Env());
    try {
      self->Dispatch();
    } catch (const Napi::Error& e) {
      napi_value err = e.Value();
      if (err) napi_fatal_exception(self->Env(), err);
    }
  } catch (const Napi::Error&) {  // no scope, or no value: JS no longer runs here
  }
}

void Context::Dispatch() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  SettleCompletions(env);  // operations first, as libxl completed them
  if (!ctx_) return;
  std::vector<std::pair<std::string, std::string>> out;
  while (!events_.empty()) {
    libxl_event* ev = events_.front();
    events_.pop_front();
    char* json = libxl_event_to_json(ctx_, ev);
    if (json) out.emplace_back("event", json);
    free(json);
    libxl_event_free(ctx_, ev);
  }
  while (!disasters_.empty()) {
    out.emplace_back("disaster", disasters_.front());
    disasters_.pop_front();
  }
  if (domainsChanged_) {
    domainsChanged_ = false;
    out.emplace_back("domains", "");
  }
  while (!firedPaths_.empty()) {
    out.emplace_back("xenstore", firedPaths_.front());
    firedPaths_.pop_front();
  }
  if (onEvent_.IsEmpty()) return;
  for (auto& [kind, payload] : out) {
    onEvent_.MakeCallback(Value(), {Napi::String::New(env, kind), Napi::String::New(env, payload)});
    if (!ctx_) break;  // the handler closed the host
  }
}

Napi::Value Context::SetEventHandler(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowArgError(info, false, "handler must be a function");
  onEvent_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Context::EnableDeathEvents(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  Call call(this, info.Env(), "watch domain " + std::to_string(domid));
  libxl_evgen_domain_death* gen = nullptr;
  uint64_t id = nextGen_++;
  int rc = libxl_evenable_domain_death(ctx_, domid, id, &gen);
  if (rc) call.Fail(rc);
  deathGens_[id] = gen;
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value Context::DisableDeathEvents(const Napi::CallbackInfo& info) {
  if (!ctx_) return info.Env().Undefined();
  uint64_t id = static_cast<uint64_t>(ArgInt(info, 0, "event id", 0, INT64_C(1) << 53));
  auto it = deathGens_.find(id);
  if (it != deathGens_.end()) {
    libxl_evdisable_domain_death(ctx_, it->second);
    deathGens_.erase(it);
  }
  return info.Env().Undefined();
}

// (domid, vdev) → id: DISK_EJECT events when the guest (its device model) ejects the medium.
Napi::Value Context::EnableDiskEject(const Napi::CallbackInfo& info) {
  uint32_t domid = ArgDomid(info, 0);
  std::string vdev = ArgString(info, 1, "vdev");
  Call call(this, info.Env(), "watch " + vdev + " of domain " + std::to_string(domid) + " for ejects");
  libxl_evgen_disk_eject* gen = nullptr;
  uint64_t id = nextGen_++;
  int rc = libxl_evenable_disk_eject(ctx_, domid, vdev.c_str(), id, &gen);
  if (rc) call.Fail(rc);
  ejectGens_[id] = gen;
  return Napi::Number::New(info.Env(), static_cast<double>(id));
}

Napi::Value Context::DisableDiskEject(const Napi::CallbackInfo& info) {
  if (!ctx_) return info.Env().Undefined();
  uint64_t id = static_cast<uint64_t>(ArgInt(info, 0, "event id", 0, INT64_C(1) << 53));
  auto it = ejectGens_.find(id);
  if (it != ejectGens_.end()) {
    libxl_evdisable_disk_eject(ctx_, it->second);
    ejectGens_.erase(it);
  }
  return info.Env().Undefined();
}
