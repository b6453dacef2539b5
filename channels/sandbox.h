#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>

#include "channels/channel.h"

namespace herald::channels {

// The default channel when no provider is configured: appends one JSON line per message to
// <dir>/<channel>.jsonl, contact and text in clear, so a local run shows what would be sent.
// Thread-safe; each line is flushed before send() returns.
class SandboxChannel : public Channel {
 public:
  // Creates `dir` if needed; throws std::runtime_error when the file cannot be opened (start-up).
  SandboxChannel(const std::filesystem::path& dir, v1::Channel kind);
  ~SandboxChannel() override;

  v1::Channel kind() const override { return kind_; }
  SendResult send(const v1::OutboundMessage& msg, const v1::MessageContent& content) override;

  const std::filesystem::path& path() const { return path_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };

  v1::Channel kind_;
  std::filesystem::path path_;
  std::mutex mu_;
  std::unique_ptr<std::FILE, FileCloser> file_;  // guarded by mu_
  uint64_t sent_ = 0;                            // guarded by mu_
};

// One JSON object (no newline) as SandboxChannel writes it; `sent_at_ms` is unix milliseconds.
std::string sandbox_line(const v1::OutboundMessage& msg, const v1::MessageContent& content,
                         int64_t sent_at_ms);

}  // namespace herald::channels
