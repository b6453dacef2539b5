#!/usr/bin/env bash
# Fan-out benchmark: N customers, one outage covering them all (every ZIP), timed from the
# 202 until the revision's plan cursor is "done" (every message queued with its touchpoint);
# heraldd's peak RSS (VmHWM) and its RSS sampled throughout; then the latency from accepting
# a small EMERGENCY event to its first queued message, alone and while the big fan-out runs
# (with the AOF rewrites, whose forks stall Redis, that began meanwhile), and the round trip of
# a PING to Redis meanwhile.
#   bash scripts/bench_fanout.sh            # 1,000,000 customers
#   bash scripts/bench_fanout.sh --quick    # 20,000 customers, 50 small events (CI smoke)
#   COUNT=100000 bash scripts/bench_fanout.sh   # another size
#   UPDATE=1 bash scripts/bench_fanout.sh   # then also times revision 2 over the same audience
#     (a first ETR), whose batches read the history marks revision 1 wrote
#   PLANNING_ONLY=1 bash scripts/bench_fanout.sh  # heraldd plans without sending
#     (dispatch.enabled false); once the fan-out is planned, a second heraldd sends what was
#     queued, timed on its own
#   QUIET_SHARE=0 bash scripts/bench_fanout.sh  # customers without quiet hours (default 0.6
#     have them): every decision may queue a message whatever the hour, where the default
#     data's held share follows the clock (60 % at night in the US)
#   LANE_STATES=1 bash scripts/bench_fanout.sh  # also samples the planner lanes' states for
#     8 s from a fifth of the audience planned (tests/bench/lane_states.py)
#   HERALD_BENCH_PHASE_HOOK=CMD  # runs "CMD <phase>" as the fan-out starts (planning), once it
#     is planned (planned) and, with PLANNING_ONLY, around the sending (sending, sent)
# Also printed: Redis's and heraldd's CPU per customer planned (from /proc, over the fan-out,
# sending included unless PLANNING_ONLY; Redis's AOF rewrite children apart, counted once
# they end), Redis's busiest commands (INFO commandstats) per customer, and Redis's
# used_memory before the fan-out and once it is planned.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COUNT=${COUNT:-1000000}
SMALL=200
if [ "${1:-}" = "--quick" ]; then COUNT=20000; SMALL=50; fi
WORK=$HERALD_ROOT/.bench/fanout
mkdir -p "$WORK"

bash "$HERALD_ROOT/scripts/setup.sh"
[ -n "${SKIP_BUILD:-}" ] || build_herald

if [ -n "${QUIET_SHARE:-}" ]; then
  DATA=$HERALD_ROOT/.bench/customers-$COUNT-quiet$QUIET_SHARE.ndjson
else
  DATA=$HERALD_ROOT/.bench/customers-$COUNT.ndjson
fi
mkdir -p "$(dirname "$DATA")"
[ -s "$DATA" ] || python3 "$HERALD_ROOT/scripts/gen_customers.py" --count "$COUNT" --seed 11 \
  ${QUIET_SHARE:+--quiet-share "$QUIET_SHARE"} --out "$DATA"
# Customers for the latency events: one premise each, SMS for outages, no quiet hours.
LAT=$WORK/latency.ndjson
python3 - "$LAT" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write('{"id":"C-LAT-%d","name":"Lat Tester","phone":"+12014316859","timeZone":"UTC",'
                '"premises":[{"id":"P-LAT-%d","address":"%d Test Rd","feeder":"F-LAT"}],'
                '"preferences":{"channels":{"OUTAGE":["SMS"]},"cadence":"EVERY_UPDATE"}}\n' % (i, i, i))
PY

rm -rf "$WORK/redis" "$WORK/sandbox" "$WORK/sender" && start_redis "$WORK/redis"
new_keys "$WORK"
if [ -n "${PLANNING_ONLY:-}" ]; then
  echo "== planning only: this heraldd sends nothing (dispatch.enabled false)"
  HERALD_DISPATCH_ENABLED=false start_heraldd "$WORK"
else
  start_heraldd "$WORK"
fi
PID=${HERALD_PIDS[-1]}
RPID=${HERALD_PIDS[0]}
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
phase() { [ -z "${HERALD_BENCH_PHASE_HOOK:-}" ] || $HERALD_BENCH_PHASE_HOOK "$1"; }
"$BUILD_DIR/service/heraldctl" import "$DATA" >"$WORK/import.json"
"$BUILD_DIR/service/heraldctl" import "$LAT" >/dev/null
echo "== customers: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accepted"])' "$WORK/import.json") imported"

