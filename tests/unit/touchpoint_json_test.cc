#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include "herald/v1/report.pb.h"
#include "service/api/json.h"
#include "service/api/touchpoint_json.h"

namespace herald::api {
namespace {

using google::protobuf::util::TimeUtil;

// Touchpoints with the values that trip JSON writers: escapes, control characters, non-ASCII
// text, HTML-ish characters, unset and unknown enums, timestamps at every precision.
std::vector<v1::Touchpoint> awkward_touchpoints() {
  std::vector<v1::Touchpoint> out;
  const char* details[] = {"ETR 6:00 PM",
                           "",
                           "quote \" backslash \\ slash /",
                           "line\nbreak\ttab\rreturn\bback\ffeed",
                           "nul\x01\x1f end",
                           "Restablecido: el corte terminó a las 18:00 — ¡gracias!",
                           "emoji \xF0\x9F\x92\xA1 and <b>&amp;</b> and \xE2\x80\xA8 sep",
                           "ascii markup <b>5 & 6</b> 'x' > y",
                           "delete \x7f char",
                           "STOP"};
  const int64_t nanos[] = {0, 123000000, 123456000, 123456789};
  int i = 0;
  for (const char* detail : details) {
    for (int64_t ns : nanos) {
      v1::Touchpoint tp;
      tp.set_customer_id(i % 3 == 0 ? "" : "C-" + std::to_string(i));
      tp.set_kind(static_cast<v1::TouchpointKind>(i % 5));
      if (i % 7 != 3) {
        *tp.mutable_at() = TimeUtil::NanosecondsToTimestamp(1'796'000'000'000'000'000LL + ns);
      }
      tp.set_event_id(i % 2 ? "OUT-2026-11-23-A" : "");
      tp.set_revision(static_cast<uint32_t>(i * 7919));
      tp.set_channel(static_cast<v1::Channel>(i % 4));
      tp.set_status(i % 2 ? "delivered" : "queued");
      tp.set_reason(i % 3 ? "quiet_hours" : "");
      tp.set_detail(detail);
      tp.set_id(std::to_string(1796000000000 + i) + "-0");
      out.push_back(tp);
      ++i;
    }
  }
  v1::Touchpoint unknown_enums;
  unknown_enums.set_kind(static_cast<v1::TouchpointKind>(77));
  unknown_enums.set_channel(static_cast<v1::Channel>(99));
  out.push_back(unknown_enums);
  return out;
}

TEST(TouchpointJson, JourneyIsByteForByteWhatTheProtobufPrinterWrites) {
  const auto tps = awkward_touchpoints();
  v1::Journey head;
  head.mutable_customer()->set_id("C-1");
  head.mutable_customer()->set_name("Zoë \"Zed\" O'Neil");
  head.set_next_cursor("1796000000000-5");
  v1::Journey full = head;
  for (const auto& tp : tps) *full.add_touchpoints() = tp;
  EXPECT_EQ(to_json_with_touchpoints(head, tps), to_json(full));
}

TEST(TouchpointJson, SearchPageAndEmptyPageMatchToo) {
  const auto tps = awkward_touchpoints();
  v1::TouchpointPage head;
  v1::TouchpointPage full;
  for (const auto& tp : tps) *full.add_touchpoints() = tp;
  EXPECT_EQ(to_json_with_touchpoints(head, tps), to_json(full));
  EXPECT_EQ(to_json_with_touchpoints(head, {}), to_json(head));
}

TEST(TouchpointJson, OutputParsesBackToTheSameTouchpoints) {
  const auto tps = awkward_touchpoints();
  v1::TouchpointPage back;
  ASSERT_TRUE(parse_json(to_json_with_touchpoints(v1::TouchpointPage{}, tps), back).ok());
  ASSERT_EQ(back.touchpoints_size(), static_cast<int>(tps.size()) );
  for (size_t i = 0; i + 1 < tps.size(); ++i) {
    EXPECT_EQ(back.touchpoints(static_cast<int>(i)).SerializeAsString(), tps[i].SerializeAsString())
        << i;
  }
}

}  // namespace
}  // namespace herald::api
