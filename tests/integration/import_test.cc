#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "service/store/keys.h"
#include "tests/support/heraldd_process.h"
#include "tests/support/store_layout.h"

namespace herald::testing {
namespace {

constexpr int kLargeCount = 20000;
constexpr int kBadEvery = 100;

class Import : public HeralddSuite {
 protected:
  HttpResponse import(const std::string& ndjson, const std::string& key,
                      const std::string& type = "application/x-ndjson") {
    return http().request("POST", "/v1/customers:import", ndjson, bearer(key, type));
  }

  static std::string json_line(const std::string& id) {
    SampleCustomer c;
    c.id = id;
    c.premises[0].id = "P-" + id;
    return customer_json(c);
  }

  // Runs a command line and returns its stdout; the exit status goes to *status.
  static std::string run(const std::string& command, int* status) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
    const int rc = ::pclose(pipe);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
  }

  // scripts/gen_customers.py output, made once per suite (it is deterministic).
  static const std::string& large_file() {
    static const std::string path = [] {
      const std::string file = std::filesystem::temp_directory_path() /
                               ("herald-import-" + std::to_string(::getpid()) + ".ndjson");
      int status = -1;
      run("/usr/bin/python3 " HERALD_SOURCE_DIR "/scripts/gen_customers.py --count " +
              std::to_string(kLargeCount) + " --bad-every " + std::to_string(kBadEvery) +
              " --out " + file,
          &status);
      if (status != 0) ADD_FAILURE() << "gen_customers.py failed with status " << status;
      return file;
    }();
    return path;
  }

  static void TearDownTestSuite() {
    std::filesystem::remove(std::filesystem::temp_directory_path() /
                            ("herald-import-" + std::to_string(::getpid()) + ".ndjson"));
    HeralddSuite::TearDownTestSuite();
  }
};

TEST_F(Import, MixedLinesReportExactCountsLinesAndFields) {
  std::string broken = json_line("C-imp-5");
  broken.resize(broken.size() / 2);
  std::string unknown = json_line("C-imp-4");
  unknown.insert(1, R"("nickname":"x",)");
  std::string no_id = json_line("C-imp-7");
  no_id.replace(no_id.find(R"("id":"C-imp-7",)"), 15, "");
  std::string bad_tz = json_line("C-imp-8");
  bad_tz.replace(bad_tz.find("America/New_York"), 16, "Atlantis/Capital");
  SampleCustomer bad_phone;
  bad_phone.id = "C-imp-2";
  bad_phone.phone = "+1 999";

  const std::string body = json_line("C-imp-1") + "\n" + customer_json(bad_phone) + "\n" +
                           json_line("C-imp-3") + "\r\n" + unknown + "\n" + broken + "\n" + "\n" +
                           no_id + "\n" + bad_tz + "\n" + json_line("C-imp-9");
  auto r = import(body, heraldd().admin_key());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "accepted"), "3") << r.body;
  EXPECT_EQ(json_at(r.body, "rejected"), "5") << r.body;
  const std::vector<std::pair<std::string, std::string>> errors = {
      {"2", "phone"}, {"4", "nickname"}, {"5", ""}, {"7", "id"}, {"8", "timeZone"}};
  for (size_t i = 0; i < errors.size(); ++i) {
    const std::string at = "errors[" + std::to_string(i) + "]";
    EXPECT_EQ(json_at(r.body, at + ".line"), errors[i].first) << r.body;
    EXPECT_EQ(json_at(r.body, at + ".field").value_or(""), errors[i].second) << r.body;
    EXPECT_FALSE(json_at(r.body, at + ".message").value_or("").empty());
  }
  EXPECT_EQ(r.body.find("999"), std::string::npos) << "an error echoed the phone number";

  for (const char* id : {"C-imp-1", "C-imp-3", "C-imp-9"}) {
    auto got = get_customer(id);
    EXPECT_EQ(got.status, 200) << id;
    EXPECT_EQ(json_at(got.body, "phone"), "+12014316859") << id;
  }
  for (const char* id : {"C-imp-2", "C-imp-4", "C-imp-8"}) EXPECT_EQ(get_customer(id).status, 404);
}

