#include "core/logger.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
constexpr size_t kMaxCallLines = 200;
constexpr size_t kMaxRecent = 100;
}  // namespace

namespace {
// XENLIGHT_LOG=stderr mirrors every kept line to stderr (debugging; read once).
bool MirrorToStderr() {
  static const bool on = [] {
    const char* v = getenv("XENLIGHT_LOG");
    return v && strcmp(v, "stderr") == 0;
  }();
  return on;
}
}  // namespace

CaptureLogger::CaptureLogger() {
  c_.base.vmessage = VMessage;
  c_.base.progress = nullptr;
  c_.base.destroy = Destroy;
  c_.self = this;
}

void CaptureLogger::BeginCall() {
  call_.clear();
  callErrno_ = 0;
}

void CaptureLogger::VMessage(xentoollog_logger* l, xentoollog_level level, int errnoval, const char* context,
                             const char* format, va_list al) {
  CaptureLogger* self = reinterpret_cast<C*>(l)->self;
  if (level < self->level_) return;
  char buf[1024];
  vsnprintf(buf, sizeof buf, format, al);
  std::string line;
  if (context) line.append(context).append(": ");
  line.append(xtl_level_to_string(level)).append(": ").append(buf);
  if (errnoval >= 0) {
    line.append(": ").append(strerror(errnoval));
    if (level >= XTL_WARN) self->callErrno_ = errnoval;
  }
  if (MirrorToStderr()) fprintf(stderr, "%s\n", line.c_str());
  if (self->call_.size() < kMaxCallLines) self->call_.push_back(line);
  self->recent_.push_back(std::move(line));
  self->seq_++;
  if (self->recent_.size() > kMaxRecent) self->recent_.pop_front();
}

std::vector<std::string> CaptureLogger::Since(uint64_t mark) const {
  uint64_t first = seq_ - recent_.size();
  std::vector<std::string> out;
  for (uint64_t i = mark > first ? mark : first; i < seq_; i++) out.push_back(recent_[i - first]);
  return out;
}
