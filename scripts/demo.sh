#!/usr/bin/env bash
# Herald's main job on a fresh machine: install what is missing, build, start a local
# Redis and heraldd, load sample customers and show them through the API.
# Everything it starts listens on 127.0.0.1 and is stopped when the script ends
# (pass --keep to leave both running until Ctrl-C).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KEEP=${1:-}
COUNT=${DEMO_CUSTOMERS:-2000}
WORK=$HERALD_ROOT/.demo
rm -rf "$WORK" && mkdir -p "$WORK"

step() { printf '\n== %s\n' "$*"; }

step "Setting up and building (first run installs packages and compiles: a few minutes)"
bash "$HERALD_ROOT/scripts/setup.sh"
build_herald

step "Starting Redis (AOF on) and heraldd on free loopback ports"
start_redis "$WORK/redis"
new_keys "$WORK"
start_heraldd "$WORK"
echo "redis:   $REDIS_URL"
echo "heraldd: $HERALD_URL   (admin key in $WORK/admin.key)"
api GET /readyz

step "Importing $COUNT synthetic customers (NDJSON, with a few deliberately bad lines)"
python3 "$HERALD_ROOT/scripts/gen_customers.py" --count "$COUNT" --seed 7 --bad-every 500 \
  --out "$WORK/customers.ndjson"
"$BUILD_DIR/service/heraldctl" import "$WORK/customers.ndjson" | python3 -m json.tool

step "One customer as the API returns it (contact details are sealed in Redis)"
api GET /v1/customers/C-0000001

step "The customer changes a preference with their own token"
TOKEN=$(curl -sS -X POST -H "Authorization: Bearer $ADMIN_KEY" \
  "$HERALD_URL/v1/customers/C-0000001/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -sS -X PATCH -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data '{"channels": {"OUTAGE": ["SMS"]}, "quietHours": {"start": "22:00", "end": "06:30"}}' \
  "$HERALD_URL/v1/customers/C-0000001/preferences" | python3 -m json.tool
echo "The same token reaching another customer:"
curl -sS -H "Authorization: Bearer $TOKEN" "$HERALD_URL/v1/customers/C-0000002"; echo

step "What fan-out will read: the indexes Herald keeps in Redis"
FEEDER=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["premises"][0]["feeder"])' "$WORK/customers.ndjson")
echo "customers on feeder $FEEDER: $(for s in $(seq 0 15); do echo "SCARD ix:f:$FEEDER:$s"; done |
  redis-cli -p "$REDIS_PORT" | awk '{s+=$1} END {print s+0}') in 16 slices by customer number"
CELLS=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'gc1:*')
echo "GEO cells in use: $(echo "$CELLS" | grep -c .)," \
  "holding $(echo "$CELLS" | sed 's/^/ZCARD /' | redis-cli -p "$REDIS_PORT" | awk '{s+=$1} END {print s+0}') located premises," \
  "encoded as $(echo "$CELLS" | head -1 | sed 's/^/OBJECT ENCODING /' | redis-cli -p "$REDIS_PORT")"
echo "Redis memory: $(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory_human/{print $2}' | tr -d '\r')"

step "Grid operations raise an outage on feeder $FEEDER"
ETR1=$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:00Z)
ETR2=$(date -u -d '+5 hours' +%Y-%m-%dT%H:%M:00Z)
api POST /v1/events "{\"id\": \"OUT-DEMO-1\", \"kind\": \"OUTAGE\", \"stage\": \"DETECTED\",
  \"severity\": \"ADVISORY\", \"area\": {\"feeders\": [\"$FEEDER\"]},
  \"cause\": \"storm damage\", \"estimatedRestoration\": \"$ETR1\"}"
settle() {  # until the sandbox files stop growing (bounded)
  local last=-1 now
  for _ in $(seq 1 50); do
    now=$(cat "$WORK"/sandbox/*.jsonl 2>/dev/null | wc -l)
    [ "$now" = "$last" ] && [ "$now" != 0 ] && return 0
    last=$now
    sleep 0.3
  done
}
settle
step "The restoration estimate moves by two hours, then power is restored"
api POST /v1/events/OUT-DEMO-1/updates "{\"stage\": \"UPDATED\", \"estimatedRestoration\": \"$ETR2\"}"
settle
api POST /v1/events/OUT-DEMO-1/updates '{"stage": "RESTORED"}'
settle

step "The event's funnel (audience, queued, held for quiet hours, suppressed by reason, sent)"
redis-cli -p "$REDIS_PORT" hgetall 'fn:{OUT-DEMO-1}' | paste - - | sort | awk -F'\t' '{printf "  %-40s %s\n", $1, $2}'

step "What went out, per channel (sandbox files in $WORK/sandbox)"
wc -l "$WORK"/sandbox/*.jsonl | sed 's|'"$WORK"'/sandbox/||'
ONE=$(head -1 "$WORK/sandbox/sms.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["customerId"])')
echo "Every SMS customer $ONE received:"
grep "\"customerId\":\"$ONE\"" "$WORK/sandbox/sms.jsonl" |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    print(" -", m.get("sms", ""))'

step "Metrics (excerpt)"
curl -sS "$HERALD_URL/metrics" | grep -E '^herald_(http_requests_total|import_lines_total)' | awk 'NR <= 8'

if [ "$KEEP" = "--keep" ]; then
  step "Running; Ctrl-C stops Redis and heraldd"
  wait
fi
step "Done; stopping heraldd and Redis"
