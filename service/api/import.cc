#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "service/api/access.h"
#include "service/api/json.h"
#include "service/api/services.h"
#include "service/core/validate.h"
#include "service/http/response.h"

namespace herald::api {
namespace {

constexpr size_t kBatchSize = 500;
constexpr size_t kMaxReportedErrors = 1000;
constexpr size_t kMaxLineBytes = 64 * 1024;

// Parses, validates and stores NDJSON lines batch by batch.
class Importer {
 public:
  // first_line: the number of the body's first line in the caller's file (parallel uploads).
  Importer(Services& s, uint64_t first_line) : s_(s), line_no_(first_line - 1) {}

  void line(std::string_view text) {
    ++line_no_;
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    if (text.empty()) return;
    if (text.size() > kMaxLineBytes) {
      return reject(invalid("", fmt::format("line longer than {} bytes", kMaxLineBytes)));
    }
    v1::Customer c;
    if (auto ok = parse_json(text, c); !ok.ok()) return reject(ok.error());
    if (c.id().empty()) return reject(invalid("id", "each line needs the customer's id"));
    if (auto ok = core::validate_customer(c, c.id(), s_.config.default_region); !ok.ok()) {
      return reject(ok.error());
    }
    batch_.push_back(std::move(c));
  }

  bool batch_full() const { return batch_.size() >= kBatchSize; }

  // Prepares this batch (its numbers, claims and writes) while the batch before is being
  // stored, waits for that one, then starts storing this one and returns: the next batch is
  // parsed while Redis stores this one. One batch in flight at a time, so batches land in
  // upload order (a later line for the same customer wins: it finds the customer stored).
  awaitable<Status> flush() {
    if (batch_.empty()) co_return co_await finish();
    // Its writes are built ahead only while batches turn out new (an import of new customers;
    // a re-import finds them stored, and would decode its records back).
    auto prepared = co_await s_.customers.prepare_batch(std::move(batch_), s_.now_ms(), all_new_);
    batch_.clear();
    if (auto ok = co_await finish(); !ok.ok()) co_return ok;
    if (!prepared.ok()) co_return std::move(prepared).take_error();
    auto state = std::make_shared<InFlight>(co_await net::this_coro::executor);
    state->count = prepared->size();
    net::co_spawn(state->wake.get_executor(), store(s_, std::move(*prepared), state),
                  net::detached);
    in_flight_ = std::move(state);
    co_return ok_status();
  }

  // Waits for the batch in flight, if any, and counts it.
  awaitable<Status> finish() {
    if (!in_flight_) co_return ok_status();
    const std::shared_ptr<InFlight> state = std::move(in_flight_);
    while (!state->done) {
      boost::system::error_code ec;
      co_await state->wake.async_wait(net::redirect_error(use_awaitable, ec));
    }
    if (!state->status.ok()) co_return std::move(state->status);
    all_new_ = state->all_new;
    const auto n = state->count;
    result_.set_accepted(result_.accepted() + static_cast<uint32_t>(n));
    s_.metrics.add("herald_import_lines_total", "result", "accepted", static_cast<double>(n));
    co_return ok_status();
  }

  v1::ImportResult& result() { return result_; }
  uint64_t lines() const { return line_no_; }

 private:
  struct InFlight {
    explicit InFlight(net::any_io_executor ex)
        : wake(std::move(ex), net::steady_timer::time_point::max()) {}
    net::steady_timer wake;  // cancelled when the store is done
    bool done = false;
    Status status = ok_status();
    size_t count = 0;
    bool all_new = false;  // every customer of the batch was created
  };

  // Runs on the request's I/O thread, like the parser, so the shared state needs no lock.
  static awaitable<void> store(Services& s, store::CustomerStore::Prepared batch,
                               std::shared_ptr<InFlight> state) {
    auto stored = co_await s.customers.put_prepared(std::move(batch));
    if (stored.ok()) {
      state->all_new = std::all_of(stored->begin(), stored->end(),
                                   [](const store::PutOutcome& o) { return o.created; });
    } else {
      state->status = std::move(stored).take_error();
    }
    state->done = true;
    state->wake.cancel();
  }

