#!/usr/bin/env bash
# SMS, full path: N customers whose OUTAGE channel is SMS only (EVERY_UPDATE, no quiet hours,
# on a few feeders), one outage over those feeders, every message sent through the Twilio
# channel to a local Twilio-format sink (tests/bench/twilio_sink) with rate limits off. Timed
# from the event's POST (answered 202) until the funnel fn:{OUT-SMS-BENCH} has sms:sent +
# sms:failed = sms:queued and plan:{OUT-SMS-BENCH}:1 is "done". The sink's own ceiling is
# measured first with wrk (tests/bench/wrk_twilio.lua), and the sink's count must equal
# sms:sent, each message once. Between the two, tests/bench/http_engine_bench sends up to
# 30,000 of the same requests through the HTTP engine alone, for its CPU per request. At the
# end it sets the 22,000/s budget (90.9 µs of CPU per message on 2 cores) against the sink's
# CPU per request at its ceiling, the engine's and this run's Redis CPU per message.
#   bash scripts/bench_sms.sh            # 1,000,000 customers
#   bash scripts/bench_sms.sh --quick    # 20,000 customers
# Knobs (environment): SMS_CONNECTIONS (twilio.max_connections, default 32), SMS_IN_FLIGHT
# (twilio.max_in_flight, default 64), SMS_BATCH (dispatch.batch, default 64), SMS_THREADS
# (dispatch.threads_per_channel, default 1), COUNT (customers, default 1,000,000; --quick sets
# 20,000), SKIP_BUILD=1, BUILD_DIR.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COUNT=${COUNT:-1000000}
WRK_SECONDS=5
DEADLINE_S=900  # the whole send must finish within this, or the run fails
if [ "${1:-}" = "--quick" ]; then COUNT=20000; WRK_SECONDS=3; DEADLINE_S=180; fi
FEEDERS=8
EVENT=OUT-SMS-BENCH
WORK=$HERALD_ROOT/.bench/sms
mkdir -p "$WORK"

bash "$HERALD_ROOT/scripts/setup.sh"
[ -n "${SKIP_BUILD:-}" ] || build_herald twilio_sink http_engine_bench
SINK_BIN=$BUILD_DIR/tests/bench/twilio_sink
[ -x "$SINK_BIN" ] || { echo "no $SINK_BIN: build the twilio_sink target" >&2; exit 1; }

# Customers: SMS only for outages, EVERY_UPDATE, no quiet hours or daily cap, a third in
# Spanish, distinct valid US mobile-style numbers, spread over FEEDERS feeders. Cached by count.
DATA=$HERALD_ROOT/.bench/sms-customers-$COUNT.ndjson
if [ ! -s "$DATA" ]; then
  python3 - "$DATA.tmp" "$COUNT" "$FEEDERS" <<'PY'
import random, sys
out, count, feeders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
areas = ("212", "646", "718", "347", "917", "201", "973", "914")
exchanges = [x for x in range(200, 1000) if x % 100 != 11 and x != 555]
first = ("Ada Grace Alan Maria Jose Lucia Juan Ana Linus Edsger Barbara Radia Ken Frances").split()
last = ("Lovelace Hopper Turing Garcia Flores Rivera Torres Liskov Perlman Thompson Allen").split()
streets = ("Elm St", "Oak Ave", "Maple Pl", "Bleecker St", "Hudson St", "Calle Sol", "Cedar Rd")
with open(out, "w", encoding="utf-8") as f:
    for n in range(1, count + 1):
        # n -> (area, exchange, line) is one-to-one for up to 8 * 796 * 10,000 customers.
        k = n - 1
        area, k = areas[k % len(areas)], k // len(areas)
        exchange, line = exchanges[k % len(exchanges)], k // len(exchanges)
        feeder = "F-SMS-%d" % (n % feeders + 1)
        lang = "es" if n % 3 == 0 else "en"
        f.write('{"id":"C-S%07d","name":"%s %s","phone":"+1%s%03d%04d","language":"%s",'
                '"timeZone":"America/New_York","premises":[{"id":"P-S%07d","address":"%d %s",'
                '"feeder":"%s","zip":"10001"}],"preferences":{"channels":{"OUTAGE":["SMS"]},'
                '"cadence":"EVERY_UPDATE"}}\n'
                % (n, rng.choice(first), rng.choice(last), area, exchange, line, lang, n,
                   rng.randint(1, 999), rng.choice(streets), feeder))
PY
  mv "$DATA.tmp" "$DATA"
fi

rm -rf "$WORK/redis" "$WORK/sandbox" "$WORK/sink.port" && start_redis "$WORK/redis"
REDIS_PID=${HERALD_PIDS[-1]}

