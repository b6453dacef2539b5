#include "channels/http_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "channels/form.h"

namespace herald::channels {
namespace {

using Status = SendResult::Status;

TEST(TransientFailureTest, NoResponseRateLimitsAndServerErrorsAreRetries) {
  SendResult r;
  HttpReply none;
  none.error = "Connection refused";
  ASSERT_TRUE(transient_failure(none, r));
  EXPECT_EQ(r.status, Status::kRetry);
  EXPECT_EQ(r.error_code, "connection");

  HttpReply limited;
  limited.status = 429;
  limited.retry_after = std::chrono::seconds(12);
  SendResult l;
  ASSERT_TRUE(transient_failure(limited, l));
  EXPECT_EQ(l.retry_after, std::chrono::seconds(12));

  HttpReply bad;
  bad.status = 400;
  SendResult b;
  EXPECT_FALSE(transient_failure(bad, b));
  EXPECT_EQ(b.status, Status::kSent);  // left alone
}

TEST(HttpEngineTest, UnsupportedSchemeFailsWithoutAResponse) {
  HttpEngine engine({});
  HttpRequest req;
  req.url = "ftp://127.0.0.1/x";
  HttpReply reply = engine.submit(std::move(req)).get();
  EXPECT_EQ(reply.status, 0);
  EXPECT_FALSE(reply.error.empty());
}

TEST(HttpEngineTest, SubmitsAfterStopFailAtOnce) {
  HttpEngine engine({});
  engine.stop();
  HttpRequest req;
  req.url = "http://127.0.0.1:9/";
  HttpReply reply = engine.submit(std::move(req)).get();
  EXPECT_EQ(reply.error, "engine stopped");
  engine.stop();  // idempotent
}

TEST(HttpEngineTest, PerformOfNothingReturnsNothing) {
  HttpEngine engine({});
  EXPECT_TRUE(engine.perform({}).empty());
}

TEST(RedactNumbersTest, HidesPhoneNumbersButKeepsCodes) {
  EXPECT_EQ(redact_numbers("To +1 (201) 431-6859 failed, code 21211"),
            "To [number] failed, code 21211");
  EXPECT_EQ(redact_numbers("+12014316859"), "[number]");
}

}  // namespace
}  // namespace herald::channels
