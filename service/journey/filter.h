#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "herald/v1/touchpoint.pb.h"
#include "service/common/result.h"

namespace herald::journey {

// Query parameters of the journey and search routes; every one is optional.
struct Filter {
  int64_t since_ms = 0;  // 0: from the start
  int64_t until_ms = 0;  // 0: to the end (inclusive)
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  v1::TouchpointKind kind = v1::TOUCHPOINT_KIND_UNSPECIFIED;
  std::string event;
  std::string status;  // compared without regard to case

  bool matches(const v1::Touchpoint& tp) const;
};

struct PageRequest {
  size_t limit = 100;
  std::string cursor;  // opaque; from the previous page's next_cursor
};

inline constexpr size_t kMaxLimit = 1000;

using Query = std::function<std::optional<std::string>(std::string_view name)>;

// 400 naming the parameter: since/until as RFC 3339, channel (SMS, ...), kind (DECISION, ...),
// event (an id), status, limit 1..1000, cursor.
Result<Filter> parse_filter(const Query& query);
Result<PageRequest> parse_page(const Query& query);
// RFC 3339 to ms since the epoch; the error names `field`.
Result<int64_t> parse_time_ms(std::string_view field, std::string_view text);

}  // namespace herald::journey
