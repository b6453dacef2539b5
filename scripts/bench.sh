#!/usr/bin/env bash
# Herald's benchmarks: per-customer CPU of the import path and of planning, bulk import of N
# customers (throughput, Redis bytes per customer), and GET/PATCH of customers under wrk.
#   bash scripts/bench.sh            # 1,000,000 customers, 30 s of wrk per route
#   bash scripts/bench.sh --quick    # a short smoke (CI): 20,000 customers, 3 s per route
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COUNT=1000000
SECONDS_PER_ROUTE=30
if [ "${1:-}" = "--quick" ]; then COUNT=20000; SECONDS_PER_ROUTE=3; fi
EMAIL_ARGS=()  # --quick for the email, fan-out and journey benchmarks too
if [ "${1:-}" = "--quick" ]; then EMAIL_ARGS=(--quick); fi
WORK=$HERALD_ROOT/.bench
mkdir -p "$WORK"

bash "$HERALD_ROOT/scripts/setup.sh"
build_herald customer_path_bench plan_bench twilio_sink http_engine_bench redis_floor

echo "== per-customer CPU (tests/bench/customer_path_bench)"
"$BUILD_DIR/tests/bench/customer_path_bench" --benchmark_min_time=0.2 2>/dev/null | grep BM_
echo "== heraldd's CPU to plan one customer, without Redis (tests/bench/plan_bench)"
"$BUILD_DIR/tests/bench/plan_bench" --benchmark_min_time=0.2 2>/dev/null | grep BM_

DATA=$WORK/customers-$COUNT.ndjson
[ -s "$DATA" ] || python3 "$HERALD_ROOT/scripts/gen_customers.py" --count "$COUNT" --seed 11 --out "$DATA"

rm -rf "$WORK/redis" && start_redis "$WORK/redis"
new_keys "$WORK"
start_heraldd "$WORK"
REDIS_PID=${HERALD_PIDS[0]} HERALDD_PID=${HERALD_PIDS[1]}
sleep 0.3  # heraldd tunes Redis encodings right after start
mem() { redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/{print $2}' | tr -d '\r'; }
before=$(mem)
start=$(date +%s.%N)
steal=$(steal_mark)
r0=$(cpu_ticks "$REDIS_PID"); h0=$(cpu_ticks "$HERALDD_PID")
"$BUILD_DIR/service/heraldctl" import "$DATA" >"$WORK/import.json"
end=$(date +%s.%N)
r1=$(cpu_ticks "$REDIS_PID"); h1=$(cpu_ticks "$HERALDD_PID")
report_steal "the import" "$steal"
after=$(mem)
python3 - "$WORK/import.json" "$start" "$end" "$before" "$after" "$((r1 - r0))" "$((h1 - h0))" \
  "$(getconf CLK_TCK)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
n = int(r.get("accepted", 0))
print(f"== import: {n} accepted, {r.get('rejected', 0)} rejected in {secs:.1f} s"
      f" = {n / secs:,.0f} customers/s")
b, a = int(sys.argv[4]), int(sys.argv[5])
print(f"== redis used_memory: {b:,} -> {a:,} bytes = {(a - b) / max(n, 1):.0f} bytes/customer")
redis_t, heraldd_t, tck = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
per = lambda t: t / tck / max(n, 1) * 1e6
print(f"== CPU per customer imported: heraldd {per(heraldd_t):.1f} us, redis {per(redis_t):.1f} us")
PY
# The target's rate, 5,000 requests/s offered over 64 connections, then a closed loop (as
# fast as 16 connections go). Each run starts when Redis is not rewriting its AOF (a rewrite's
# child shares the two cores) and says whether a rewrite started during it: the import and
# the closed-loop PATCHes grow the AOF enough to set one off.
for mode in get patch; do
  for shape in "64 5000" "16 0"; do
    set -- $shape
    wait_rewrite
    w0=$(rewrites_started "$WORK/redis")
    echo "== wrk $mode: 2 threads, $1 connections, offered ${2}/s (0: closed loop), ${SECONDS_PER_ROUTE}s"
    BENCH_MODE=$mode BENCH_COUNT=$COUNT BENCH_RATE=$2 BENCH_THREADS=2 wrk -t2 -c"$1" -d"${SECONDS_PER_ROUTE}s" \
      --latency -s "$HERALD_ROOT/tests/bench/wrk_customers.lua" "$HERALD_URL" |
      grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
    echo "   AOF rewrites started during it: $(( $(rewrites_started "$WORK/redis") - w0 ))"
  done
done

SKIP_BUILD=1 bash "$HERALD_ROOT/scripts/bench_api.sh" "${EMAIL_ARGS[@]}"
bash "$HERALD_ROOT/scripts/bench_scripts.sh" "${EMAIL_ARGS[@]}"
bash "$HERALD_ROOT/scripts/bench_email.sh" "${EMAIL_ARGS[@]}"
SKIP_BUILD=1 bash "$HERALD_ROOT/scripts/bench_fanout.sh" "${EMAIL_ARGS[@]}"
if [ ${#EMAIL_ARGS[@]} -gt 0 ]; then  # --quick ($1 is reused by the wrk loop above)
  SKIP_BUILD=1 COUNT=2000 bash "$HERALD_ROOT/scripts/bench_redis_work.sh"
  SKIP_BUILD=1 COUNT=20000 bash "$HERALD_ROOT/scripts/bench_redis_floor.sh"
else
  SKIP_BUILD=1 bash "$HERALD_ROOT/scripts/bench_redis_work.sh"
  SKIP_BUILD=1 bash "$HERALD_ROOT/scripts/bench_redis_floor.sh"
fi
SKIP_BUILD=1 bash "$HERALD_ROOT/scripts/bench_journey.sh" "${EMAIL_ARGS[@]}"
SKIP_BUILD=1 bash "$HERALD_ROOT/scripts/bench_sms.sh" "${EMAIL_ARGS[@]}"
