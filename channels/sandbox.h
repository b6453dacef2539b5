#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "channels/channel.h"

namespace herald::channels {

// The default channel when no provider is configured: appends one JSON line per message to
// <dir>/<channel>.jsonl, contact and text in clear, so a local run shows what would be sent.
// Thread-safe; each line is flushed before send() returns.
//
// Like a provider that honours idempotency keys, it writes a message id once and answers a
// repeat as sent without writing it. A dispatcher that dies, or loses Redis, after a send and
// before its sent guard sends that batch again (docs/architecture.md, "Sent guard and the
// remaining window"). Two memories keep such a repeat out of the file:
// - the ids of the file's last kRemembered lines when it was opened, kept while it runs: a
//   restarted process takes over its predecessor's pending entries only dispatch.claim_idle
//   later, when it may have written far more than kRemembered new lines;
// - the ids of the last kRemembered lines this process wrote, for a repeat within a process.
class SandboxChannel : public Channel {
 public:
  // Creates `dir` if needed; throws std::runtime_error when the file cannot be opened (start-up).
  SandboxChannel(const std::filesystem::path& dir, v1::Channel kind);
  ~SandboxChannel() override;

  v1::Channel kind() const override { return kind_; }
  SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) override;

  const std::filesystem::path& path() const { return path_; }

  // More than the messages all dispatcher threads of a channel have in flight at once.
  static constexpr size_t kRemembered = 4096;

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };

  v1::Channel kind_;
  std::filesystem::path path_;
  std::mutex mu_;
  std::unique_ptr<std::FILE, FileCloser> file_;  // guarded by mu_
  uint64_t sent_ = 0;                            // guarded by mu_
  // The last kRemembered ids written, oldest first; guarded by mu_.
  std::unordered_set<std::string> remembered_;
  std::deque<std::string> remembered_order_;
  // The ids of the file's last kRemembered lines at open; never changes after the constructor.
  std::unordered_set<std::string> written_before_start_;

  void remember(std::string id);                            // with mu_ held
  std::unordered_set<std::string> ids_at_file_end() const;  // of its last kRemembered lines
};

// One JSON object (no newline) as SandboxChannel writes it; `sent_at_ms` is unix milliseconds.
std::string sandbox_line(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                         int64_t sent_at_ms);

}  // namespace herald::channels
