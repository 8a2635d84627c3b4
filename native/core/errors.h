// Every failure reaches JS as the XenError class that the TypeScript side hands to init().
#pragma once
#include <napi.h>

#include <string>
#include <vector>

struct AddonData {
  Napi::FunctionReference xenError;
  Napi::FunctionReference context;
};

// code: libxl's error name (ERROR_DOMAIN_NOTFOUND…) or ours (ERR_CLOSED…).
Napi::Error MakeXenError(Napi::Env env, const std::string& op, const std::string& message, const std::string& code,
                         int errnoval, const std::vector<std::string>& details);

// Name of a libxl error code: ERROR_ + the IDL's value name, upper case.
std::string LibxlErrorName(int rc);

// "<op> failed (<code>): <libxl's last error line>", the message of every libxl failure.
std::string FailureMessage(const std::string& op, const std::string& code, const std::vector<std::string>& lines);