# heraldd's own account of the urgent events, herald_planner_first_batch_seconds in /metrics:
# the buckets' growth between two snapshots.
urgent_buckets() { curl -sS "$HERALD_URL/metrics" | grep '^herald_planner_first_batch_seconds_bucket{priority="urgent"' || true; }
report_buckets() {
  python3 - "$1" "$2" <<'PY'
import re, sys
def parse(text):
    return {m[0]: int(m[1]) for m in re.findall(r'le="([^"]+)"\} (\d+)', text)}
before, after = parse(sys.argv[1]), parse(sys.argv[2])
grew = {le: after[le] - before.get(le, 0) for le in after}
total = grew.get("+Inf", 0)
if total:
    shares = ", ".join(f"{100 * grew[le] / total:.0f} % within {float(le) * 1000:g} ms"
                       for le in ("0.005", "0.01", "0.025"))
    print(f"   heraldd's /metrics for the same events: {total} urgent first batches, {shares}")
PY
}

echo "== latency, accept -> first message queued, nothing else running"
steal=$(steal_mark)
b0=$(urgent_buckets)
python3 "$HERALD_ROOT/tests/bench/fanout_latency.py" "$HERALD_URL" "$ADMIN_KEY" "$REDIS_PORT" LAT-A "$SMALL"
b1=$(urgent_buckets)
report_buckets "$b0" "$b1"
report_steal "those events" "$steal"

ZIPS=$(rcli --raw keys 'ix:z:*' | sed -e 's/^ix:z://' -e 's/:[0-9]*$//' | sort -u | python3 -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))')
used_memory() { rcli info memory | tr -d '\r' | awk -F: '/^used_memory:/{print $2}'; }
mem0=$(used_memory)
rcli config resetstat >/dev/null
r0=$(cpu_ticks "$RPID"); h0=$(cpu_ticks "$PID"); c0=$(child_ticks "$RPID")
steal=$(steal_mark)
phase planning
start=$(date +%s.%N)
curl -sS -o /dev/null -w '' -X POST "$HERALD_URL/v1/events" -H "Authorization: Bearer $ADMIN_KEY" \
  -H 'Content-Type: application/json' \
  --data "{\"id\":\"OUT-BENCH\",\"kind\":\"OUTAGE\",\"stage\":\"DETECTED\",\"severity\":\"ADVISORY\",\"cause\":\"storm\",\"area\":{\"zips\":$ZIPS}}"
# Spread over about the fan-out's first 32 µs a customer (32 s of a 1M one, which takes 37-55 s
# on the 2-core machine), not sent back to back: those took under a second, its first.
SPACING_MS=$(python3 -c "print(round($COUNT * 0.032 / $SMALL, 1))")
(python3 "$HERALD_ROOT/tests/bench/fanout_latency.py" "$HERALD_URL" "$ADMIN_KEY" "$REDIS_PORT" LAT-B \
  "$SMALL" "$SPACING_MS" >"$WORK/latency-during.txt"; date +%s.%N >"$WORK/latency-during.end") &
LATPID=$!
# 1,000 PINGs over the same span as the urgent events.
PING_GAP_MS=$(python3 -c "print(round($COUNT * 0.032 / 1000, 1))")
python3 "$HERALD_ROOT/tests/bench/redis_ping.py" "$REDIS_PORT" 1000 "$PING_GAP_MS" \
  >"$WORK/ping-during.txt" &
PINGPID=$!
LANEPID=
if [ -n "${LANE_STATES:-}" ]; then
  python3 "$HERALD_ROOT/tests/bench/lane_states.py" "$PID" 8 "$REDIS_PORT" OUT-BENCH \
    "$(( COUNT / 5 ))" >"$WORK/lane-states.txt" &
  LANEPID=$!
