// A xentoollog logger that keeps libxl's log lines, so an error can carry libxl's own words.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>
#include "core/xen.h"

class CaptureLogger {
 public:
  CaptureLogger();
  xentoollog_logger* get() { return &c_.base; }

  // Lines logged since the last BeginCall (at or above the capture level).
  void BeginCall();
  std::vector<std::string> CallLines() const { return call_; }
  // The last errno libxl reported with a message in this call, or 0.
  int CallErrno() const { return callErrno_; }
  const std::deque<std::string>& Recent() const { return recent_; }
  // Sequence number of the next line; lines since a mark, as far as the ring still has them.
  uint64_t Mark() const { return seq_; }
  std::vector<std::string> Since(uint64_t mark) const;
  void SetLevel(int level) { level_ = level; }
  int Level() const { return level_; }

 private:
  static void VMessage(xentoollog_logger* l, xentoollog_level level, int errnoval, const char* context,
                       const char* format, va_list al);
  static void Destroy(xentoollog_logger*) {}
  // C layout that libxl sees; self points back here.
  struct C {
    xentoollog_logger base;
    CaptureLogger* self;
  } c_;
  int level_ = XTL_DETAIL;
  std::vector<std::string> call_;
  int callErrno_ = 0;
  std::deque<std::string> recent_;
  uint64_t seq_ = 0;  // lines ever kept in recent_
};
