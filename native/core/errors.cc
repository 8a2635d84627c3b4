#include "core/errors.h"

#include <cctype>
#include <cstring>

#include "core/xen.h"

std::string LibxlErrorName(int rc) {
  const char* s = libxl_error_to_string(static_cast<libxl_error>(rc));
  if (!s) return "ERROR_" + std::to_string(rc);
  std::string name = "ERROR_";
  for (const char* p = s; *p; p++) name += static_cast<char>(toupper(static_cast<unsigned char>(*p)));
  return name;
}

Napi::Error MakeXenError(Napi::Env env, const std::string& op, const std::string& message, const std::string& code,
                         int errnoval, const std::vector<std::string>& details) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Array lines = Napi::Array::New(env, details.size());
  for (size_t i = 0; i < details.size(); i++) lines.Set(i, details[i]);
  Napi::Object props = Napi::Object::New(env);
  props.Set("code", code);
  props.Set("op", op);
  props.Set("details", lines);
  if (errnoval > 0) props.Set("errno", errnoval);
  if (data && !data->xenError.IsEmpty()) {
    Napi::Object err = data->xenError.New({Napi::String::New(env, message), props});
    return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", code);
  return err;
}

void ThrowArgError(const Napi::CallbackInfo& info, bool range, const std::string& message) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  const char* name = static_cast<const char*>(info.Data());
  std::string op = name ? name : "";
  std::string text = op.empty() ? message : op + ": " + message;
  Napi::FunctionReference* cls = data ? (range ? &data->xenRangeError : &data->xenTypeError) : nullptr;
  if (cls && !cls->IsEmpty()) {
    Napi::Object props = Napi::Object::New(env);
    props.Set("op", op);
    throw Napi::Error(env, cls->New({Napi::String::New(env, text), props}));
  }
  // Before init(): the plain error, with the same code and op.
  Napi::Error err = range ? static_cast<Napi::Error>(Napi::RangeError::New(env, text))
                          : static_cast<Napi::Error>(Napi::TypeError::New(env, text));
  err.Set("code", "ERR_INVALID_ARG");
  err.Set("op", op);
  throw err;
}

std::string FailureMessage(const std::string& op, const std::string& code, const std::vector<std::string>& lines) {
  std::string msg = op + " failed (" + code + ")";
  // The most telling line is libxl's last error; keep the message to one line.
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->find(": error: ") != std::string::npos || it->find(": critical: ") != std::string::npos) {
      return msg + ": " + *it;
    }
  }
  return msg;
}