fi
# One Python poller (one connection) instead of a redis-cli per poll; it prints the top RSS.
rss_max=$(python3 "$HERALD_ROOT/tests/bench/await_plan.py" "$REDIS_PORT" 'plan:{OUT-BENCH}:1' "$PID" 3600)
end=$(date +%s.%N)
phase planned
r1=$(cpu_ticks "$RPID"); h1=$(cpu_ticks "$PID"); c1=$(child_ticks "$RPID")
mem1=$(used_memory)
report_steal "the fan-out" "$steal"
rcli info commandstats >"$WORK/commandstats.txt"
wait "$LATPID" "$PINGPID"
echo "== latency, accept -> first message queued, while the big fan-out runs (one every $SPACING_MS ms)"
cat "$WORK/latency-during.txt"
report_buckets "$b1" "$(urgent_buckets)"
fork_usec=$(rcli info stats | tr -d '\r' | awk -F: '/^latest_fork_usec:/{print $2}')
python3 "$HERALD_ROOT/tests/bench/aof_forks.py" "$WORK/redis/redis.log" "$start" "$end" \
  "$(cat "$WORK/latency-during.end")" "$fork_usec"
echo "== Redis PING round trip during the fan-out (1,000, one every $PING_GAP_MS ms and a round trip)"
cat "$WORK/ping-during.txt"
if [ -n "$LANEPID" ]; then
  wait "$LANEPID"
  echo "== planner lanes during 8 s of the fan-out, from a fifth planned (R: runnable)"
  cat "$WORK/lane-states.txt"
fi
hwm=$(awk '/^VmHWM/{print $2}' "/proc/$PID/status")
FUNNEL=$(rcli hgetall 'fn:{OUT-BENCH}' | paste -sd' ')
python3 - "$start" "$end" "$rss_max" "$hwm" "$FUNNEL" "$mem0" "$mem1" <<PY
import sys
s, e, rss, hwm = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
words = sys.argv[5].split()
funnel = {k: int(v) for k, v in zip(words[::2], words[1::2])}
audience = funnel.get("audience", 0)
print(f"== fan-out: {audience} customers planned in {e - s:.1f} s = {audience / (e - s):,.0f} customers/s")
# The work depends on the hour: customers in their quiet hours are held (cheaper than a
# queued message, which is rendered and dispatched), so compare runs by what they queued.
queued = sum(v for k, v in funnel.items() if k.endswith(":queued"))
held = sum(v for k, v in funnel.items() if k.endswith(":held"))
print(f"== messages queued: {queued} ({queued / (e - s):,.0f}/s); held for quiet hours: {held}"
      f" ({100 * held / max(queued + held, 1):.0f} % of those two)")
print(f"== heraldd RSS: max sampled {rss / 1024:.0f} MB, VmHWM {hwm / 1024:.0f} MB")
# Journeys, queued messages, held members and history marks; the sending goes on after this.
mem0, mem1 = int(sys.argv[6]), int(sys.argv[7])
print(f"== Redis used_memory: {mem0 / 2**20:.0f} MB before the fan-out, {mem1 / 2**20:.0f} MB when"
      f" planned ({(mem1 - mem0) / max(audience, 1):,.0f} B more a customer planned)")
hz = 100  # USER_HZ: /proc/<pid>/stat counts ticks of 10 ms
n = max(audience, 1)
sending = "nothing sent meanwhile" if "${PLANNING_ONLY:-}" else "sending runs meanwhile"
print(f"== CPU per customer planned: redis {($r1 - $r0) / hz / n * 1e6:.1f} us, "
      f"heraldd {($h1 - $h0) / hz / n * 1e6:.1f} us ({sending}); Redis's AOF rewrites that "
      f"ended meanwhile {($c1 - $c0) / hz / n * 1e6:.1f} us more")
PY
echo "== redis commands per customer: $(python3 "$HERALD_ROOT/tests/bench/commandstats.py" \
  "$WORK/commandstats.txt" "$(rcli hget 'fn:{OUT-BENCH}' audience)" 6)"
echo "== funnel"
rcli hgetall 'fn:{OUT-BENCH}' | paste - - | sort

