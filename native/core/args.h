#pragma once
// Arguments from JavaScript, checked before they reach C. The TypeScript side validates what
// users pass; these keep a wrong call of the raw addon (a bug, or a caller using it directly)
// from becoming a wrong value in C: NaN or 2^64 cast to an integer (undefined behaviour), a
// string silently cut at a NUL by c_str(), a non-boolean taken as true. A TypeError for the
// wrong type, a RangeError for a number out of range (the XenTypeError and XenRangeError of
// core/errors.h: code ERR_INVALID_ARG, op the method's name); never a crash.
#include <napi.h>

#include <cstdint>
#include <string>

uint32_t ArgDomid(const Napi::CallbackInfo& info, size_t i);
// A domid, or 0xFFFFFFFF: "every domain" to the calls that take it (libxl's tmem calls).
uint32_t ArgDomidOrAll(const Napi::CallbackInfo& info, size_t i);
// An integer in [min, max] (at most 2^53 in magnitude).
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min, int64_t max);
inline uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what, uint32_t max = UINT32_MAX) {
  return static_cast<uint32_t>(ArgInt(info, i, what, 0, max));
}
// The same, or `absent` when the argument is missing or undefined.
int64_t ArgOptInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min, int64_t max, int64_t absent);
// A string with no NUL character (C would end it there).
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
// A boolean; `absent` when missing or undefined.
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what, bool absent);
// One of a fixed set of words.
std::string ArgWord(const Napi::CallbackInfo& info, size_t i, const char* what,
                    std::initializer_list<const char*> words);
