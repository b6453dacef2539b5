// The least Redis work a fan-out can ask for with Herald's data layout, and what Redis's CPU
// makes of it: no heraldd, no decisions, no templates, only the commands a planned customer
// needs, pipelined the way the planner sends them. It loads N customer records, then "plans"
// them in batches and reports Redis's CPU per customer (from INFO, Redis's own threads; AOF
// rewrite children are not started). Redis is single-threaded, so 1 / (its CPU per customer)
// is the fastest fan-out this machine's Redis could serve, whatever heraldd does.
// Run by scripts/bench_redis_floor.sh (which starts redis-server); directly:
//   build/tests/bench/redis_floor --port 6379 --customers 1000000 [--shape K] [--order random]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "service/redis/connection.h"
#include "service/redis/endpoint.h"
#include "service/store/redis_settings.h"

namespace {

struct Options {
  int port = 6379;
  long customers = 1000000;
  int batch = 400;  // the planner's audience batch (fanout.planner_batch)
  int chunk = 100;  // recipients per MULTI/EXEC (fanout.planner_chunk)
  int shape = 0;    // run only this shape (1 = full, ...), 0 for all
  // The audience's order, as Herald reads the benchmark's data: ZIP by ZIP, index slice by
  // slice (runs of 1,024 numbers, 16 slices), ascending, with a ZIP's customers in runs of 3
  // to 8 consecutive numbers. That matches what the reader gives for the benchmark's 200,000
  // customers: runs of 5.6 numbers on average, 33 record buckets a batch of 200, 12 journey
  // buckets a chunk of 50 (here 5.6, 36 and 12; measured when those were the planner's
  // sizes). A batch so touches record, history and
  // journey buckets here and there, as in Herald.
  int zips = 60;
  std::string order = "zips";  // or "numbers" (ascending), "random"
};

// What one planned customer costs, in the parts Herald's layout gives it. Sizes are those of
// the 1M benchmark's data (scripts/bench_redis_floor.sh prints where they come from).
struct Shape {
  const char* name;
  bool record = true;   // HGET of the customer's record in its bucket of 64
  bool done = true;     // the customer's done bit (BITFIELD SET), a chunk's in one command
  bool history = true;  // the history mark (HSET, one a bucket of 32 customers)
  bool journey = true;  // the decision touchpoint: one XADD per journey bucket (16 customers)
                        // a chunk touches, each customer's group in it
  bool search = true;   // its search copy, 100 to an entry of the event's stream
  bool message = true;  // the rendered message, 16 to a dispatch entry
  bool funnel = true;   // funnel HINCRBY per chunk and channel, ZADD GT of the touched index
  bool multi = true;    // each chunk one MULTI/EXEC
};

constexpr size_t kRecordBytes = 230;
constexpr size_t kTouchpointBytes = 48;
// Messages of the benchmark's mix, sealed: SMS, email (text and HTML, LZ4-compressed before the
// seal), voice script. Sizes from a fan-out's AOF (COUNT=100000 PLANNING_ONLY=1 bash
// scripts/bench_fanout.sh, 2026-12-06 12:52 UTC): 274, 1,226 and 490 bytes a message with its
// field name and framing, where an email took 2,226 before compression. SMS and voice keep the
// sizes measured earlier, within 5 % of those.
struct Channel {
  const char* stream;
  size_t bytes;
  int per_100;  // messages per 100 customers
};
constexpr Channel kChannels[] = {
    {"dq:sms:3", 260, 51}, {"dq:email:3", 1220, 36}, {"dq:voice:3", 470, 13}};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "redis_floor: %s\n", what.c_str());
  std::exit(1);
}

// Commands gathered, then sent as one pipeline through heraldd's own client; any error ends
// the run.
class Pipe {
 public:
  explicit Pipe(herald::redis::Connection& c) : c_(c) {}
  void add(herald::redis::Command cmd) { batch_.push_back(std::move(cmd)); }
  void drain() {
    if (batch_.empty()) return;
    auto got = c_.pipeline(batch_);
    if (!got.ok()) die(got.error().message);
    for (const auto& r : *got) {
      if (r.is_error()) die("redis: " + r.str);
    }
    batch_.clear();
  }

 private:
  herald::redis::Connection& c_;
  herald::redis::Batch batch_;
};

struct Cpu {
  double user = 0, sys = 0;
  Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys}; }
};

