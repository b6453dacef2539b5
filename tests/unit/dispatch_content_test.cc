#include <gtest/gtest.h>

#include <string>

#include "service/dispatch/content.h"

namespace herald::dispatch {
namespace {

const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

class DispatchContent : public ::testing::Test {
 protected:
  core::Sealer sealer_ = *core::Sealer::from_key(kKey);

  static v1::MessageContent email() {
    v1::MessageContent c;
    c.set_to("ada@example.org");
    c.set_subject("Power outage at 12 Analytical Way");
    std::string text, html = "<html><body>";
    for (int i = 0; i < 12; ++i) {
      text += "We expect power back by 6:00 PM. Reply CALL for a callback. ";
      html += "<p>We expect power back by <b>6:00 PM</b>. Reply CALL for a callback.</p>";
    }
    c.set_text(text);
    c.set_html(html + "</body></html>");
    return c;
  }
  static v1::OutboundMessage message(const char* id) {
    v1::OutboundMessage m;
    m.set_id(id);
    return m;
  }
  // A packed field sealed by hand: `size` claimed, `block` as the LZ4 data.
  std::string packed(uint32_t size, const std::string& block, const std::string& id) const {
    std::string p(4, '\0');
    for (int k = 0; k < 4; ++k) p[k] = static_cast<char>((size >> (8 * k)) & 0xff);
    return sealer_.seal(p + block, id);
  }
};

TEST_F(DispatchContent, AnEmailIsCompressedBeforeItIsSealedAndOpensWhole) {
  const v1::MessageContent c = email();
  v1::OutboundMessage m = message("OUT-1:1:EMAIL:7");
  seal_content(c, sealer_, m);
  EXPECT_TRUE(m.sealed_content().empty());
  EXPECT_LT(m.sealed_lz4_content().size(), c.ByteSizeLong() / 2);
  auto opened = open_content(sealer_, m);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->SerializeAsString(), c.SerializeAsString());
}

TEST_F(DispatchContent, ShortContentIsSealedAsItIsAndEarlierEntriesStillOpen) {
  v1::MessageContent sms;
  sms.set_to("+12125550101");
  sms.set_sms("Power is back at 12 Analytical Way. Reply STOP to opt out.");
  v1::OutboundMessage m = message("OUT-1:1:SMS:7");
  seal_content(sms, sealer_, m);
  EXPECT_TRUE(m.sealed_lz4_content().empty());
  auto opened = open_content(sealer_, m);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->sms(), sms.sms());
  // An email queued by a release that sealed every content whole.
  v1::OutboundMessage old = message("OUT-1:1:EMAIL:8");
  old.set_sealed_content(sealer_.seal(email().SerializeAsString(), old.id()));
  auto old_opened = open_content(sealer_, old);
  ASSERT_TRUE(old_opened.ok());
  EXPECT_EQ(old_opened->html(), email().html());
}

TEST_F(DispatchContent, ContentThatDoesNotOpenOrUnpackIsRefusedByName) {
  v1::OutboundMessage m = message("OUT-1:1:EMAIL:7");
  seal_content(email(), sealer_, m);
  v1::OutboundMessage moved = m;
  moved.set_id("OUT-1:1:EMAIL:9");  // another message's content
  auto other = open_content(sealer_, moved);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "unsealable");

  v1::OutboundMessage bad = message("OUT-1:1:EMAIL:7");
  bad.set_sealed_lz4_content(packed(5000, "not an lz4 block", bad.id()));
  auto broken = open_content(sealer_, bad);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().message, "bad_content");
  bad.set_sealed_lz4_content(packed(0xffffffffu, "", bad.id()));  // no 4 GB allocation
  EXPECT_EQ(open_content(sealer_, bad).error().message, "bad_content");
  bad.set_sealed_lz4_content(sealer_.seal("ab", bad.id()));  // shorter than its size
  EXPECT_EQ(open_content(sealer_, bad).error().message, "bad_content");
}

}  // namespace
}  // namespace herald::dispatch