// A batch mixing stored and new ids stores both; an id claimed by a create cut short (a crash
// between claiming the id and writing the record leaves the id mapped to a number with no
// record) reads as absent and is created at its claimed number by the next import.
TEST_F(Import, StoredNewAndCutShortIdsInOneBatch) {
  auto first = import(json_line("C-mix-1") + "\n" + json_line("C-mix-2") + "\n",
                      heraldd().admin_key());
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json_at(first.body, "accepted"), "2");

  auto conn = redis_connection();
  auto claim = conn.command(
      redis::cmd("HSET", store::customer_id_key("C-mix-4"), "C-mix-4", "987654321"));
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(get_customer("C-mix-4").status, 404) << "a claim without a record is no customer";

  SampleCustomer renamed;
  renamed.id = "C-mix-1";
  renamed.name = "Grace Hopper";
  renamed.premises[0].id = "P-C-mix-1";
  auto again = import(customer_json(renamed) + "\n" + json_line("C-mix-3") + "\n" +
                          json_line("C-mix-4") + "\n",
                      heraldd().admin_key());
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json_at(again.body, "accepted"), "3") << again.body;
  auto mixed = get_customer("C-mix-1");
  EXPECT_EQ(json_at(mixed.body, "name"), "Grace Hopper");
  EXPECT_EQ(json_at(mixed.body, "phone"), "+12014316859") << "the re-import lost a contact detail";
  for (const char* id : {"C-mix-2", "C-mix-3", "C-mix-4"}) {
    EXPECT_EQ(get_customer(id).status, 200) << id;
  }
  auto num = conn.command(redis::cmd("HGET", store::customer_id_key("C-mix-4"), "C-mix-4"));
  ASSERT_TRUE(num.ok());
  EXPECT_EQ(num->str, "987654321") << "the cut-short create's number was not reused";
  EXPECT_EQ(premise_customers(conn, "P-C-mix-4"), std::vector<std::string>{"987654321"})
      << "the premise index does not name the recovered customer";
  auto one = conn.command(redis::cmd("HGET", store::customer_id_key("C-mix-1"), "C-mix-1"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(premise_customers(conn, "P-C-mix-1"), std::vector<std::string>{one->str})
      << "a re-imported customer is listed at its premise once";
}

// An id repeated within one batch splits it: the run after the repeat is created on its own,
// with the customer its earlier line stored going to the general script. The later line wins,
// the new customers of both runs are stored with their contact details, and each is listed at
// its premise once.
TEST_F(Import, AnIdRepeatedInABatchIsStoredOnceWithTheLaterLine) {
  SampleCustomer again;
  again.id = "C-rep-1";
  again.name = "Ada Lovelace";
  again.email = "ada@example.org";
  again.premises[0].id = "P-C-rep-1b";
  const std::string body = json_line("C-rep-1") + "\n" + json_line("C-rep-2") + "\n" +
                           customer_json(again) + "\n" + json_line("C-rep-3") + "\n" +
                           json_line("C-rep-4") + "\n";
  auto r = import(body, heraldd().admin_key());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_at(r.body, "accepted"), "5") << r.body;

  auto got = get_customer("C-rep-1");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json_at(got.body, "name"), "Ada Lovelace");
  EXPECT_EQ(json_at(got.body, "email"), "ada@example.org");
  EXPECT_EQ(json_at(got.body, "premises[0].id"), "P-C-rep-1b");
  auto conn = redis_connection();
  auto one = conn.command(redis::cmd("HGET", store::customer_id_key("C-rep-1"), "C-rep-1"));
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(premise_customers(conn, "P-C-rep-1").empty()) << "the earlier line's premise kept it";
  EXPECT_EQ(premise_customers(conn, "P-C-rep-1b"), std::vector<std::string>{one->str});
  for (const char* id : {"C-rep-2", "C-rep-3", "C-rep-4"}) {
    auto c = get_customer(id);
    ASSERT_EQ(c.status, 200) << id;
    EXPECT_EQ(json_at(c.body, "phone"), "+12014316859") << id;
    auto n = conn.command(redis::cmd("HGET", store::customer_id_key(id), id));
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(premise_customers(conn, std::string("P-") + id), std::vector<std::string>{n->str})
        << id;
  }
}

// A re-import of stored customers (several batches: the first ones are prepared as if new, the
// later ones not) updates each in place: same number, new name, listed at its premise once.
TEST_F(Import, ReimportUpdatesEveryCustomerInPlace) {
  constexpr int kCount = 1600;
  auto body = [](const std::string& name) {
    std::string out;
    for (int i = 0; i < kCount; ++i) {
      SampleCustomer c;
      c.id = "C-re-" + std::to_string(i);
      c.name = name;
      c.premises[0].id = "P-" + c.id;
      out += customer_json(c) + "\n";
    }
    return out;
  };
  auto first = import(body("Alan Turing"), heraldd().admin_key());
  ASSERT_EQ(first.status, 200) << first.body.substr(0, 300);
  ASSERT_EQ(json_at(first.body, "accepted"), std::to_string(kCount));
  auto conn = redis_connection();
  auto number = [&conn](const std::string& id) {
    auto n = conn.command(redis::cmd("HGET", store::customer_id_key(id), id));
    return n.ok() ? n->str : std::string();
  };
  std::vector<std::string> before;
  for (int i = 0; i < kCount; i += 97) before.push_back(number("C-re-" + std::to_string(i)));

  auto again = import(body("Joan Clarke"), heraldd().admin_key());
  ASSERT_EQ(again.status, 200) << again.body.substr(0, 300);
  EXPECT_EQ(json_at(again.body, "accepted"), std::to_string(kCount));
  EXPECT_EQ(json_at(again.body, "rejected"), "0");
  for (int i = 0, k = 0; i < kCount; i += 97, ++k) {
    const std::string id = "C-re-" + std::to_string(i);
    auto got = get_customer(id);
    ASSERT_EQ(got.status, 200) << id;
    EXPECT_EQ(json_at(got.body, "name"), "Joan Clarke") << id;
    EXPECT_EQ(json_at(got.body, "phone"), "+12014316859") << id;
    EXPECT_EQ(number(id), before[k]) << id << " got a new number";
    EXPECT_EQ(premise_customers(conn, "P-" + id), std::vector<std::string>{before[k]}) << id;
  }
}

