// Email throughput: SmtpChannel::send_batch to a local SMTP sink (aiosmtpd), batches of 64
// from several threads, as the dispatcher sends them. Reports messages/s, connections opened,
// and the CPU both sides used, so a sink-bound run shows as such.
//   email_bench [--count 20000] [--threads 2] [--batch 64] [--connections 4] [--url smtp://...]
// Without --url it starts tests/support/smtp_sink.py in --discard mode and stops it after.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "channels/smtp.h"
#include "tests/bench/cpu_time.h"
#include "tests/support/smtp_sink.h"

namespace {

using herald::channels::Outgoing;
using herald::channels::SendResult;
using Clock = std::chrono::steady_clock;

struct Args {
  size_t count = 20000;
  int threads = 2;
  size_t batch = 64;
  int connections = 4;
  std::string url;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--count") a.count = std::stoul(value);
    else if (flag == "--threads") a.threads = std::stoi(value);
    else if (flag == "--batch") a.batch = std::stoul(value);
    else if (flag == "--connections") a.connections = std::stoi(value);
    else if (flag == "--url") a.url = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return a;
}

// A template-sized message (about 1.5 KB of text and HTML), every other one in Spanish.
void fill(size_t n, std::vector<herald::v1::OutboundMessage>& msgs,
          std::vector<herald::v1::MessageContent>& contents) {
  std::string text_en, text_es;
  for (int i = 0; i < 8; ++i) {
    text_en += "We know about a power outage at 12 Elm St. Crews are on the way; stay clear.\n";
    text_es += "Sabemos que hay un corte de luz en Calle Mayor 5. Manténgase lejos del cable.\n";
  }
  msgs.resize(n);
  contents.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const bool es = i % 2 == 1;
    msgs[i].set_id("BENCH-1:1:EMAIL:" + std::to_string(i));
    msgs[i].set_channel(herald::v1::EMAIL);
    msgs[i].set_language(es ? "es" : "en");
    auto& c = contents[i];
    c.set_to("customer" + std::to_string(i) + "@example.net");
    c.set_subject(es ? "Corte de luz en Calle Mayor 5" : "Power outage at 12 Elm St");
    c.set_text(es ? text_es : text_en);
    c.set_html("<html><body><p>" + (es ? text_es : text_en) + "</p></body></html>");
    c.set_unsubscribe_url("https://herald.example/v1/customers/C-" + std::to_string(i) +
                          "/email-unsubscribe?token=hct1.C-" + std::to_string(i) + ".1.abc");
  }
}

// User + system CPU seconds of a process, from /proc; 0 when unreadable.
double process_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::string field;
  for (size_t i = close + 2; i <= stat.size(); ++i) {
    if (i == stat.size() || stat[i] == ' ') {
      fields.push_back(field);
      field.clear();
    } else {
      field += stat[i];
    }
  }
  if (fields.size() < 13) return 0;
  // After the command: state is field 0, utime 11, stime 12 (fields 14 and 15 of proc(5)).
  return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

using herald::bench::self_cpu_s;

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  std::unique_ptr<herald::testing::SmtpSink> sink;
  std::string url = args.url;
  if (url.empty()) {
    if (const std::string why = herald::testing::SmtpSink::unavailable(); !why.empty()) {
      std::printf("== email: skipped: %s\n", why.c_str());
      return 0;
    }
    herald::testing::SmtpSinkOptions discard;
    discard.discard = true;
    discard.lifetime_s = 900;
    sink = std::make_unique<herald::testing::SmtpSink>(discard);
    url = sink->url();
  }

  std::vector<herald::v1::OutboundMessage> msgs;
  std::vector<herald::v1::MessageContent> contents;
  fill(args.count, msgs, contents);

  herald::channels::SmtpOptions options;
  options.url = url;
  options.from = "alerts@metro-power.example";
  options.from_name = "Metro Power Alerts";
  options.connections = args.connections;
  options.unsubscribe_mailto = "unsubscribe@metro-power.example";
  herald::channels::SmtpChannel channel(options);

  std::atomic<size_t> next{0};
  std::atomic<size_t> sent{0}, retried{0}, failed{0};
  const double sink_cpu_before = sink ? process_cpu_s(sink->pid()) : 0;
  const double self_cpu_before = self_cpu_s();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < args.threads; ++t) {
    threads.emplace_back([&] {
      std::vector<Outgoing> batch;
      for (size_t from; (from = next.fetch_add(args.batch)) < msgs.size();) {
        batch.clear();
        for (size_t i = from; i < std::min(from + args.batch, msgs.size()); ++i) {
          batch.push_back(Outgoing{&msgs[i], &contents[i]});
        }
        for (const SendResult& r : channel.send_batch(batch)) {
          if (r.status == SendResult::Status::kSent) ++sent;
          else if (r.status == SendResult::Status::kRetry) ++retried;
          else ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const double self_cpu = self_cpu_s() - self_cpu_before;
  const double sink_cpu = sink ? process_cpu_s(sink->pid()) - sink_cpu_before : 0;

  std::printf("== email: %zu messages, %d threads, batches of %zu, %d connections per thread\n",
              args.count, args.threads, args.batch, args.connections);
  std::printf("sent %zu, retry %zu, failed %zu in %.2f s = %.0f messages/s\n", sent.load(),
              retried.load(), failed.load(), secs, static_cast<double>(sent.load()) / secs);
  std::printf("connections opened: %llu\n",
              static_cast<unsigned long long>(channel.stats().connections_opened));
  std::printf("sender CPU: %.0f us/message (%.0f%% of one core)\n",
              1e6 * self_cpu / static_cast<double>(args.count), 100 * self_cpu / secs);
  if (sink) {
    std::printf("sink CPU: %.0f us/message (%.0f%% of one core; a single-threaded Python "
                "process)\n",
                1e6 * sink_cpu / static_cast<double>(args.count), 100 * sink_cpu / secs);
    const auto stats = sink->stop();
    std::printf("sink counted %ld messages over %ld connections\n", stats.messages,
                stats.connections);
  }
  return failed.load() + retried.load() == 0 ? 0 : 1;
}
