// Every failure reaches JS as the XenError class that the TypeScript side hands to init(); a bad
// argument as its XenTypeError or XenRangeError (code ERR_INVALID_ARG, op the method's name).
#pragma once
#include <napi.h>

#include <string>
#include <vector>

struct AddonData {
  Napi::FunctionReference xenError;
  Napi::FunctionReference xenTypeError;
  Napi::FunctionReference xenRangeError;
  Napi::FunctionReference context;
};

// code: libxl's error name (ERROR_DOMAIN_NOTFOUND…) or ours (ERR_CLOSED…).
Napi::Error MakeXenError(Napi::Env env, const std::string& op, const std::string& message, const std::string& code,
                         int errnoval, const std::vector<std::string>& details);

// A bad argument of the JS-visible function `info` belongs to: XenTypeError (wrong type or shape)
// or, with `range`, XenRangeError (a number out of range). Its op is the function's name, which
// every function is registered with as its data (OpData).
[[noreturn]] void ThrowArgError(const Napi::CallbackInfo& info, bool range, const std::string& message);

// A function's name as its registration data, for ThrowArgError: a string literal.
inline void* OpData(const char* name) { return const_cast<char*>(name); }

// Name of a libxl error code: ERROR_ + the IDL's value name, upper case.
std::string LibxlErrorName(int rc);

// "<op> failed (<code>): <libxl's last error line>", the message of every libxl failure.
std::string FailureMessage(const std::string& op, const std::string& code, const std::vector<std::string>& lines);
