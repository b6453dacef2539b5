#!/usr/bin/env bash
# What the customer scripts cost inside Redis (INFO commandstats, microseconds per call) for
# an update that keeps every index entry, as a PATCH does: the general write script against
# the record swap script, each with and without the PATCH's two riding commands (the journey
# XADD and the touched-customer ZADD), next to the plain commands they run. The Lua is taken
# from service/store/scripts.cc, so this measures the scripts heraldd loads.
#   bash scripts/bench_scripts.sh            # 20,000 calls each, 4 connections
#   bash scripts/bench_scripts.sh --quick    # 2,000 calls each (CI smoke)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${N:-20000}
if [ "${1:-}" = "--quick" ]; then N=2000; fi
WORK=$HERALD_ROOT/.bench/scripts
rm -rf "$WORK" && mkdir -p "$WORK"
bash "$HERALD_ROOT/scripts/setup.sh"
python3 - "$HERALD_ROOT/service/store/scripts.cc" "$WORK" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
def lua(name):
    return re.search(name + r' = R"lua\((.*?)\)lua";', src, re.S).group(1)
# Composed as customer_batch_script() and record_swap_script() compose them.
open(sys.argv[2] + "/batch.lua", "w").write(lua("kRidingLua") + lua("kBatchLua"))
open(sys.argv[2] + "/swap.lua", "w").write(lua("kRidingLua") + lua("kRecordSwapLua"))
open(sys.argv[2] + "/get.lua", "w").write(lua("kGetLua"))
PY
start_redis "$WORK/redis"
r() { redis-cli -p "$REDIS_PORT" "$@"; }
BATCH=$(r script load "$(cat "$WORK/batch.lua")")
SWAP=$(r script load "$(cat "$WORK/swap.lua")")
GET=$(r script load "$(cat "$WORK/get.lua")")
RECORD=$(python3 -c 'print("r" * 320)')    # about a stored customer's size
TP=$(python3 -c 'print("t" * 180)')        # about a PREFERENCE_CHANGE touchpoint's
IDX="P-1,pm:{1a},F-1,T-1,10001,gc1:1:2,gb1:0:0,1:2"
[ "$(r evalsha "$BATCH" 0 U C-1 'cid:{7}' "$RECORD" "$IDX" "-73.9 40.7" "" "")" = "C" ]
SHA=$(printf '%s' "$RECORD" | sha1sum | cut -c1-40)  # customer 1: record c:{0} field 1
RIDING=(T 10 XADD 'j:{1}' MAXLEN '~' 1000 '*' c 1 t "$TP" T 4 ZADD touched 1 1)
steal=$(steal_mark)
bench() {  # name, command...: the script's (or command's) time per call and what it ran
  local name=$1; shift
  r config resetstat >/dev/null
  redis-benchmark -p "$REDIS_PORT" -n "$N" -c 4 -q "$@" >/dev/null
  printf '%-34s %s\n' "$name" "$(r info commandstats | tr -d '\r' | grep '^cmdstat_' | grep -v '^cmdstat_config' |
    sed 's/^cmdstat_//; s/:calls=\([0-9]*\),usec=[0-9]*,usec_per_call=\([0-9.]*\).*/ \2 us (\1 calls)/' |
    sort -k2 -gr | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
}
echo "== microseconds per call inside Redis, $N calls each"
bench "general script, update + riding" EVALSHA "$BATCH" 0 U C-1 'cid:{7}' "$RECORD" "$IDX" = "$SHA" "$IDX" "${RIDING[@]}"
bench "record swap, update + riding" EVALSHA "$SWAP" 0 'c:{0}' 1 "$SHA" "$RECORD" "${RIDING[@]}"
bench "general script, update" EVALSHA "$BATCH" 0 U C-1 'cid:{7}' "$RECORD" "$IDX" = "$SHA" "$IDX"
bench "record swap, update" EVALSHA "$SWAP" 0 'c:{0}' 1 "$SHA" "$RECORD"
bench "read script (id -> number -> record)" EVALSHA "$GET" 0 'cid:{7}' C-1
bench "plain HSET of the record" HSET 'c:{0}' 1 "$RECORD"
report_steal "these runs" "$steal"