# The sink: Twilio's wire format, counts what it accepts, exits by itself after its lifetime.
SID=AC$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$SINK_BIN" --ready-file "$WORK/sink.port" --lifetime $((DEADLINE_S + 1800)) --threads 2 \
  --account-sid "$SID" --auth-token "$TOKEN" >/dev/null 2>"$WORK/sink.log" &
SINK_PID=$!
HERALD_PIDS+=("$SINK_PID")
for _ in $(seq 1 100); do [ -s "$WORK/sink.port" ] && break; sleep 0.1; done
[ -s "$WORK/sink.port" ] || { echo "twilio_sink did not start; see $WORK/sink.log" >&2; exit 1; }
SINK_URL="http://127.0.0.1:$(cat "$WORK/sink.port")"

echo "== sink ceiling: wrk, 2 threads, 32 connections, ${WRK_SECONDS}s"
sink0=$(cpu_ticks "$SINK_PID")
SINK_ACCOUNT_SID=$SID SINK_AUTH_TOKEN=$TOKEN timeout $((WRK_SECONDS + 30)) \
  wrk -t2 -c32 -d"${WRK_SECONDS}s" --latency -s "$HERALD_ROOT/tests/bench/wrk_twilio.lua" \
  "$SINK_URL" | tee "$WORK/wrk.txt"
sink1=$(cpu_ticks "$SINK_PID")
CEILING=$(awk '/^Requests\/sec:/{print $2}' "$WORK/wrk.txt")
# The sink's own CPU per request at its ceiling (clock ticks of 10 ms over wrk's requests).
SINK_US=$(awk -v t=$((sink1 - sink0)) '/requests in/{printf "%.1f", t * 10000 / $1}' "$WORK/wrk.txt")
echo "   sink CPU per request at its ceiling: $SINK_US µs"
if grep -q "Non-2xx" "$WORK/wrk.txt"; then echo "FAIL: the sink refused wrk's requests" >&2; exit 1; fi
curl -sS -X POST "$SINK_URL/reset" >"$WORK/sink-wrk-count.json"
# The HTTP engine alone (libcurl on Asio, as heraldd's Twilio channel uses it): its CPU per
# request is the floor of heraldd's cost per SMS, before Redis, rendering and settling.
ENGINE_COUNT=$((COUNT < 30000 ? COUNT : 30000))
echo "== HTTP engine alone: $ENGINE_COUNT Twilio-shaped POSTs to the sink, 64 at a time (tests/bench/http_engine_bench)"
"$BUILD_DIR/tests/bench/http_engine_bench" \
  "$SINK_URL/2010-04-01/Accounts/$SID/Messages.json" "$SID:$TOKEN" "$ENGINE_COUNT" |
  tee "$WORK/engine.txt"
ENGINE_US=$(sed -n 's/.*CPU \([0-9.]*\) us per request.*/\1/p' "$WORK/engine.txt")
curl -sS -X POST "$SINK_URL/reset" >/dev/null

new_keys "$WORK"
export HERALD_SMS_PROVIDER=twilio HERALD_TWILIO_BASE_URL=$SINK_URL HERALD_TWILIO_ACCOUNT_SID=$SID \
  HERALD_TWILIO_AUTH_TOKEN=$TOKEN HERALD_TWILIO_SMS_FROM=+15550001111 \
  HERALD_PUBLIC_URL=http://127.0.0.1:8080 HERALD_DISPATCH_SMS_RATE_PER_S=0 \
  HERALD_TWILIO_MAX_CONNECTIONS=${SMS_CONNECTIONS:-32} HERALD_TWILIO_MAX_IN_FLIGHT=${SMS_IN_FLIGHT:-64} \
  HERALD_DISPATCH_BATCH=${SMS_BATCH:-64} HERALD_DISPATCH_THREADS_PER_CHANNEL=${SMS_THREADS:-1}
echo "== heraldd: twilio.max_connections $HERALD_TWILIO_MAX_CONNECTIONS, max_in_flight" \
  "$HERALD_TWILIO_MAX_IN_FLIGHT, dispatch.batch $HERALD_DISPATCH_BATCH," \
  "threads_per_channel $HERALD_DISPATCH_THREADS_PER_CHANNEL, sms rate unlimited"
start_heraldd "$WORK"
PID=${HERALD_PIDS[-1]}

import_start=$(date +%s.%N)
timeout 1800 "$BUILD_DIR/service/heraldctl" import "$DATA" >"$WORK/import.json"
import_end=$(date +%s.%N)
ACCEPTED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accepted"])' "$WORK/import.json")
python3 -c "import sys; a, s, e = map(float, sys.argv[1:]); print(f'== customers: {a:,.0f} imported in {e - s:.1f} s')" \
  "$ACCEPTED" "$import_start" "$import_end"
