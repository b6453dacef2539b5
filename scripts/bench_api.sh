#!/usr/bin/env bash
# GET and PATCH of customers under wrk, with what each request costs heraldd and Redis:
# imports COUNT synthetic customers, then for each route runs wrk paced (32 connections,
# each pausing 5 ms: about 5,000 requests/s offered) and closed loop (16 connections), and
# prints throughput, p50/p99, CPU per request of heraldd and of Redis (/proc/<pid>/stat) and
# heraldd's context switches per request (/proc/<pid>/task/*/status), Redis's three costliest
# commands per request (INFO commandstats; a script's time includes the commands it runs) and
# the CPU steal during the run.
#   bash scripts/bench_api.sh                         # 200,000 customers, 10 s per run
#   COUNT=1000000 SECONDS_PER_RUN=30 bash scripts/bench_api.sh
#   bash scripts/bench_api.sh --quick                 # a short smoke (CI): 5,000 customers, 2 s
# To compare two builds run it with BUILD_DIR=<build> (and HERALD_CONFIG=<yaml> for a build
# that predates a setting of the example config), alternating, within minutes: this
# machine's speed drifts by tens of percent over an hour.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COUNT=${COUNT:-200000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
if [ "${1:-}" = "--quick" ]; then COUNT=5000; SECONDS_PER_RUN=2; fi
WORK=$HERALD_ROOT/.bench
mkdir -p "$WORK"

bash "$HERALD_ROOT/scripts/setup.sh"
[ -n "${SKIP_BUILD:-}" ] || build_herald
DATA=$WORK/customers-$COUNT.ndjson
[ -s "$DATA" ] || python3 "$HERALD_ROOT/scripts/gen_customers.py" --count "$COUNT" --seed 11 --out "$DATA"

rm -rf "$WORK/redis" && start_redis "$WORK/redis"
REDIS_PID=${HERALD_PIDS[-1]}
new_keys "$WORK"
start_heraldd "$WORK"
HERALDD_PID=${HERALD_PIDS[-1]}
sleep 0.3  # heraldd tunes Redis encodings right after start
"$BUILD_DIR/service/heraldctl" import "$DATA" >"$WORK/import.json"
wait_rewrite  # one the import set off

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, 1/100 s
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/{s += $2} END {print s}'; }

for mode in get patch; do
  # 64 connections offered 5,000 requests/s (the target), then 16 in a closed loop.
  for shape in "64 5000" "16 0"; do
    set -- $shape
    h0=$(ticks "$HERALDD_PID"); r0=$(ticks "$REDIS_PID"); s0=$(switches "$HERALDD_PID")
    w0=$(rewrites_started "$WORK/redis")
    steal=$(steal_mark)
    redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
    out=$(BENCH_MODE=$mode BENCH_COUNT=$COUNT BENCH_RATE=$2 BENCH_THREADS=2 wrk -t2 -c"$1" \
      -d"${SECONDS_PER_RUN}s" --latency -s "$HERALD_ROOT/tests/bench/wrk_customers.lua" "$HERALD_URL")
    h1=$(ticks "$HERALDD_PID"); r1=$(ticks "$REDIS_PID"); s1=$(switches "$HERALDD_PID")
    redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' >"$WORK/commandstats.txt"
    w1=$(rewrites_started "$WORK/redis")
    python3 - "$mode" "$1" "$2" "$h1" "$h0" "$r1" "$r0" "$s1" "$s0" "$SECONDS_PER_RUN" <<PY
import re, sys
mode, conns, rate, h1, h0, r1, r0, s1, s0, secs = sys.argv[1:]
out = """$out"""
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
n = rps * float(secs)
offered = f"offered {int(rate):,}/s" if int(rate) else "closed loop"
print(f"== {mode} {conns} connections, {offered}: {rps:,.0f}/s p50 {lat['50']} p99 {lat['99']};"
      f" per request heraldd {(int(h1) - int(h0)) * 1e4 / n:.0f} us, redis"
      f" {(int(r1) - int(r0)) * 1e4 / n:.0f} us, {(int(s1) - int(s0)) / n:.2f} context switches")
for line in out.splitlines():
    if "Non-2xx" in line or "Socket errors" in line:
        print("   " + line.strip())
PY
    requests=$(awk -v s="$SECONDS_PER_RUN" '/Requests\/sec/{print $2 * s}' <<<"$out")
    echo "   redis per request: $(python3 "$HERALD_ROOT/tests/bench/commandstats.py" \
      "$WORK/commandstats.txt" "$requests" 3)"
    [ "$w1" = "$w0" ] || echo "   (Redis rewrote its AOF during this run)"
    report_steal "this run" "$steal"
  done
done
