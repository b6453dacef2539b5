#include "channels/http_engine.h"

// Boost 1.74's Asio headers need <utility> first under C++20.
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <optional>
#include <ctime>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "service/common/thread_name.h"

namespace herald::channels {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::system_clock;

constexpr size_t kMaxBody = 1 << 20;  // a provider's reply is small; more is a fault

struct Transfer {
  HttpRequest request;
  HttpEngine::Callback done;
  HttpReply reply;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};
};

// A socket curl asked us to watch. Handlers hold it by shared_ptr, so one that runs after curl
// closed the socket finds `closed` set instead of a dangling descriptor.
struct SocketState {
  SocketState(net::io_context& io, curl_socket_t fd) : desc(io, fd), fd(fd) {}
  net::posix::stream_descriptor desc;
  curl_socket_t fd;
  int what = 0;
  bool read_pending = false;
  bool write_pending = false;
  bool closed = false;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

// Retry-After is either delay-seconds or an HTTP-date (RFC 9110 10.2.3).
std::chrono::milliseconds parse_retry_after(std::string_view value) {
  value = trim(value);
  if (value.empty()) return std::chrono::milliseconds(0);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = value.size() > 9 ? 999'999'999LL : std::stoll(std::string(value));
    return std::chrono::seconds(seconds);
  }
  std::string date(value);
  time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) return std::chrono::milliseconds(0);
  auto delta = Clock::from_time_t(when) - Clock::now();
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(delta));
}

size_t on_body(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  if (t->reply.body.size() + size * n > kMaxBody) return 0;  // aborts: CURLE_WRITE_ERROR
  t->reply.body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  std::string_view line(data, size * n);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.starts_with("HTTP/")) {
    t->reply.retry_after = std::chrono::milliseconds(0);  // a new response (after 100-continue)
  } else if (line.size() > kRetryAfter.size() &&
             ::strncasecmp(line.data(), kRetryAfter.data(), kRetryAfter.size()) == 0) {
    t->reply.retry_after = parse_retry_after(line.substr(kRetryAfter.size()));
  }
  return size * n;
}

void complete(std::unique_ptr<Transfer> t) {
  if (!t->done) return;
  try {
    t->done(std::move(t->reply));
  } catch (const std::exception& e) {
    spdlog::error("http engine: completion callback threw: {}", e.what());
  }
}

void fail_now(HttpEngine::Callback& done, std::string error) {
  HttpReply reply;
  reply.error = std::move(error);
  if (done) done(std::move(reply));
}

}  // namespace