[ "$ACCEPTED" = "$COUNT" ] || { echo "FAIL: imported $ACCEPTED of $COUNT customers" >&2; exit 1; }

# Raise the outage and follow it: the funnel and the plan cursor every 50 ms, CPU from
# /proc/PID/stat (heraldd, Redis, sink) at the start, when planning is done and at the end.
steal=$(steal_mark)
python3 - "$HERALD_URL" "$ADMIN_KEY" "$REDIS_PORT" "$EVENT" "$FEEDERS" "$DEADLINE_S" \
  "$PID" "$REDIS_PID" "$SINK_PID" "$SINK_URL" "$CEILING" "$HERALD_ROOT/tests/bench" \
  >"$WORK/result.txt" <<'PY'
import json, os, sys, time, urllib.request
url, key, rport, event, feeders, deadline = sys.argv[1:7]
sys.path.insert(0, sys.argv[12])
from resp_client import Redis
pids = {"heraldd": int(sys.argv[7]), "redis": int(sys.argv[8]), "sink": int(sys.argv[9])}
sink_url, ceiling = sys.argv[10], float(sys.argv[11])
tick = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

def threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f"{f.read().strip()}/{tid}"
            out[name] = cpu(f"{pid}/task/{tid}")
        except OSError:
            pass
    return out

def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

r = Redis(rport)
fn, plan = "fn:{%s}" % event, "plan:{%s}:1" % event
body = json.dumps({"id": event, "kind": "OUTAGE", "stage": "DETECTED", "severity": "ADVISORY",
                   "cause": "storm damage", "estimatedRestoration": "2030-01-01T18:00:00Z",
                   "area": {"feeders": ["F-SMS-%d" % (i + 1) for i in range(int(feeders))]}}).encode()
req = urllib.request.Request(url + "/v1/events", data=body, method="POST", headers={
    "Authorization": "Bearer " + key, "Content-Type": "application/json"})
cpu0 = {k: cpu(p) for k, p in pids.items()}
thr0 = threads(pids["heraldd"])
t0 = time.monotonic()
with urllib.request.urlopen(req, timeout=30) as resp:
    if resp.status != 202:
        sys.exit("FAIL: POST /v1/events answered %d" % resp.status)
t202 = time.monotonic() - t0
t_plan = t_done = None
cpu_plan = None
sent_at_plan = 0
rss_max = 0
while True:
    now = time.monotonic() - t0
    queued, sent, failed, expired, stale, audience = (int(v or 0) for v in r(
        "HMGET", fn, "sms:queued", "sms:sent", "sms:failed", "sms:expired", "sms:stale", "audience"))
    done_plan = r("GET", plan) == b"done"
    rss_max = max(rss_max, status(pids["heraldd"], "VmRSS"))
    if done_plan and t_plan is None:
        t_plan, cpu_plan, sent_at_plan = now, {k: cpu(p) for k, p in pids.items()}, sent + failed
    # expired and stale are final too: counted so that a run with them ends (and says so).
    if done_plan and queued > 0 and sent + failed + expired + stale >= queued:
        t_done = now
        break
    if done_plan and queued == 0 or now > float(deadline):
        break
    time.sleep(0.05)
cpu1 = {k: cpu(p) for k, p in pids.items()}
thr1 = threads(pids["heraldd"])
funnel = [v.decode() for v in r("HGETALL", fn)]
funnel = dict(zip(funnel[::2], funnel[1::2]))
with urllib.request.urlopen(sink_url + "/count", timeout=10) as resp:
    sink = json.load(resp)
print(json.dumps({
    "t202": t202, "t_plan": t_plan, "t_done": t_done, "deadline": float(deadline),
    "sent_at_plan": sent_at_plan, "queued": queued, "sent": sent, "failed": failed, "expired": expired, "stale": stale, "audience": audience,
    "cpu_plan": {k: cpu_plan[k] - cpu0[k] for k in pids} if cpu_plan else None,
    "cpu": {k: cpu1[k] - cpu0[k] for k in pids},
    "threads": sorted(((thr1[t] - thr0.get(t, 0.0), t) for t in thr1), reverse=True)[:6],
    "rss_max_kb": rss_max, "hwm_kb": status(pids["heraldd"], "VmHWM"),
    "sink": sink, "ceiling": ceiling, "funnel": funnel}))
PY

