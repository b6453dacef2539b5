// The HTTP engine alone (channels/http_engine.*): N Twilio-shaped SMS POSTs (form body, Basic
// auth, a StatusCallback each), 64 at a time as the dispatcher sends them, to a Twilio-format
// sink (tests/bench/twilio_sink), with the CPU time this process spent per request. It shows
// how much of heraldd's cost per SMS is libcurl, the kernel and the engine.
//
//   http_engine_bench URL USER:PASSWORD [COUNT=30000] [THREADS=1]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "channels/form.h"
#include "channels/http_engine.h"
#include "tests/bench/cpu_time.h"

int main(int argc, char** argv) {
  using namespace herald::channels;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s URL USER:PASSWORD [COUNT] [THREADS]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const std::string auth = argv[2];
  const int count = argc > 3 ? std::atoi(argv[3]) : 30000;
  HttpEngineOptions options;
  options.max_connections = 32;  // twilio.max_connections and max_in_flight defaults
  options.max_in_flight = 64;
  options.threads = argc > 4 ? std::atoi(argv[4]) : 1;
  HttpEngine engine(options);
  auto request = [&](int i) {
    HttpRequest r;
    r.url = url;
    r.basic_auth = auth;
    r.headers.emplace_back("Content-Type: application/x-www-form-urlencoded");
    r.headers.emplace_back("Accept: application/json");
    r.body = form_encode(
        {{"To", "+1212555" + std::to_string(1000 + i % 9000)},
         {"From", "+15550001111"},
         {"Body", "Power outage at 12 Elm St: we expect power back by 6:30 PM. Reply STOP to opt out."},
         {"StatusCallback",
          "http://127.0.0.1:8080/v1/webhooks/twilio/status?m=OUT-1.1.sms." + std::to_string(i)}});
    return r;
  };
  const double cpu0 = herald::bench::self_cpu_s();
  const auto t0 = std::chrono::steady_clock::now();
  int accepted = 0;
  for (int done = 0; done < count; done += 64) {
    std::vector<HttpRequest> batch;
    for (int i = done; i < std::min(count, done + 64); ++i) batch.push_back(request(i));
    for (const HttpReply& r : engine.perform(std::move(batch))) accepted += r.status == 201;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = herald::bench::self_cpu_s() - cpu0;
  std::printf("%d requests, %d accepted in %.2f s = %.0f/s; CPU %.1f us per request; %llu connections\n",
              count, accepted, secs, count / secs, cpu * 1e6 / count,
              static_cast<unsigned long long>(engine.stats().connections_opened));
  return accepted == count ? 0 : 1;
}
