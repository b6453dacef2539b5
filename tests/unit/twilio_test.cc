#include "channels/twilio.h"

#include <gtest/gtest.h>

#include <string>

#include "channels/form.h"

namespace herald::channels {
namespace {

using Status = SendResult::Status;
using Failure = SendResult::Failure;

HttpReply reply(long status, std::string body) {
  HttpReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string twilio_error(int code, const std::string& message, int status = 400) {
  return R"({"code": )" + std::to_string(code) + R"(, "message": ")" + message +
         R"(", "more_info": "https://www.twilio.com/docs/errors/)" + std::to_string(code) +
         R"(", "status": )" + std::to_string(status) + "}";
}

TEST(FormEncodingTest, EncodesReservedCharactersSpacesAndUtf8) {
  EXPECT_EQ(form_encode({{"To", "+12014316859"}, {"Body", "Power's out & back at 5 p.m. ñ"}}),
            "To=%2B12014316859&Body=Power%27s+out+%26+back+at+5+p.m.+%C3%B1");
  EXPECT_EQ(form_encode({{"From", ""}, {"MessagingServiceSid", "MG1"}}), "MessagingServiceSid=MG1");
  EXPECT_EQ(form_encode({{"a=b", "c&d"}}), "a%3Db=c%26d");
}

TEST(FormEncodingTest, PercentEncodesSpacesAsPercentTwenty) {
  EXPECT_EQ(percent_encode("E-7:3:SMS:42 x/y~_."), "E-7%3A3%3ASMS%3A42%20x%2Fy~_.");
}

TEST(TwimlTest, EscapesTheSpokenTextAndPicksTheLanguage) {
  EXPECT_EQ(twiml_say("Power & water <soon> \"ok\" it's", "en"),
            "<Response><Say language=\"en-US\">Power &amp; water &lt;soon&gt; &quot;ok&quot; "
            "it&apos;s</Say></Response>");
  EXPECT_EQ(twiml_say("Se restableció la luz", "es"),
            "<Response><Say language=\"es-US\">Se restableció la luz</Say></Response>");
  EXPECT_EQ(twiml_say("x", "fr"), "<Response><Say language=\"en-US\">x</Say></Response>");
}

TEST(TwimlTest, DropsControlCharactersXmlCannotCarry) {
  EXPECT_EQ(xml_escape(std::string("a\x01" "b\tc\n", 6)), "ab\tc\n");
}

TEST(StatusCallbackTest, IsThePublicUrlWithThePercentEncodedMessageId) {
  EXPECT_EQ(twilio_status_callback("https://herald.example.com", "E-1:2:SMS:17"),
            "https://herald.example.com/v1/webhooks/twilio/status?m=E-1%3A2%3ASMS%3A17");
  EXPECT_EQ(twilio_status_callback("https://herald.example.com/", "m"),
            "https://herald.example.com/v1/webhooks/twilio/status?m=m");
}

TEST(TwilioErrorTest, MapsCodesToWhatTheDispatcherDoes) {
  EXPECT_EQ(twilio_failure(21610), Failure::kOptedOut);
  for (int code : {21211, 21214, 21217, 21401, 21407, 21421, 21612, 21614}) {
    EXPECT_EQ(twilio_failure(code), Failure::kInvalidContact) << code;
  }
  // Account settings, not facts about the customer's number.
  EXPECT_EQ(twilio_failure(21408), Failure::kRejected);
  EXPECT_EQ(twilio_failure(21215), Failure::kRejected);
  EXPECT_EQ(twilio_failure(30007), Failure::kRejected);
}

TEST(TwilioResultTest, CreatedIsSentWithTheSid) {
  auto r = twilio_result(reply(201, R"({"account_sid": "AC1", "body": "has \"sid\": no",
      "subresource_uris": {"sid": "nested"}, "sid": "SM0123", "status": "queued"})"));
  EXPECT_EQ(r.status, Status::kSent);
  EXPECT_EQ(r.provider_id, "SM0123");
}

TEST(TwilioResultTest, OptedOutIsPermanentWithTheCode) {
  auto r = twilio_result(reply(400, twilio_error(21610, "Attempt to send to unsubscribed recipient")));
  EXPECT_EQ(r.status, Status::kPermanent);
  EXPECT_EQ(r.failure, Failure::kOptedOut);
  EXPECT_EQ(r.error_code, "21610");
}

TEST(TwilioResultTest, InvalidNumberNeverEchoesTheNumber) {
  auto r = twilio_result(
      reply(400, twilio_error(21211, "The 'To' number +1 201-431-6859 is not a valid phone number.")));
  EXPECT_EQ(r.status, Status::kPermanent);
  EXPECT_EQ(r.failure, Failure::kInvalidContact);
  EXPECT_EQ(r.error_code, "21211");
  EXPECT_EQ(r.detail.find("431"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("[number]"), std::string::npos) << r.detail;
}

TEST(TwilioResultTest, TooManyRequestsIsARetryAfterTheProvidersDelay) {
  HttpReply rr = reply(429, twilio_error(20429, "Too Many Requests", 429));
  rr.retry_after = std::chrono::seconds(7);
  auto r = twilio_result(rr);
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(7));
  EXPECT_EQ(r.error_code, "20429");
}