report_steal "the outage (planning and sending)" "$steal"
python3 - "$WORK/result.txt" "$COUNT" "$SINK_US" "$ENGINE_US" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
count = int(sys.argv[2])
sink_us, engine_us = float(sys.argv[3]), float(sys.argv[4])
ok = True
def fail(msg):
    global ok
    ok = False
    print("FAIL: " + msg)
end = r["t_done"]
if end is None:
    fail("not finished after %.0f s: planned %s, queued %d, sent %d, failed %d"
         % (r["deadline"], "yes" if r["t_plan"] is not None else "no", r["queued"], r["sent"], r["failed"]))
    end = r["deadline"]
sent, failed, queued, sink = r["sent"], r["failed"], r["queued"], r["sink"]
rate = sent / end if end else 0.0
print(f"== SMS, full path: {queued:,} queued, {sent:,} sent, {failed:,} failed in {end:.1f} s "
      f"= {rate:,.0f} messages/s (target 22,000/s, 1M in 45 s)")
print(f"   202 after {r['t202'] * 1000:.0f} ms; planning done at "
      + (f"{r['t_plan']:.1f} s ({r['queued'] / r['t_plan']:,.0f} customers/s, "
         f"{r['sent_at_plan']:,} sent by then)" if r["t_plan"] else "(not done)")
      + f"; last message settled at {end:.1f} s"
      + (f" ({end - r['t_plan']:.1f} s after planning)" if r["t_plan"] is not None else ""))
print(f"== sink: accepted {sink['count']:,} ({sink['distinct']:,} distinct StatusCallback URLs, "
      f"{sink['repeated']:,} repeats) over {sink['connections']:,} connections, rejected "
      f"{sink['rejected']:,}; ceiling under wrk "
      f"{r['ceiling']:,.0f}/s; heraldd reached {rate / r['ceiling']:.0%} of it")
if r["audience"] != count or r["queued"] != count:
    fail(f"{count:,} customers, but the funnel has audience {r['audience']:,} and sms:queued "
         f"{r['queued']:,}: some customers were planned more than once")
if r["expired"] or r["stale"]:
    fail(f"{r['expired']:,} messages expired and {r['stale']:,} went stale unsent")
if sink["count"] != sent:
    fail(f"the sink accepted {sink['count']:,} messages but the funnel says sms:sent {sent:,}")
if sink["repeated"] or sink["distinct"] != sink["count"]:
    fail(f"{sink['repeated']:,} messages reached the sink more than once")
if sink["rejected"]:
    fail(f"the sink refused {sink['rejected']:,} requests")
wall = end
cpu = r["cpu"]
print("== CPU during the run (seconds; share of one core over %.1f s wall): " % wall
      + ", ".join(f"{k} {v:.1f} s ({v / wall:.0%})" for k, v in cpu.items()))
if r["cpu_plan"]:
    cp = r["cpu_plan"]
    print("   while planning (%.1f s): " % r["t_plan"] + ", ".join(f"{k} {v:.1f} s" for k, v in cp.items()))
    rest = r["t_done"] - r["t_plan"] if r["t_done"] else None
    if rest:
        print("   after planning (%.1f s): " % rest + ", ".join(f"{k} {cpu[k] - cp[k]:.1f} s" for k in cpu))
if sent:
    print("   per message sent: " + ", ".join(f"{k} {cpu[k] / sent * 1e6:.0f} µs" for k in cpu))
if sent:
    # 22,000 messages/s on two cores leaves 2 / 22,000 s = 90.9 µs of CPU per message for the
    # sink, heraldd and Redis together. The sink at its ceiling, libcurl's engine alone and this
    # run's Redis share are each measured; heraldd's own planning, rendering and settling
    # come on top.
    redis_us = cpu["redis"] / sent * 1e6
    floor = sink_us + engine_us + redis_us
    print(f"== budget at 22,000/s on 2 cores: 90.9 µs of CPU per message in all; sink {sink_us:.0f}"
          f" + HTTP engine alone {engine_us:.0f} + Redis {redis_us:.0f} µs = {floor:.0f} µs"
          f" before heraldd's own work: at most {2e6 / floor:,.0f} messages/s on this machine")
print("   busiest heraldd threads (CPU s, name): " + ", ".join(f"{c:.1f} ({t})" for c, t in r["threads"]))
print(f"== heraldd RSS: max sampled {r['rss_max_kb'] / 1024:.0f} MB, VmHWM {r['hwm_kb'] / 1024:.0f} MB")
print("== funnel fn:{OUT-SMS-BENCH}")
for k in sorted(r["funnel"]):
    print(f"   {k} {r['funnel'][k]}")
sys.exit(0 if ok else 1)
PY