TEST_F(Import, OverLongLineIsRejectedAndTheRestImported) {
  std::string huge = json_line("C-imp-huge");
  huge.insert(huge.size() - 1, ",\"name\":\"" + std::string(70 * 1024, 'x') + "\"");
  auto r = import(huge + "\n" + json_line("C-imp-after-huge") + "\n", heraldd().admin_key());
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  EXPECT_EQ(json_at(r.body, "accepted"), "1");
  EXPECT_EQ(json_at(r.body, "rejected"), "1");
  EXPECT_EQ(json_at(r.body, "errors[0].line"), "1");
  EXPECT_EQ(get_customer("C-imp-after-huge").status, 200);
}

TEST_F(Import, NonAdminKeysAreForbiddenAndStoreNothing) {
  for (const std::string* key :
       {&heraldd().agent_key(), &heraldd().operator_key(), &heraldd().analyst_key()}) {
    auto r = import(json_line("C-imp-sneaky") + "\n", *key);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(json_at(r.body, "error.code"), "permission_denied");
  }
  EXPECT_EQ(get_customer("C-imp-sneaky").status, 404);
}

TEST_F(Import, OtherContentTypesAreUnsupported) {
  auto r = import(json_line("C-imp-json") + "\n", heraldd().admin_key(), "application/xml");
  EXPECT_EQ(r.status, 415) << r.body;
  EXPECT_EQ(get_customer("C-imp-json").status, 404);
}

TEST_F(Import, LargeGeneratedFileCountsMatch) {
  std::ifstream in(large_file());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  ASSERT_GT(body.size(), 1u << 20) << "the generator wrote too little";

  auto r = import(body, heraldd().admin_key());
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  EXPECT_EQ(json_at(r.body, "accepted"), std::to_string(kLargeCount - kLargeCount / kBadEvery));
  EXPECT_EQ(json_at(r.body, "rejected"), std::to_string(kLargeCount / kBadEvery));
  for (int i = 0; i < kLargeCount / kBadEvery; ++i) {
    const std::string line = std::to_string((i + 1) * kBadEvery);
    EXPECT_EQ(json_at(r.body, "errors[" + std::to_string(i) + "].line"), line);
  }
  EXPECT_EQ(get_customer("C-0000001").status, 200);
  EXPECT_EQ(get_customer("C-0020000").status, 404);  // line 20000 is a bad one
  EXPECT_EQ(get_customer("C-0019999").status, 200);

  auto seq = redis_connection().command(redis::cmd("GET", "seq:customer"));
  ASSERT_TRUE(seq.ok());
  EXPECT_GE(std::stoll(seq->str), kLargeCount - kLargeCount / kBadEvery);
}

TEST_F(Import, HeraldctlImportPrintsTheSameCounts) {
  int status = -1;
  const std::string out =
      run("env HERALD_URL=" + heraldd().base_url() + " HERALD_API_KEY=" + heraldd().admin_key() +
              " " HERALD_BINARY_DIR "/service/heraldctl import " + large_file(),
          &status);
  EXPECT_EQ(status, 0) << out.substr(0, 500);
  EXPECT_EQ(json_at(out, "accepted"), std::to_string(kLargeCount - kLargeCount / kBadEvery))
      << out.substr(0, 500);
  EXPECT_EQ(json_at(out, "rejected"), std::to_string(kLargeCount / kBadEvery));
  EXPECT_EQ(get_customer("C-0012345").status, 200);
}

TEST_F(Import, HeraldctlWithANonAdminKeyFails) {
  const std::string file = large_file() + ".small";
  std::ofstream(file) << json_line("C-imp-ctl-agent") << "\n";
  int status = -1;
  const std::string out =
      run("env HERALD_URL=" + heraldd().base_url() + " HERALD_API_KEY=" + heraldd().agent_key() +
              " " HERALD_BINARY_DIR "/service/heraldctl import " + file + " 2>&1",
          &status);
  std::filesystem::remove(file);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("permission_denied"), std::string::npos) << out;
  EXPECT_EQ(get_customer("C-imp-ctl-agent").status, 404);
}

}  // namespace
}  // namespace herald::testing