TEST(TwilioResultTest, ServerErrorsTimeoutsAndBadCredentialsAreRetried) {
  EXPECT_EQ(twilio_result(reply(500, "oops")).status, Status::kRetry);
  EXPECT_EQ(twilio_result(reply(503, "")).error_code, "503");
  HttpReply timeout;
  timeout.timed_out = true;
  timeout.error = "Operation timed out";
  auto t = twilio_result(timeout);
  EXPECT_EQ(t.status, Status::kRetry);
  EXPECT_EQ(t.error_code, "timeout");
  auto auth = twilio_result(reply(401, twilio_error(20003, "Authenticate", 401)));
  EXPECT_EQ(auth.status, Status::kRetry);
  EXPECT_EQ(auth.error_code, "20003");
  EXPECT_GE(auth.retry_after, std::chrono::seconds(30));
}

TEST(TwilioResultTest, OtherClientErrorsAreRejected) {
  auto r = twilio_result(reply(400, twilio_error(21602, "Message body is required.")));
  EXPECT_EQ(r.status, Status::kPermanent);
  EXPECT_EQ(r.failure, Failure::kRejected);
  auto bare = twilio_result(reply(404, "not json"));
  EXPECT_EQ(bare.failure, Failure::kRejected);
  EXPECT_EQ(bare.error_code, "404");
}

TEST(JsonMemberTest, ReadsTopLevelScalarsOnly) {
  const std::string body = R"({"a": {"code": 1}, "code": 21610, "message": "x\u00e9\"y", "n": null})";
  EXPECT_EQ(json_member(body, "code"), "21610");
  EXPECT_EQ(json_member(body, "message"), "xé\"y");
  EXPECT_EQ(json_member(body, "n"), "null");
  EXPECT_EQ(json_member(body, "missing"), std::nullopt);
  EXPECT_EQ(json_member("[1]", "code"), std::nullopt);
  EXPECT_EQ(json_member("{\"code\": ", "code"), std::nullopt);
}

class TwilioRequestTest : public ::testing::Test {
 protected:
  TwilioOptions options() const {
    TwilioOptions o;
    o.base_url = "https://api.example.test/";
    o.account_sid = "AC0123";
    o.auth_token = "tok";
    o.sms_from = "+15550001111";
    o.voice_from = "+15550002222";
    o.public_url = "https://h.example";
    return o;
  }
  v1::OutboundMessage message(v1::Channel ch, std::string language = "en") const {
    v1::OutboundMessage m;
    m.set_id("E-1:1:SMS:9");
    m.set_channel(ch);
    m.set_language(std::move(language));
    return m;
  }
};

TEST_F(TwilioRequestTest, SmsIsAFormPostToMessagesWithBasicAuthAndStatusCallback) {
  TwilioChannel sms(v1::SMS, options(), nullptr);
  v1::MessageContent content;
  content.set_to("+12014316859");
  content.set_sms("Outage on your street");
  auto req = sms.request(message(v1::SMS), content);
  EXPECT_EQ(req.url, "https://api.example.test/2010-04-01/Accounts/AC0123/Messages.json");
  EXPECT_EQ(req.basic_auth, "AC0123:tok");
  EXPECT_EQ(req.body,
            "To=%2B12014316859&From=%2B15550001111&Body=Outage+on+your+street&StatusCallback="
            "https%3A%2F%2Fh.example%2Fv1%2Fwebhooks%2Ftwilio%2Fstatus%3Fm%3DE-1%253A1%253ASMS%253A9");
  EXPECT_EQ(sms.budget_key(), "twilio:AC0123:sms:+15550001111");
}

TEST_F(TwilioRequestTest, MessagingServiceIsTheSenderWhenThereIsNoFrom) {
  TwilioOptions o = options();
  o.sms_from.clear();
  o.messaging_service_sid = "MG77";
  TwilioChannel sms(v1::SMS, o, nullptr);
  v1::MessageContent content;
  content.set_to("+12014316859");
  content.set_sms("x");
  EXPECT_NE(sms.request(message(v1::SMS), content).body.find("MessagingServiceSid=MG77"),
            std::string::npos);
  EXPECT_EQ(sms.budget_key(), "twilio:AC0123:sms:MG77");
}

TEST_F(TwilioRequestTest, VoiceIsACallWithTwimlInTheCustomersLanguage) {
  TwilioChannel voice(v1::VOICE, options(), nullptr);
  v1::MessageContent content;
  content.set_to("+12014316859");
  content.set_voice("Aviso: agua & luz");
  auto req = voice.request(message(v1::VOICE, "es"), content);
  EXPECT_EQ(req.url, "https://api.example.test/2010-04-01/Accounts/AC0123/Calls.json");
  EXPECT_NE(req.body.find("From=%2B15550002222"), std::string::npos);
  EXPECT_NE(req.body.find("Twiml=" + percent_encode(twiml_say("Aviso: agua & luz", "es")).substr(0, 20)),
            std::string::npos)
      << req.body;
  EXPECT_EQ(voice.budget_key(), "twilio:AC0123:voice:+15550002222");
}

TEST_F(TwilioRequestTest, MessagesThatCannotBeSentFailWithoutARequest) {
  TwilioChannel sms(v1::SMS, options(), nullptr);  // no engine: a request would crash
  v1::MessageContent no_phone;
  no_phone.set_sms("x");
  auto r = sms.send(message(v1::SMS), no_phone);
  EXPECT_EQ(r.status, Status::kPermanent);
  EXPECT_EQ(r.failure, Failure::kInvalidContact);
  v1::MessageContent content;
  content.set_to("+12014316859");
  content.set_sms("x");
  EXPECT_EQ(sms.send(message(v1::EMAIL), content).error_code, "wrong_channel");
}

}  // namespace
}  // namespace herald::channels
