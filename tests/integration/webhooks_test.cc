#include <gtest/gtest.h>

#include "service/store/keys.h"
#include "service/store/touchpoints.h"
#include "tests/support/webhook_fixture.h"

namespace herald::testing {
namespace {

class Webhooks : public WebhookFixture {
 protected:
  std::string hget(const std::string& key, const std::string& field) {
    auto r = redis().command(redis::cmd("HGET", key, field));
    return r.ok() ? r->str : "";
  }
  long long count(const std::string& pattern) {
    auto r = redis().command(redis::cmd("KEYS", pattern));
    return r.ok() ? static_cast<long long>(r->elements.size()) : -1;
  }
  long long journey_length(uint64_t n) {
    auto r = redis().command(redis::cmd("XRANGE", store::journey_key(n), "-", "+"));
    return r.ok() ? static_cast<long long>(store::touchpoints_in(*r, n, false).size()) : -1;
  }
  bool member(const std::string& set, uint64_t n) {
    auto r = redis().command(redis::cmd("SISMEMBER", set, std::to_string(n)));
    return r.ok() && r->integer == 1;
  }
  HttpResponse sms_status(const std::string& message_id, const std::string& status,
                          const std::string& error = "") {
    inbound::FormParams p = {{"MessageSid", "SM0123"}, {"MessageStatus", status}};
    if (!error.empty()) p.emplace_back("ErrorCode", error);
    return twilio_post("/v1/webhooks/twilio/status?m=" + message_id, p);
  }
  std::string email_event(const std::string& event, uint64_t n) {
    return R"({"email":"x@example.net","timestamp":1700000000,"event":")" + event +
           R"(","sg_message_id":"sg1","herald_message_id":"OUT-1:1:EMAIL:)" + std::to_string(n) +
           R"("})";
  }
};

TEST_F(Webhooks, ForgedAndUnsignedRequestsGet403AndChangeNothing) {
  const uint64_t n = put_customer("C-1", "+12014316859");
  const std::string m = "OUT-1%3A1%3ASMS%3A" + std::to_string(n);
  auto unsigned_status = http_->request("POST", "/v1/webhooks/twilio/status?m=" + m,
                                        "MessageSid=SM1&MessageStatus=delivered",
                                        {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(unsigned_status.status, 403);
  EXPECT_EQ(json_at(unsigned_status.body, "error.code"), "permission_denied");
  auto forged = http_->request("POST", "/v1/webhooks/twilio/inbound",
                               "From=%2B12014316859&Body=STOP",
                               {{"Content-Type", "application/x-www-form-urlencoded"},
                                {"X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="}});
  EXPECT_EQ(forged.status, 403);
  // Signed for another URL than the one requested: a replay elsewhere.
  const auto sig = inbound::twilio_signature(kTwilioToken, "https://evil.example/x",
                                             {{"From", "+12014316859"}, {"Body", "STOP"}});
  auto moved = http_->request("POST", "/v1/webhooks/twilio/inbound",
                              "From=%2B12014316859&Body=STOP",
                              {{"Content-Type", "application/x-www-form-urlencoded"},
                               {"X-Twilio-Signature", sig}});
  EXPECT_EQ(moved.status, 403);
  const std::string body = "[" + email_event("bounce", n) + "]";
  auto sg_unsigned = http_->request("POST", "/v1/webhooks/sendgrid/events", body,
                                    {{"Content-Type", "application/json"}});
  EXPECT_EQ(sg_unsigned.status, 403);
  auto sg_forged = http_->request(
      "POST", "/v1/webhooks/sendgrid/events", body,
      {{"X-Twilio-Email-Event-Webhook-Timestamp", "1588788367"},
       {"X-Twilio-Email-Event-Webhook-Signature",
        "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="}});
  EXPECT_EQ(sg_forged.status, 403);
  EXPECT_FALSE(member("stop:sms", n));
  EXPECT_FALSE(member("invalid:email", n));
  EXPECT_EQ(count("ms:*"), 0);
  EXPECT_EQ(count("fn:*"), 0);
  auto inbox = redis().command(redis::cmd("XLEN", "inbox"));
  EXPECT_EQ(inbox->integer, 0) << "nothing reached the inbox";
}

TEST_F(Webhooks, StatusCallbacksMergeMonotonicallyAndCountOnce) {
  const uint64_t n = put_customer("C-1", "+12014316859");
  const std::string m = "OUT-1%3A1%3ASMS%3A" + std::to_string(n);
  const long long before = journey_length(n);
  for (const char* status : {"sent", "delivered", "sent", "queued", "delivered", "undelivered"}) {
    auto r = sms_status(m, status);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  EXPECT_EQ(hget("ms:{OUT-1}", std::to_string(n) + ":sms:1"), "5|delivered");
  EXPECT_EQ(hget("fn:{OUT-1}", "sms:delivered"), "1");
  EXPECT_EQ(hget("fn:{OUT-1}", "sms:undelivered"), "");
  // A voice call of another revision, out of order: ringing after completed changes nothing.
  const std::string call = "OUT-1%3A2%3AVOICE%3A" + std::to_string(n);
  for (const char* status : {"completed", "ringing", "initiated"}) {
    auto r = twilio_post("/v1/webhooks/twilio/status?m=" + call,
                         {{"CallSid", "CA1"}, {"CallStatus", status}});
    ASSERT_EQ(r.status, 204) << r.body;
  }
  EXPECT_EQ(hget("ms:{OUT-1}", std::to_string(n) + ":voice:2"), "5|completed");
  EXPECT_EQ(hget("fn:{OUT-1}", "voice:delivered"), "1");
  // The journey shows each advance once: sent, delivered, completed.
  EXPECT_EQ(journey_length(n) - before, 3);
}

TEST_F(Webhooks, Error21610OptsTheNumberOutAndBadIdsAre400) {
  const uint64_t n = put_customer("C-1", "+12014316859");
  auto r = sms_status("OUT-1%3A1%3ASMS%3A" + std::to_string(n), "failed", "21610");
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(member("stop:sms", n));
  EXPECT_EQ(hget("fn:{OUT-1}", "sms:undelivered"), "1");
  auto bad = sms_status("nonsense", "delivered");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json_at(bad.body, "error.field"), "m");
}

TEST_F(Webhooks, SendgridBounceMarksUndeliverableAndANewAddressClearsIt) {
  const uint64_t n = put_customer("C-1", "+12014316859");
  auto r = sendgrid_post("[" + email_event("delivered", n) + "," + email_event("bounce", n) + "]");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "applied"), "2");
  EXPECT_TRUE(member("invalid:email", n));
  EXPECT_EQ(hget("ms:{OUT-1}", std::to_string(n) + ":email:1"), "5|delivered");
  // The same profile again keeps the mark; another address clears it.
  put_customer("C-1", "+12014316859");
  EXPECT_TRUE(member("invalid:email", n));
  auto changed = http_->request(
      "PUT", "/v1/customers/C-1",
      R"({"name":"Grace Hopper","phone":"+12014316859","email":"new@example.net",)"
      R"("timeZone":"America/New_York","language":"en","premises":[{"id":"P-C-1",)"
      R"("address":"7 Harbor Rd","feeder":"F-1"}]})",
      bearer(heraldd_->admin_key()));
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_FALSE(member("invalid:email", n));
}

