#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "service/core/crypto.h"
#include "tests/support/journey_fixture.h"

namespace herald::testing {
namespace {

class Complaints : public JourneyFixture {
 protected:
  // What the inbound side does with a text that is not a keyword.
  void inbox(const std::string& customer_id, const std::string& text) {
    const uint64_t n = number_of(customer_id);
    auto sealer = core::Sealer::from_key(heraldd_->pii_key());
    ASSERT_TRUE(sealer.ok());
    auto conn = redis::Connection::connect(redis_->endpoint(), std::chrono::seconds(2));
    ASSERT_TRUE(conn.ok());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto r = conn->command(redis::cmd("XADD", "inbox", "*", "n", std::to_string(n), "at",
                                      std::to_string(now), "text",
                                      sealer->seal(text, std::to_string(n))));
    ASSERT_TRUE(r.ok() && !r->is_error());
  }

  // Waits (bounded) for `n` open complaints.
  HttpResponse await_open(size_t n) {
    HttpResponse r;
    for (int i = 0; i < 100; ++i) {
      r = get("/v1/complaints?status=open", heraldd_->agent_key());
      if (json_at(r.body, "complaints[" + std::to_string(n - 1) + "].id")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return r;
  }
};

TEST_F(Complaints, AComplaintIsFlaggedListedAndResolved) {
  put_customer("C-A", "F-1", R"(["SMS"])");
  put_customer("C-B", "F-1", R"(["SMS"])");
  inbox("C-B", "thanks, the lights are back");
  inbox("C-A", "Esto es una VERGUENZA, quiero poner una queja");
  auto open = await_open(1);
  ASSERT_EQ(open.status, 200) << open.body;
  EXPECT_EQ(json_at(open.body, "complaints[0].customerId"), "C-A") << open.body;
  EXPECT_EQ(json_at(open.body, "complaints[0].text"),
            "Esto es una VERGUENZA, quiero poner una queja");
  EXPECT_FALSE(json_at(open.body, "complaints[1].id")) << "a thank-you is not a complaint";
  EXPECT_EQ(open.body.find("sealedText"), std::string::npos);
  const std::string id = *json_at(open.body, "complaints[0].id");

  auto analyst = get("/v1/complaints?status=open", heraldd_->analyst_key());
  ASSERT_EQ(analyst.status, 200);
  EXPECT_EQ(json_at(analyst.body, "complaints[0].id"), id);
  EXPECT_EQ(analyst.body.find("queja"), std::string::npos) << "analysts do not read the text";

  auto journey = get("/v1/customers/C-A/journey?kind=COMPLAINT", heraldd_->agent_key());
  EXPECT_EQ(json_at(journey.body, "touchpoints[0].detail"), id) << journey.body;
  EXPECT_EQ(journey.body.find("queja"), std::string::npos) << "the journey holds no free text";

  const auto resolve = "/v1/complaints/" + id + "/resolve";
  EXPECT_EQ(http_->request("POST", resolve, R"({"note":""})", bearer(heraldd_->agent_key())).status,
            400);
  EXPECT_EQ(http_->request("POST", resolve, R"({"note":"x"})", bearer(heraldd_->analyst_key()))
                .status,
            403);
  auto done = http_->request("POST", resolve, R"({"note":"called back, credit applied"})",
                             bearer(heraldd_->agent_key()));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(json_at(done.body, "status"), "resolved");
  EXPECT_EQ(http_->request("POST", resolve, R"({"note":"again"})", bearer(heraldd_->agent_key()))
                .status,
            409);
  EXPECT_EQ(http_->request("POST", "/v1/complaints/CMP-1-0/resolve", R"({"note":"x"})",
                           bearer(heraldd_->agent_key()))
                .status,
            404);
  auto still_open = get("/v1/complaints?status=open", heraldd_->agent_key());
  EXPECT_FALSE(json_at(still_open.body, "complaints[0].id")) << still_open.body;
  auto resolved = get("/v1/complaints?status=resolved", heraldd_->agent_key());
  EXPECT_EQ(json_at(resolved.body, "complaints[0].note"), "called back, credit applied");

  auto sum = get("/v1/reports/summary", heraldd_->analyst_key());
  EXPECT_EQ(json_at(sum.body, "complaints.opened"), "1") << sum.body;
  EXPECT_EQ(json_at(sum.body, "complaints.resolved"), "1") << sum.body;
  EXPECT_TRUE(json_at(sum.body, "complaints.resolutionMeanS")) << sum.body;
}

}  // namespace
}  // namespace herald::testing