  void reject(const Error& e) {
    result_.set_rejected(result_.rejected() + 1);
    s_.metrics.add("herald_import_lines_total", "result", "rejected");
    if (static_cast<size_t>(result_.errors_size()) >= kMaxReportedErrors) {
      result_.set_errors_truncated(true);
      return;
    }
    auto* err = result_.add_errors();
    err->set_line(static_cast<uint32_t>(line_no_));
    err->set_field(e.field);
    err->set_message(e.message);
  }

  Services& s_;
  uint64_t line_no_;
  std::vector<v1::Customer> batch_;
  std::shared_ptr<InFlight> in_flight_;
  bool all_new_ = true;  // the last batch stored was all new customers
  v1::ImportResult result_;
};

awaitable<http::Response> import_customers(http::Context& ctx, Services& s) {
  auto who = authenticate(ctx, s);
  if (!who.ok()) co_return http::error_response(who.error());
  if (auto ok = require_role(*who, {}, "import customers"); !ok.ok()) {
    co_return http::error_response(ok.error());
  }
  auto type = ctx.header(bhttp::field::content_type);
  if (!type.empty() && type.rfind("application/x-ndjson", 0) != 0 &&
      type.rfind("application/jsonl", 0) != 0 && type.rfind("text/plain", 0) != 0) {
    co_return http::error_response(
        make_error(ErrorCode::kUnsupportedMediaType, "import takes application/x-ndjson"));
  }
  uint64_t first_line = 1;
  if (auto q = ctx.query("firstLine")) {
    auto [end, ec] = std::from_chars(q->data(), q->data() + q->size(), first_line);
    if (ec != std::errc{} || end != q->data() + q->size() || first_line == 0) {
      co_return http::error_response(invalid("firstLine", "firstLine must be a positive number"));
    }
  }
  Importer importer(s, first_line);
  auto failed = [&importer](Error e) {
    e.message += fmt::format(" (after {} customers were stored)", importer.result().accepted());
    return http::error_response(e);
  };
  std::string pending;
  bool skipping = false;  // inside an over-long line, already rejected
  for (;;) {
    auto chunk = co_await ctx.body->next();
    if (!chunk.ok()) {
      auto counted = co_await importer.finish();  // the batch in flight still counts if stored
      co_return failed(counted.ok() ? chunk.error() : counted.error());
    }
    if (!chunk->has_value()) break;
    pending += **chunk;
    size_t start = 0;
    if (skipping) {
      start = pending.find('\n');
      if (start == std::string::npos) {
        pending.clear();
        continue;
      }
      ++start;
      skipping = false;
    }
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      importer.line(std::string_view(pending).substr(start, nl - start));
      if (importer.batch_full()) {
        if (auto ok = co_await importer.flush(); !ok.ok()) co_return failed(ok.error());
      }
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLineBytes) {
      importer.line(pending);
      pending.clear();
      skipping = true;
    }
  }
  if (!pending.empty() && !skipping) importer.line(pending);
  if (auto ok = co_await importer.flush(); !ok.ok()) co_return failed(ok.error());
  if (auto ok = co_await importer.finish(); !ok.ok()) co_return failed(ok.error());
  spdlog::info("import: {} lines, {} accepted, {} rejected", importer.lines(),
               importer.result().accepted(), importer.result().rejected());
  co_return reply(ctx, bhttp::status::ok, importer.result());
}

}  // namespace

void add_import_routes(http::Router& router, Services& s) {
  router.add(
      bhttp::verb::post, "/v1/customers:import",
      [&s](http::Context& ctx) -> awaitable<http::Response> { return import_customers(ctx, s); },
      http::RouteOptions{.streaming = true});
}

}  // namespace herald::api
