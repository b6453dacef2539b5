#include "service/redis/link.h"

#include <hiredis/hiredis.h>

#include <algorithm>

#include "service/common/metrics.h"
#include "service/redis/resp.h"

namespace herald::redis {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

Link::Link(net::io_context& io, Endpoint endpoint, LinkOptions options, Metrics* metrics)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(options),
      metrics_(metrics),
      resolver_(io),
      socket_(io),
      timer_(io),
      backoff_(options.backoff_min),
      rng_(std::random_device{}()),
      in_(kReadChunk),
      reader_(new_reader(), redisReaderFree) {}

Link::~Link() {
  beast::error_code ec;
  socket_.close(ec);
}

void Link::start() {
  net::post(io_, [self = shared_from_this()] {
    if (self->state_ == State::kIdle && !self->draining_) self->connect();
  });
}

void Link::stop() {
  net::post(io_, [self = shared_from_this()] {
    self->draining_ = true;
    if (self->state_ == State::kReady) {
      self->close_if_drained();
      return;
    }
    ++self->generation_;  // a connect or backoff in progress ends here
    self->state_ = State::kStopped;
    beast::error_code ec;
    self->socket_.close(ec);
    self->resolver_.cancel();
    self->timer_.cancel();
  });
}

void Link::connect() {
  state_ = State::kConnecting;
  const uint64_t gen = generation_;
  auto connected = [self = shared_from_this(), gen](const beast::error_code& ec, auto&&...) {
    if (gen != self->generation_) return;
    if (ec) return self->fail("redis " + self->endpoint_.describe() + ": " + ec.message());
    self->on_connected();
  };
  if (endpoint_.is_unix()) {
    socket_.async_connect(net::local::stream_protocol::endpoint(endpoint_.socket),
                          std::move(connected));
    return;
  }
  resolver_.async_resolve(
      endpoint_.host, std::to_string(endpoint_.port),
      [self = shared_from_this(), gen, connected = std::move(connected)](
          const beast::error_code& ec, tcp::resolver::results_type results) mutable {
        if (gen != self->generation_) return;
        if (ec) return self->fail("redis " + self->endpoint_.describe() + ": " + ec.message());
        std::vector<net::generic::stream_protocol::endpoint> endpoints;
        for (const auto& entry : results) endpoints.emplace_back(entry.endpoint());
        net::async_connect(self->socket_, endpoints, std::move(connected));
      });
}

void Link::on_connected() {
  beast::error_code ec;
  if (!endpoint_.is_unix()) {
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.set_option(net::socket_base::keep_alive(true), ec);
  }
  read_some();
  Batch setup = endpoint_.setup();
  auto ready = [this, self = shared_from_this()] {
    state_ = State::kReady;
    backoff_ = options_.backoff_min;
    if (failed_before_ && metrics_) metrics_->count_redis_reconnect();
    failed_before_ = false;
    close_if_drained();
  };
  if (setup.empty()) return ready();
  push(setup, [this, self = shared_from_this(), ready, setup](BatchResult r) {
    if (!r.ok()) return;  // fail() already reset the link
    for (size_t i = 0; i < r->size(); ++i) {
      // The reply text is Redis's own (e.g. WRONGPASS), never the password we sent.
      if ((*r)[i].is_error()) {
        return fail("redis " + endpoint_.describe() + ": " + setup[i][0] +
                    " failed: " + (*r)[i].str);
      }
    }
    ready();
  });
}

bool Link::try_submit(Batch& batch, std::function<void(BatchResult)>& done) {
  if (state_ != State::kReady || draining_ || batch.empty() ||
      batch.size() > options_.max_batch_commands ||
      in_flight_commands_ + batch.size() > options_.max_in_flight_commands) {
    return false;
  }
  // Redis answers nothing to an empty command; the pool's connections reply with an error.
  if (std::any_of(batch.begin(), batch.end(), [](const Command& c) { return c.empty(); })) {
    return false;
  }
  push(batch, std::move(done));
  return true;
}

void Link::push(Batch& batch, std::function<void(BatchResult)> done) {
  append_resp(out_, batch);  // none is empty (above)
  InFlight f{batch.size(), {}, std::move(done), std::chrono::steady_clock::now()};
  f.replies.reserve(batch.size());
  in_flight_.push_back(std::move(f));
  in_flight_commands_ += batch.size();
  write_some();
  arm_deadline();
}

void Link::write_some() {
  if (write_in_flight_ || out_.empty()) return;
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  net::async_write(
      socket_, net::buffer(writing_),
      [self = shared_from_this(), gen = generation_](const beast::error_code& ec, size_t) {
        if (gen != self->generation_) return;
        self->write_in_flight_ = false;
        if (ec) return self->fail("redis write failed: " + ec.message());
        self->writing_.clear();
        self->write_some();
        self->close_if_drained();  // stopped while this write's replies were being read
      });
}

void Link::read_some() {
  socket_.async_read_some(net::buffer(in_), [self = shared_from_this(), gen = generation_](
                                                const beast::error_code& ec, size_t n) {
    if (gen != self->generation_) return;
    if (ec == net::error::eof) return self->fail("redis closed the connection");
    if (ec) return self->fail("redis read failed: " + ec.message());
    self->on_read(n);
  });
}

void Link::on_read(size_t n) {
  const uint64_t gen = generation_;
  std::vector<InFlight> answered;
  std::string broken;
  if (redisReaderFeed(reader_.get(), in_.data(), n) != REDIS_OK) broken = "redis reply unreadable";
  while (broken.empty()) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
      broken = "redis reply unreadable";
      break;
    }
    if (raw == nullptr) break;
    Reply reply = take_reply(raw);
    if (in_flight_.empty()) {
      broken = "redis sent a reply nobody asked for";
      break;
    }
    InFlight& front = in_flight_.front();
    front.replies.push_back(std::move(reply));
    if (--front.remaining == 0) {
      in_flight_commands_ -= front.replies.size();
      answered.push_back(std::move(front));
      in_flight_.pop_front();
      ++carried_;
    }
  }
  // Completions run after the bookkeeping: one may submit again.
  for (InFlight& f : answered) f.done(std::move(f.replies));
  if (gen != generation_) return;
  if (!broken.empty()) return fail(broken);
  close_if_drained();
  if (state_ != State::kStopped) read_some();
}