Cpu redis_cpu(herald::redis::Connection& c) {
  auto reply = c.command({"INFO", "cpu"});
  if (!reply.ok() || reply->type != herald::redis::Reply::Type::kString) die("INFO cpu");
  const std::string_view info(reply->str);
  auto field = [&](std::string_view name) {
    const size_t at = info.find(name);
    if (at == std::string_view::npos) die("INFO cpu lacks " + std::string(name));
    return std::strtod(info.data() + at + name.size(), nullptr);
  };
  return {field("used_cpu_user:"), field("used_cpu_sys:")};
}

std::string bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng());
  return s;
}

std::string hex(long v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%lx", v);
  return buf;
}

void load(herald::redis::Connection& c, const Options& o) {
  std::mt19937_64 rng(7);
  Pipe pipe(c);
  for (long b = 0; b * 64 < o.customers; ++b) {
    std::vector<std::string> args{"HSET", "c:{" + hex(b) + "}"};
    for (long n = b * 64; n < std::min(o.customers, b * 64 + 64); ++n) {
      args.push_back(std::to_string(n));
      args.push_back(bytes(rng, kRecordBytes));
    }
    pipe.add(args);
    if (b % 64 == 63) pipe.drain();
  }
  pipe.drain();
}

// Customers [0, customers) in the order Herald's audience reader gives them (Options::zips),
// in number order, or shuffled.
std::vector<long> audience(const Options& o) {
  std::mt19937_64 rng(3);
  if (o.order != "zips") {
    std::vector<long> order(static_cast<size_t>(o.customers));
    for (long n = 0; n < o.customers; ++n) order[static_cast<size_t>(n)] = n;
    if (o.order == "random")
      std::shuffle(order.begin(), order.end(), rng);
    else if (o.order != "numbers")
      die("unknown --order " + o.order);
    return order;
  }
  std::vector<std::pair<uint64_t, long>> keyed;  // (zip, slice, number) packed, number
  keyed.reserve(o.customers);
  for (long n = 0; n < o.customers;) {
    const long block = 3 + static_cast<long>(rng() % 6);
    const uint64_t zip = rng() % static_cast<uint64_t>(o.zips);
    for (long end = std::min(o.customers, n + block); n < end; ++n) {
      const uint64_t slice = static_cast<uint64_t>(n) / 1024 % 16;
      keyed.emplace_back(zip << 40 | slice << 32 | static_cast<uint64_t>(n), n);
    }
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<long> order;
  order.reserve(keyed.size());
  for (const auto& k : keyed) order.push_back(k.second);
  return order;
}

// Plans the audience as event `event`; returns Redis's CPU it took.
Cpu plan(herald::redis::Connection& c, const Options& o, const std::vector<long>& order,
         const Shape& s, const std::string& event, double* wall_s) {
  std::mt19937_64 rng(11);
  const std::string tp = bytes(rng, kTouchpointBytes);
  std::vector<std::string> message;
  for (const auto& ch : kChannels) message.push_back(bytes(rng, ch.bytes));
  Pipe pipe(c);
  const Cpu cpu0 = redis_cpu(c);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<std::string>> entry(3);
  std::vector<std::string> search;
  for (long from = 0; from < o.customers; from += o.batch) {
    const long to = std::min(o.customers, from + o.batch);
    if (s.record) {
      for (long i = from; i < to; ++i)
        pipe.add({"HGET", "c:{" + hex(order[i] / 64) + "}", std::to_string(order[i])});
      pipe.drain();
    }
    for (long cfrom = from; cfrom < to; cfrom += o.chunk) {
      const long cto = std::min(to, cfrom + o.chunk);
      if (s.multi) pipe.add({"MULTI"});
      if (s.done) {
        std::vector<std::string> bits{"BITFIELD", "seen:{" + event + "}:1:done"};
        for (long i = cfrom; i < cto; ++i) {
          bits.insert(bits.end(), {"SET", "u1", std::to_string(order[i]), "1"});
        }
        pipe.add(bits);
      }
      if (s.history) {
        // One HSET per history bucket the chunk touches.
        std::map<long, std::vector<std::string>> hist;
        for (long i = cfrom; i < cto; ++i) {
          auto& h = hist[order[i] / 32];
          if (h.empty()) h = {"HSET", "hist:{" + event + "}:" + hex(order[i] / 32)};
          h.push_back(std::to_string(order[i]) + ":1");
          h.push_back("1|1|2|0|0|0");
        }
        for (const auto& [bucket, h] : hist) pipe.add(h);
      }
      if (s.journey) {
        std::map<long, std::vector<std::string>> groups;  // bucket -> its customers' groups
        for (long i = cfrom; i < cto; ++i) {
          auto& g = groups[order[i] / 16];
          g.insert(g.end(), {"n", std::to_string(order[i]), "t", tp});
        }
        for (auto& [bucket, g] : groups) {
          std::vector<std::string> add{"XADD", "tjb:{" + hex(bucket) + "}", "*"};
          if (g.size() > 4) add.insert(add.end(), {"g", std::to_string(g.size() / 4)});
          add.insert(add.end(), g.begin(), g.end());
          pipe.add(add);
        }
      }
      for (long i = cfrom; i < cto; ++i) {
        const long n = order[i];
        if (s.search) {
          search.insert(search.end(), {"n", std::to_string(n), "t", tp});
          if (search.size() >= 400) {
            search.insert(search.begin(), {"XADD", "te:{" + event + "}", "*"});
            pipe.add(search);
            search.clear();
          }
        }
        if (s.message) {
          for (int k = 0; k < 3; ++k) {
            // Bresenham: channel k gets per_100 messages of every 100 customers.
            if ((i + 1) * kChannels[k].per_100 / 100 == i * kChannels[k].per_100 / 100) continue;
            entry[k].insert(entry[k].end(), {"m", message[k]});
            if (entry[k].size() >= 32) {
              entry[k].insert(entry[k].begin(), {"XADD", kChannels[k].stream, "*"});
              pipe.add(entry[k]);
              entry[k].clear();
            }
          }
        }
      }
      if (s.funnel) {
        for (const auto& ch : kChannels)
          pipe.add({"HINCRBY", "fn:{" + event + "}", std::string(ch.stream) + ":queued", "17"});
        pipe.add({"ZADD", "tpev", "GT", std::to_string(from), event});
      }
      if (s.multi) pipe.add({"EXEC"});
    }
    pipe.drain();
  }
  *wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return redis_cpu(c) - cpu0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--port")
      o.port = std::atoi(argv[i + 1]);
    else if (flag == "--customers")
      o.customers = std::atol(argv[i + 1]);
    else if (flag == "--batch")
      o.batch = std::atoi(argv[i + 1]);
    else if (flag == "--chunk")
      o.chunk = std::atoi(argv[i + 1]);
    else if (flag == "--shape")
      o.shape = std::atoi(argv[i + 1]);
    else if (flag == "--zips")
      o.zips = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--order")
      o.order = argv[i + 1];
    else
      die("unknown flag " + std::string(flag));
  }
  auto endpoint =
      herald::redis::Endpoint::parse("redis://127.0.0.1:" + std::to_string(o.port) + "/0");
  if (!endpoint.ok()) die(endpoint.error().message);
  auto conn = herald::redis::Connection::connect(*endpoint, std::chrono::seconds(60));
  if (!conn.ok()) die(conn.error().message);
  herald::redis::Connection& c = *conn;
  // The encodings heraldd asks Redis for at start-up (record buckets stay listpacks, ...).
  Pipe settings(c);
  settings.add(herald::store::config_set_command());
  settings.drain();
  load(c, o);
  std::printf("%ld customer records loaded\n", o.customers);
  // From the full layout down to the bare minimum, each on its own event's keys.
  const Shape shapes[] = {
      {.name = "full: record, done bit, history, journey, search copy, message, funnel"},
      {.name = "without the journey entry", .journey = false},
      {.name = "without journey and search copy", .journey = false, .search = false},
      {.name = "bare: record, done bit, message",
       .history = false,
       .journey = false,
       .search = false,
       .funnel = false,
       .multi = false},
  };
  const std::vector<long> order = audience(o);
  int e = 0;
  for (const Shape& s : shapes) {
    if (o.shape != 0 && o.shape != e + 1) {
      ++e;
      continue;
    }
    double wall = 0;
    const Cpu cpu = plan(c, o, order, s, "FLOOR-" + std::to_string(++e), &wall);
    const double per = 1e6 / static_cast<double>(o.customers);
    const double us = (cpu.user + cpu.sys) * per;
    std::printf(
        "%s\n  redis %.2f us a customer (user %.2f, system %.2f): at most %.0f customers/s; "
        "this run %.0f/s\n",
        s.name, us, cpu.user * per, cpu.sys * per, 1e6 / us,
        static_cast<double>(o.customers) / wall);
    std::fflush(stdout);
    // The next shape starts from the same memory: the queued messages go (not counted).
    Pipe pipe(c);
    for (const auto& ch : kChannels) pipe.add({"DEL", ch.stream});
    pipe.drain();
  }
  return 0;
}