struct HttpEngine::Impl {
  Impl(const HttpEngineOptions& options, std::string name)
      : opt(options), work(net::make_work_guard(io)), timer(io), multi(curl_multi_init()) {
    if (multi == nullptr) throw std::runtime_error("http engine: curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, opt.max_connections);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, opt.max_connections);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, opt.max_connections);
    thread = std::thread([this, name = std::move(name)] {
      name_this_thread(name);
      try {
        io.run();
      } catch (const std::exception& e) {
        spdlog::critical("http engine thread stopped: {}", e.what());
      }
    });
  }

  ~Impl() {
    if (thread.joinable()) thread.join();
  }

  const HttpEngineOptions opt;  // this thread's share of the caps
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work;
  net::steady_timer timer;
  // curl's timeout, kept apart from the timer: curl moves it on nearly every call, and
  // re-arming an Asio timer each time costs a timerfd_settime. The timer is re-armed only
  // when the deadline moves earlier; when it fires early it waits on for the deadline.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::optional<std::chrono::steady_clock::time_point> armed_for;
  CURLM* multi;
  std::thread thread;

  // Engine thread only.
  std::unordered_map<curl_socket_t, std::shared_ptr<SocketState>> sockets;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active;
  std::vector<CURL*> idle_easy;  // reused handles keep curl's per-handle caches warm

  std::mutex mu;
  std::deque<std::unique_ptr<Transfer>> queue;  // guarded by mu
  bool stopped = false;                         // guarded by mu

  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<size_t> in_flight{0};

  void enqueue(std::unique_ptr<Transfer> t) {
    const char* refused = nullptr;
    {
      std::lock_guard lock(mu);
      if (stopped) {
        refused = "engine stopped";
      } else if (queue.size() >= opt.max_queued) {
        refused = "engine queue full";
      } else {
        queue.push_back(std::move(t));
      }
    }
    // Outside the lock: the callback may submit again.
    if (refused != nullptr) {
      fail_now(t->done, refused);
      return;
    }
    net::post(io, [this] { start_queued(); });
  }

  void start_queued() {
    while (active.size() < opt.max_in_flight) {
      std::unique_ptr<Transfer> t;
      {
        std::lock_guard lock(mu);
        if (queue.empty() || multi == nullptr) return;
        t = std::move(queue.front());
        queue.pop_front();
      }
      begin(std::move(t));
    }
  }

  void begin(std::unique_ptr<Transfer> t) {
    CURL* e = nullptr;
    if (!idle_easy.empty()) {
      e = idle_easy.back();
      idle_easy.pop_back();
      curl_easy_reset(e);
    } else {
      e = curl_easy_init();
    }
    if (e == nullptr) {
      t->reply.error = "curl_easy_init failed";
      complete(std::move(t));
      return;
    }
    t->easy = e;
    const HttpRequest& r = t->request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opt.timeout.count()));
    curl_easy_setopt(e, CURLOPT_USERAGENT, opt.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);  // HTTP/2: wait to multiplex, not a new connection
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    if (r.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    for (const auto& h : r.headers) t->headers = curl_slist_append(t->headers, h.c_str());
    t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (!r.basic_auth.empty()) {
      curl_easy_setopt(e, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(e, CURLOPT_USERPWD, r.basic_auth.c_str());
    }
    if (CURLMcode rc = curl_multi_add_handle(multi, e); rc != CURLM_OK) {
      t->reply.error = curl_multi_strerror(rc);
      release_easy(*t);
      complete(std::move(t));
      return;
    }
    active.emplace(e, std::move(t));
    in_flight.store(active.size(), std::memory_order_relaxed);
  }

  void release_easy(Transfer& t) {
    curl_slist_free_all(t.headers);
    t.headers = nullptr;
    if (idle_easy.size() < opt.max_in_flight) {
      idle_easy.push_back(t.easy);
    } else {
      curl_easy_cleanup(t.easy);
    }
    t.easy = nullptr;
  }

  void check_done() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* e = m->easy_handle;
      CURLcode rc = m->data.result;
      auto it = active.find(e);
      if (it == active.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      active.erase(it);
      curl_multi_remove_handle(multi, e);
      long code = 0;
      long connects = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
      connections_opened.fetch_add(static_cast<uint64_t>(connects), std::memory_order_relaxed);
      if (rc == CURLE_OK) {
        t->reply.status = code;
      } else {
        t->reply.status = 0;
        t->reply.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        t->reply.error = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
      }
      release_easy(*t);
      completed.fetch_add(1, std::memory_order_relaxed);
      in_flight.store(active.size(), std::memory_order_relaxed);
      complete(std::move(t));
    }
    start_queued();
  }

  void socket_action(curl_socket_t fd, int flags) {
    int running = 0;
    curl_multi_socket_action(multi, fd, flags, &running);
    check_done();
  }

  void arm(const std::shared_ptr<SocketState>& s) {
    if ((s->what & CURL_POLL_IN) != 0 && !s->read_pending) {
      s->read_pending = true;
      s->desc.async_wait(net::posix::stream_descriptor::wait_read,
                         [this, s](const boost::system::error_code& ec) {
                           s->read_pending = false;
                           on_ready(s, ec, CURL_CSELECT_IN);
                         });
    }
    if ((s->what & CURL_POLL_OUT) != 0 && !s->write_pending) {
      s->write_pending = true;
      s->desc.async_wait(net::posix::stream_descriptor::wait_write,
                         [this, s](const boost::system::error_code& ec) {
                           s->write_pending = false;
                           on_ready(s, ec, CURL_CSELECT_OUT);
                         });
    }
  }

  void on_ready(const std::shared_ptr<SocketState>& s, const boost::system::error_code& ec,
                int flag) {
    if (s->closed || ec == net::error::operation_aborted) return;
    const int wanted = flag == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    if ((s->what & wanted) == 0) return;  // curl lost interest while the wait was pending
    socket_action(s->fd, ec ? CURL_CSELECT_ERR : flag);
    if (!s->closed) arm(s);
  }