TEST_F(Webhooks, UnsubscribeAndSpamReportTurnEmailOff) {
  const uint64_t a = put_customer("C-1", "+12014316859");
  const uint64_t b = put_customer("C-2", "+12014316860");
  auto r = sendgrid_post("[" + email_event("unsubscribe", a) + "," + email_event("spamreport", b) +
                         "," + email_event("open", b) + "]");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const char* id : {"C-1", "C-2"}) {
    auto c = http_->request("GET", std::string("/v1/customers/") + id, "",
                            bearer(heraldd_->admin_key()));
    ASSERT_EQ(c.status, 200);
    EXPECT_EQ(json_at(c.body, "preferences.channels.OUTAGE[0]"), "SMS") << c.body;
    EXPECT_EQ(c.body.find("EMAIL"), std::string::npos) << c.body;
  }
}

TEST_F(Webhooks, OneClickUnsubscribeNeedsTheCustomersToken) {
  put_customer("C-1", "+12014316859");
  put_customer("C-2", "+12014316860");
  auto minted = http_->request("POST", "/v1/customers/C-1/token", "", bearer(heraldd_->admin_key()));
  ASSERT_EQ(minted.status, 201) << minted.body;
  const std::string token = *json_at(minted.body, "token");
  auto wrong = http_->request("POST", "/v1/customers/C-2/email-unsubscribe?token=" + token,
                              "List-Unsubscribe=One-Click",
                              {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(wrong.status, 403);
  auto none = http_->request("POST", "/v1/customers/C-1/email-unsubscribe",
                             "List-Unsubscribe=One-Click");
  EXPECT_EQ(none.status, 403);
  auto ok = http_->request("POST", "/v1/customers/C-1/email-unsubscribe?token=" + token,
                           "List-Unsubscribe=One-Click",
                           {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto c1 = http_->request("GET", "/v1/customers/C-1", "", bearer(heraldd_->admin_key()));
  EXPECT_EQ(c1.body.find("EMAIL"), std::string::npos) << c1.body;
  auto c2 = http_->request("GET", "/v1/customers/C-2", "", bearer(heraldd_->admin_key()));
  EXPECT_NE(c2.body.find("EMAIL"), std::string::npos) << c2.body;
}

}  // namespace
}  // namespace herald::testing