if [ -n "${UPDATE:-}" ]; then
  # Revision 2 over the same audience, the storm's first ETR: every batch now reads the history
  # marks revision 1 wrote, and the cadence rules decide from them.
  ETR=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
  FUNNEL1=$(rcli hgetall 'fn:{OUT-BENCH}' | paste -sd' ')
  a1=$(rcli hget 'fn:{OUT-BENCH}' audience)
  rcli config resetstat >/dev/null
  r0=$(cpu_ticks "$RPID"); h0=$(cpu_ticks "$PID")
  start=$(date +%s.%N)
  curl -sS -o /dev/null -X POST "$HERALD_URL/v1/events/OUT-BENCH/updates" \
    -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    --data "{\"stage\":\"UPDATED\",\"estimatedRestoration\":\"$ETR\"}"
  rss_max=$(python3 "$HERALD_ROOT/tests/bench/await_plan.py" "$REDIS_PORT" 'plan:{OUT-BENCH}:2' "$PID" 3600)
  end=$(date +%s.%N)
  r1=$(cpu_ticks "$RPID"); h1=$(cpu_ticks "$PID")
  rcli info commandstats >"$WORK/commandstats-update.txt"
  FUNNEL2=$(rcli hgetall 'fn:{OUT-BENCH}' | paste -sd' ')
  python3 - "$start" "$end" "$rss_max" "$FUNNEL1" "$FUNNEL2" "$((r1 - r0))" "$((h1 - h0))" <<'PY'
import sys
s, e, rss = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
def funnel(text):
    w = text.split()
    return {k: int(v) for k, v in zip(w[::2], w[1::2])}
f1, f2 = funnel(sys.argv[4]), funnel(sys.argv[5])
d = {k: v - f1.get(k, 0) for k, v in f2.items() if v != f1.get(k, 0)}
n = max(d.get("audience", 0), 1)
queued = sum(v for k, v in d.items() if k.endswith(":queued"))
print(f"== revision 2 (a first ETR): {d.get('audience', 0)} customers planned in {e - s:.1f} s = "
      f"{d.get('audience', 0) / (e - s):,.0f} customers/s; {queued} messages queued; "
      f"heraldd RSS at most {rss / 1024:.0f} MB")
print(f"== revision 2, CPU per customer: redis {int(sys.argv[6]) / 100 / n * 1e6:.1f} us, "
      f"heraldd {int(sys.argv[7]) / 100 / n * 1e6:.1f} us")
print("== revision 2, funnel: " + ", ".join(f"{k} {v}" for k, v in sorted(d.items())))
PY
  echo "== revision 2, redis commands per customer: $(python3 "$HERALD_ROOT/tests/bench/commandstats.py" \
    "$WORK/commandstats-update.txt" "$(( $(rcli hget 'fn:{OUT-BENCH}' audience) - a1 ))" 6)"
fi

if [ -n "${PLANNING_ONLY:-}" ]; then
  QUEUED=$(rcli hgetall 'fn:{OUT-BENCH}' | paste - - | awk -F'\t' '$1 ~ /:queued$/ {s += $2} END {print s + 0}')
  # The sender's own directory (its ready file and sandbox). It also sends the latency events'
  # messages, EMERGENCY ones, first: a few hundred.
  mkdir -p "$WORK/sender"
  # Timed from the sender's start: it sends as soon as it runs, before its ready file appears.
  rcli config resetstat >/dev/null
  phase sending
  r0=$(cpu_ticks "$RPID"); t0=$(date +%s.%N)
  HERALD_DISPATCH_ENABLED=true start_heraldd "$WORK/sender"
  SPID=${HERALD_PIDS[-1]}
  python3 "$HERALD_ROOT/tests/bench/await_sent.py" "$REDIS_PORT" OUT-BENCH "$QUEUED" 3600 >/dev/null
  waited=$(python3 -c "print($(date +%s.%N) - $t0)")
  phase sent
  r1=$(cpu_ticks "$RPID"); s1=$(cpu_ticks "$SPID")
  python3 - "$QUEUED" "$waited" "$((r1 - r0))" "$s1" <<'PY'
import sys
queued, waited, redis_ticks, sender_ticks = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = max(queued, 1)
print(f"== sending after planning (a second heraldd): {queued} messages sent (or dropped as overtaken) in {waited:.1f} s = "
      f"{queued / max(waited, 1e-9):,.0f}/s; CPU per message redis {redis_ticks / 100 / n * 1e6:.1f} us, "
      f"heraldd {sender_ticks / 100 / n * 1e6:.1f} us")
PY
  rcli info commandstats >"$WORK/commandstats-send.txt"
  echo "== redis commands per message sent: $(python3 "$HERALD_ROOT/tests/bench/commandstats.py" \
    "$WORK/commandstats-send.txt" "$QUEUED" 8)"
fi