void Link::arm_deadline() {
  if (timer_armed_ || in_flight_.empty()) return;
  timer_armed_ = true;
  timer_.expires_at(in_flight_.front().sent + options_.timeout);
  timer_.async_wait([self = shared_from_this(), gen = generation_](const beast::error_code&) {
    if (gen != self->generation_) return;
    self->timer_armed_ = false;
    if (self->in_flight_.empty()) return;
    if (std::chrono::steady_clock::now() >=
        self->in_flight_.front().sent + self->options_.timeout) {
      return self->fail("redis did not answer within " +
                        std::to_string(self->options_.timeout.count()) + " ms");
    }
    self->arm_deadline();
  });
}

void Link::fail(const std::string& why) {
  ++generation_;
  beast::error_code ec;
  socket_.close(ec);
  timer_.cancel();
  timer_armed_ = false;
  write_in_flight_ = false;
  out_.clear();
  writing_.clear();
  reader_.reset(new_reader());
  std::deque<InFlight> lost;
  lost.swap(in_flight_);
  in_flight_commands_ = 0;
  if (metrics_) metrics_->count_redis_error();
  failed_before_ = true;
  state_ = draining_ ? State::kStopped : State::kIdle;
  Error error = unavailable(why);
  for (InFlight& f : lost) f.done(error);
  if (state_ != State::kIdle) return;
  // Equal jitter: half the delay fixed, half random, so links do not reconnect in lockstep.
  const auto half = backoff_.count() / 2;
  std::uniform_int_distribution<long long> jitter(0, std::max<long long>(half, 0));
  timer_.expires_after(std::chrono::milliseconds(backoff_.count() - half + jitter(rng_)));
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  timer_.async_wait([self = shared_from_this(), gen = generation_](const beast::error_code&) {
    if (gen != self->generation_ || self->state_ != State::kIdle || self->draining_) return;
    self->connect();
  });
}

void Link::close_if_drained() {
  if (!draining_ || !in_flight_.empty() || write_in_flight_) return;
  ++generation_;
  state_ = State::kStopped;
  beast::error_code ec;
  socket_.close(ec);
  timer_.cancel();
  timer_armed_ = false;
}

}  // namespace herald::redis
