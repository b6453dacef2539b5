#!/usr/bin/env bash
# Journey and report benchmarks: a journey read for a customer with 1,000 touchpoints among
# other customers' touchpoints (in process and over HTTP with wrk), and the event report of
# an event with 1M customers. Redis memory per touchpoint and per customer is printed too.
#   bash scripts/bench_journey.sh            # 1,000,000-customer event, 100,000 neighbours
#   bash scripts/bench_journey.sh --quick    # 50,000-customer event, 10,000 neighbours
set -euo pipefail
source "$(dirname "$0")/lib.sh"
EVENT_CUSTOMERS=1000000
NEIGHBOURS=100000
WRK_SECONDS=10
if [ "${1:-}" = "--quick" ]; then EVENT_CUSTOMERS=50000; NEIGHBOURS=10000; WRK_SECONDS=3; fi
WORK=$HERALD_ROOT/.bench/journey
mkdir -p "$WORK"

bash "$HERALD_ROOT/scripts/setup.sh"
build_herald journey_bench
BENCH=$BUILD_DIR/tests/bench/journey_bench

rm -rf "$WORK/redis" && start_redis "$WORK/redis"
new_keys "$WORK"
start_heraldd "$WORK"
sleep 0.3
mem() { redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/{print $2}' | tr -d '\r'; }

curl -sS -o /dev/null -X PUT "$HERALD_URL/v1/customers/C-BENCH" -H "Authorization: Bearer $ADMIN_KEY" \
  -H 'Content-Type: application/json' -d '{"name":"Bench Mark","phone":"+12014316859",
  "email":"bench@example.net","timeZone":"UTC","language":"en","premises":[{"id":"P-B",
  "feeder":"F-B"}],"preferences":{"channels":{"OUTAGE":["SMS"]}}}'
NUM=$(redis-cli -p "$REDIS_PORT" get seq:customer | tr -d '\r')

echo "== journey: customer $NUM with 1,000 touchpoints, $NEIGHBOURS other customers around it"
before=$(mem)
"$BENCH" journey "$REDIS_URL" "$NUM" 1000 "$NEIGHBOURS"
after=$(mem)
python3 -c "import sys; b,a,n=map(int,sys.argv[1:]); print(f'== redis: {(a-b)/n:.0f} bytes per touchpoint ({n:,} touchpoints, two copies each, streams per customer included)')" \
  "$before" "$after" $((1000 + NEIGHBOURS * 10))
"$BENCH" read "$REDIS_URL" "$NUM" 300
# One agent reading journeys back to back, then four at once (2 cores: they queue).
for conns in 1 4; do
  echo "== wrk: GET /v1/customers/C-BENCH/journey?limit=1000, 1 thread, $conns connection(s), ${WRK_SECONDS}s"
  wrk -t1 -c"$conns" -d"${WRK_SECONDS}s" --latency -H "Authorization: Bearer $ADMIN_KEY" \
    "$HERALD_URL/v1/customers/C-BENCH/journey?limit=1000" |
    grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
done

echo "== event: EV-BENCH with $EVENT_CUSTOMERS customers"
before=$(mem)
"$BENCH" event "$REDIS_URL" EV-BENCH "$EVENT_CUSTOMERS" 2000000
after=$(mem)
python3 -c "import sys; b,a,n=map(int,sys.argv[1:]); print(f'== redis: {(a-b)/n:.0f} bytes per customer of the event (about 2.1 touchpoints each: journey stream, search copy, counters)')" \
  "$before" "$after" "$EVENT_CUSTOMERS"
"$BENCH" report "$REDIS_URL" EV-BENCH 20 | cut -c1-400
for i in 1 2 3; do
  curl -sS -o /dev/null -w "== HTTP GET /v1/reports/events/EV-BENCH: %{http_code} in %{time_total} s\n" \
    -H "Authorization: Bearer $ADMIN_KEY" "$HERALD_URL/v1/reports/events/EV-BENCH"
done
curl -sS -o /dev/null -w "== HTTP GET /v1/reports/summary: %{http_code} in %{time_total} s\n" \
  -H "Authorization: Bearer $ADMIN_KEY" "$HERALD_URL/v1/reports/summary"
