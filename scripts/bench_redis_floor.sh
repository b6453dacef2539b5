#!/usr/bin/env bash
# The fastest fan-out this machine's Redis could serve with Herald's data layout: loads COUNT
# customer records (default 1,000,000) into a fresh redis-server (AOF on, appendfsync
# everysec, as heraldd runs it; automatic rewrites off, their forked child would be counted
# apart) and sends only the commands planned customers need, from the full layout down to the
# bare minimum, with no heraldd (tests/bench/redis_floor.cc), each on a fresh Redis. Prints Redis's CPU per customer
# for each, and the rate that CPU allows: Redis runs commands on one thread.
#   SKIP_BUILD=1 bash scripts/bench_redis_floor.sh
#   COUNT=200000 SKIP_BUILD=1 bash scripts/bench_redis_floor.sh
#   SHAPES=1 FLOOR_ARGS="--order random" SKIP_BUILD=1 bash scripts/bench_redis_floor.sh
#     (SHAPES: which of the four, 1 = the full layout; FLOOR_ARGS: more options of the tool,
#     --order zips|numbers|random for the audience's order)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COUNT=${COUNT:-1000000}
WORK=$HERALD_ROOT/.bench/redis-floor
bash "$HERALD_ROOT/scripts/setup.sh"
[ -n "${SKIP_BUILD:-}" ] || build_herald redis_floor
echo "== redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), AOF everysec, $COUNT customers"
mark=$(steal_mark)
# Each shape on a fresh redis-server and AOF file, so none pays for the one before (a larger
# AOF file, the page cache's writeback).
for shape in ${SHAPES:-1 2 3 4}; do
  rm -rf "$WORK" && mkdir -p "$WORK"
  HERALD_REDIS_ARGS="--auto-aof-rewrite-percentage 0 ${HERALD_REDIS_ARGS:-}" start_redis "$WORK/redis"
  "$BUILD_DIR/tests/bench/redis_floor" --port "$REDIS_PORT" --customers "$COUNT" --shape "$shape" \
    ${FLOOR_ARGS:-} |
    grep -v 'records loaded'
  stop_started
done
report_steal "the run" "$mark"