  // Stops watching without closing: the descriptor belongs to curl.
  void forget(curl_socket_t fd) {
    auto it = sockets.find(fd);
    if (it == sockets.end()) return;
    it->second->closed = true;
    it->second->desc.release();
    sockets.erase(it);
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      self->forget(fd);
      return 0;
    }
    auto& s = self->sockets[fd];
    if (!s) {
      try {
        s = std::make_shared<SocketState>(self->io, fd);
      } catch (const std::exception& e) {
        spdlog::error("http engine: cannot watch socket {}: {}", fd, e.what());
        self->sockets.erase(fd);
        return -1;
      }
    }
    s->what = what;
    self->arm(s);
    return 0;
  }

  static int on_close_socket(void* userp, curl_socket_t fd) {
    static_cast<Impl*>(userp)->forget(fd);
    return ::close(fd);
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    if (timeout_ms < 0) {
      self->deadline.reset();  // an armed timer fires, finds no deadline and does nothing
      return 0;
    }
    // Never call back into curl from here: curl is inside a call of its own.
    const auto when = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    self->deadline = when;
    if (!self->armed_for || when < *self->armed_for) self->arm_timer(when);
    return 0;
  }

  void arm_timer(std::chrono::steady_clock::time_point when) {
    armed_for = when;
    timer.expires_at(when);  // cancels a wait for a later time: its handler sees aborted
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec == net::error::operation_aborted) return;
      armed_for.reset();
      if (!deadline || multi == nullptr) return;
      if (*deadline > std::chrono::steady_clock::now()) {
        arm_timer(*deadline);  // curl moved its timeout later meanwhile
        return;
      }
      deadline.reset();
      socket_action(CURL_SOCKET_TIMEOUT, 0);
    });
  }

  void shutdown_on_thread() {
    std::deque<std::unique_ptr<Transfer>> waiting;
    {
      std::lock_guard lock(mu);
      waiting.swap(queue);
    }
    for (auto& t : waiting) {
      t->reply.error = "engine stopped";
      complete(std::move(t));
    }
    auto running = std::move(active);
    active.clear();
    for (auto& [e, t] : running) {
      curl_multi_remove_handle(multi, e);
      release_easy(*t);
      t->reply.error = "engine stopped";
      complete(std::move(t));
    }
    timer.cancel();
    curl_multi_cleanup(multi);  // closes kept-alive connections through on_close_socket
    multi = nullptr;
    for (CURL* e : idle_easy) curl_easy_cleanup(e);
    idle_easy.clear();
    for (auto& [fd, s] : sockets) {
      s->closed = true;
      s->desc.release();
    }
    sockets.clear();
    in_flight.store(0);
    work.reset();
  }
};

HttpEngine::HttpEngine(HttpEngineOptions options) : options_(std::move(options)) {
  const int n = std::max(1, options_.threads);
  HttpEngineOptions lane = options_;
  lane.max_connections = std::max(1L, options_.max_connections / n);
  lane.max_in_flight = std::max<size_t>(1, options_.max_in_flight / n);
  lane.max_queued = std::max<size_t>(1, options_.max_queued / n);
  for (int i = 0; i < n; ++i) {
    lanes_.push_back(std::make_unique<Impl>(
        lane, n == 1 ? std::string("http-engine") : "http-engine-" + std::to_string(i)));
  }
}

HttpEngine::~HttpEngine() { stop(); }

void HttpEngine::stop() {
  for (auto& impl : lanes_) {
    {
      std::lock_guard lock(impl->mu);
      if (impl->stopped) continue;
      impl->stopped = true;
    }
    net::post(impl->io, [lane = impl.get()] { lane->shutdown_on_thread(); });
    if (impl->thread.joinable()) impl->thread.join();
  }
}

void HttpEngine::submit(HttpRequest request, Callback done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  lanes_[next_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()]->enqueue(std::move(t));
}

std::future<HttpReply> HttpEngine::submit(HttpRequest request) {
  auto promise = std::make_shared<std::promise<HttpReply>>();
  auto future = promise->get_future();
  submit(std::move(request), [promise](HttpReply r) { promise->set_value(std::move(r)); });
  return future;
}

std::vector<HttpReply> HttpEngine::perform(std::vector<HttpRequest> requests) {
  std::vector<HttpReply> replies(requests.size());
  std::mutex mu;
  std::condition_variable cv;
  size_t left = requests.size();
  for (size_t i = 0; i < requests.size(); ++i) {
    submit(std::move(requests[i]), [&, i](HttpReply r) {
      replies[i] = std::move(r);
      std::lock_guard lock(mu);
      // Notified under the lock: the waiter cannot return (and destroy these) before we let go.
      if (--left == 0) cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return left == 0; });
  return replies;
}

HttpEngine::Stats HttpEngine::stats() const {
  Stats s;
  for (const auto& impl : lanes_) {
    s.completed += impl->completed.load(std::memory_order_relaxed);
    s.connections_opened += impl->connections_opened.load(std::memory_order_relaxed);
    s.in_flight += impl->in_flight.load(std::memory_order_relaxed);
    std::lock_guard lock(impl->mu);
    s.queued += impl->queue.size();
  }
  return s;
}

bool transient_failure(const HttpReply& reply, SendResult& result) {
  if (reply.status == 0) {
    result.status = SendResult::Status::kRetry;
    result.error_code = reply.timed_out ? "timeout" : "connection";
    result.detail = reply.error;
    return true;
  }
  if (reply.status == 429 || reply.status >= 500) {
    result.status = SendResult::Status::kRetry;
    result.error_code = std::to_string(reply.status);
    result.detail = reply.status == 429 ? "rate limited (HTTP 429)"
                                        : "provider error (HTTP " + std::to_string(reply.status) + ")";
    result.retry_after = reply.retry_after;
    return true;
  }
  return false;
}

}  // namespace herald::channels
