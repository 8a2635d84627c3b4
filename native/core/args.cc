#include "core/args.h"

#include <cmath>

#include "core/errors.h"

namespace {
[[noreturn]] void TypeError(const Napi::CallbackInfo& info, const std::string& msg) { ThrowArgError(info, false, msg); }
}  // namespace

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min, int64_t max) {
  if (info.Length() <= i || !info[i].IsNumber()) TypeError(info, std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  // The comparisons are false for NaN; the range is checked in double before any cast.
  if (!(std::trunc(d) == d && d >= static_cast<double>(min) && d <= static_cast<double>(max) &&
        std::fabs(d) <= 9007199254740992.0)) {
    ThrowArgError(info, true,
                  std::string(what) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int64_t>(d);
}

int64_t ArgOptInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min, int64_t max,
                  int64_t absent) {
  if (info.Length() <= i || info[i].IsUndefined()) return absent;
  return ArgInt(info, i, what, min, max);
}

uint32_t ArgDomid(const Napi::CallbackInfo& info, size_t i) {
  // DOMID_FIRST_RESERVED (0x7FF0) and above are Xen's special ids, never a domain's.
  return static_cast<uint32_t>(ArgInt(info, i, "domid", 0, 0x7FEF));
}

uint32_t ArgDomidOrAll(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsNumber() && info[i].As<Napi::Number>().DoubleValue() == 4294967295.0)
    return UINT32_MAX;
  return ArgDomid(info, i);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) TypeError(info, std::string(what) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) TypeError(info, std::string(what) + " must not contain a NUL character");
  return s;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what, bool absent) {
  if (info.Length() <= i || info[i].IsUndefined()) return absent;
  if (!info[i].IsBoolean()) TypeError(info, std::string(what) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string ArgWord(const Napi::CallbackInfo& info, size_t i, const char* what,
                    std::initializer_list<const char*> words) {
  std::string s = ArgString(info, i, what);
  std::string list;
  for (const char* w : words) {
    if (s == w) return s;
    list += list.empty() ? w : std::string(", ") + w;
  }
  TypeError(info, std::string(what) + " must be one of " + list);
}
