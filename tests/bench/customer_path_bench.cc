// Per-customer CPU cost of the import path: JSON parse, validation, sealing.
// Run: build/tests/bench/customer_path_bench (scripts/bench.sh runs it too).
#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>

#include "herald/v1/customer.pb.h"
#include "service/api/fast_json.h"
#include "service/api/json.h"
#include "service/core/validate.h"
#include "service/store/codec.h"
#include "tests/bench/sample_customer.h"

namespace {

const char* kLine = herald::bench::kSampleCustomerLine;

herald::v1::Customer parsed() {
  herald::v1::Customer c;
  (void)herald::api::parse_json(kLine, c);
  return c;
}

void BM_ParseJson(benchmark::State& state) {
  for (auto _ : state) {
    herald::v1::Customer c;
    benchmark::DoNotOptimize(herald::api::parse_json(kLine, c).ok());
  }
}
BENCHMARK(BM_ParseJson);

void BM_FastParseJson(benchmark::State& state) {
  for (auto _ : state) {
    herald::v1::Customer c;
    benchmark::DoNotOptimize(herald::api::fast_parse(kLine, c));
  }
}
BENCHMARK(BM_FastParseJson);

// protobuf's own parser: parse_json's fallback and its cost before the fast path.
void BM_ProtobufParseJson(benchmark::State& state) {
  for (auto _ : state) {
    herald::v1::Customer c;
    benchmark::DoNotOptimize(google::protobuf::util::JsonStringToMessage(kLine, &c).ok());
  }
}
BENCHMARK(BM_ProtobufParseJson);

void BM_Validate(benchmark::State& state) {
  const auto base = parsed();
  for (auto _ : state) {
    auto c = base;
    benchmark::DoNotOptimize(herald::core::validate_customer(c, c.id(), "US").ok());
  }
}
BENCHMARK(BM_Validate);

void BM_Encode(benchmark::State& state) {
  const auto c = parsed();
  auto sealer = herald::core::Sealer::from_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::store::encode_customer(c, *sealer, 0));
  }
}
BENCHMARK(BM_Encode);

}  // namespace

BENCHMARK_MAIN();
