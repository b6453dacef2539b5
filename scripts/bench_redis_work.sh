#!/usr/bin/env bash
# Redis's work for a fan-out, counted in instructions, which the machine's drift from hour to
# hour does not move: runs bench_fanout.sh with PLANNING_ONLY (COUNT customers, default
# 20,000) and redis-server under valgrind's callgrind, and prints Redis's instructions per
# customer planned and per message sent. Instructions are not time (cache misses are not
# counted), so this judges changes to what heraldd asks of Redis, beside the timed runs.
#   SKIP_BUILD=1 bash scripts/bench_redis_work.sh
#   BUILD_DIR=/tmp/other SKIP_BUILD=1 COUNT=50000 bash scripts/bench_redis_work.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=$HERALD_ROOT/.bench/redis-work
rm -rf "$OUT"
mkdir -p "$OUT"
export COUNT=${COUNT:-20000}
# Callgrind slows Redis some fifty times: longer Redis timeouts for heraldd, and no AOF
# rewrites, whose forked child would be counted apart.
export HERALD_REDIS_WRAP="valgrind --tool=callgrind --callgrind-out-file=$OUT/callgrind.out"
export HERALD_REDIS_ARGS="--auto-aof-rewrite-percentage 0"
export HERALD_REDIS_TIMEOUT_MS=60000
# Each phase dumps the counts since the last dump: "planned" holds the fan-out, "sent" the
# sending (callgrind names the dumps callgrind.out.<n>, numbered in order).
export HERALD_BENCH_PHASE_HOOK="$OUT/phase.sh"
cat >"$HERALD_BENCH_PHASE_HOOK" <<EOF
#!/usr/bin/env bash
callgrind_control --dump="\$1" redis-server >/dev/null
echo "\$1" >>"$OUT/phases"
EOF
chmod +x "$HERALD_BENCH_PHASE_HOOK"
PLANNING_ONLY=1 bash "$HERALD_ROOT/scripts/bench_fanout.sh" >"$OUT/bench.txt" 2>&1 || {
  tail -20 "$OUT/bench.txt"
  exit 1
}
python3 - "$OUT" <<'PY'
import glob, os, re, sys
out = sys.argv[1]
bench = open(os.path.join(out, "bench.txt")).read()
planned = int(re.search(r"fan-out: (\d+) customers planned", bench).group(1))
queued = int(re.search(r"messages queued: (\d+)", bench).group(1))
ir = {}
for path in glob.glob(os.path.join(out, "callgrind.out*")):
    text = open(path, errors="replace").read()
    trigger = re.search(r"^desc: Trigger: (?:Client Request: |dump )(\S+)", text, re.M)
    total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if trigger and total:
        ir[trigger.group(1)] = int(total.group(1))
print(f"== redis instructions per customer planned: {ir.get('planned', 0) / max(planned, 1):,.0f} "
      f"({planned} customers)")
print(f"== redis instructions per message sent: {ir.get('sent', 0) / max(queued, 1):,.0f} "
      f"({queued} messages)")
PY
