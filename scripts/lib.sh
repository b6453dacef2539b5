# Shared helpers for Herald's scripts: local Redis and heraldd on free loopback ports,
# stopped by their PIDs when the calling script exits. Source it; do not run it.

HERALD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$HERALD_ROOT/build}
HERALD_PIDS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stop_started() {
  local pid
  for pid in "${HERALD_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${HERALD_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  HERALD_PIDS=()
}
trap stop_started EXIT

# CPU steal: on a virtual machine the hypervisor may run other guests on this machine's cores,
# and a benchmark then measures less than the code can do. `mark=$(steal_mark)` before a
# measurement, `report_steal "what" "$mark"` after it prints the share of all CPU time in
# between that was stolen (the `steal` column of /proc/stat, all cores), and the share that
# was idle (`idle` and `iowait`): the cores no process had work for.
steal_mark() { awk '/^cpu /{t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t, $5 + $6}' /proc/stat; }
report_steal() {
  local s0 t0 i0 s1 t1 i1
  read -r s0 t0 i0 <<<"$2"
  read -r s1 t1 i1 <<<"$(steal_mark)"
  awk -v s=$((s1 - s0)) -v t=$((t1 - t0)) -v i=$((i1 - i0)) -v what="$1" \
    'BEGIN { printf "== CPU steal during %s: %.0f %% of the machine'"'"'s CPU time; idle %.0f %%\n", what, (t > 0 ? 100 * s / t : 0), (t > 0 ? 100 * i / t : 0) }'
}

# cpu_ticks PID: the CPU time a process has used (user + system, clock ticks; stolen time is not
# in it), for CPU per customer or per request.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# child_ticks PID: the same for its children once they ended (Redis: its AOF rewrites).
child_ticks() { awk '{print $16 + $17}' "/proc/$1/stat"; }

# Waits (at most 2 minutes) until Redis on $REDIS_PORT is not rewriting its AOF: a rewrite's
# child would share the cores with whatever is measured next.
wait_rewrite() {
  for _ in $(seq 1 600); do
    redis-cli -p "$REDIS_PORT" info persistence | grep -q '^aof_rewrite_in_progress:0' && return
    sleep 0.2
  done
}
# How many AOF rewrites the Redis whose data is in $1 has started (from its log).
rewrites_started() { grep -c 'rewriting started' "$1/redis.log" || true; }

build_herald() {
  cmake -S "$HERALD_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target heraldd heraldctl "$@" >/dev/null
}

# start_redis DIR: redis-server with Herald's settings (config/redis.conf: AOF everysec, no RDB
# snapshots, uncompressed rewrites) in DIR on a free loopback port; sets REDIS_PORT and
# REDIS_URL. With REDIS_TRANSPORT=unix it also listens on the Unix socket DIR/redis.sock
# (REDIS_SOCKET), and REDIS_URL names that socket for heraldd. HERALD_REDIS_ARGS adds
# redis-server arguments, e.g. "--auto-aof-rewrite-min-size 1gb" for an experiment, and
# HERALD_REDIS_WRAP a command it runs under (scripts/bench_redis_work.sh: valgrind).
start_redis() {
  local dir=$1 socket_args=()
  mkdir -p "$dir"
  REDIS_PORT=$(free_port)
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  if [ "${REDIS_TRANSPORT:-tcp}" = unix ]; then
    REDIS_SOCKET=$(cd "$dir" && pwd)/redis.sock
    socket_args=(--unixsocket "$REDIS_SOCKET" --unixsocketperm 700)
    REDIS_URL="unix://$REDIS_SOCKET"
  fi
  ${HERALD_REDIS_WRAP:-} redis-server "$HERALD_ROOT/config/redis.conf" --bind 127.0.0.1 \
    --port "$REDIS_PORT" --dir "$dir" "${socket_args[@]}" --daemonize no \
    --logfile "$dir/redis.log" ${HERALD_REDIS_ARGS:-} &
  HERALD_PIDS+=($!)
  for _ in $(seq 1 300); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
}

# new_keys DIR: an admin key for this run (its hash goes to heraldd), plus the server secrets.
new_keys() {
  local dir=$1 out
  out=$("$BUILD_DIR/service/heraldctl" key new --role admin 2>/dev/null)
  ADMIN_KEY=$(awk '/^key:/{print $2}' <<<"$out")
  export HERALD_AUTH_KEYS
  HERALD_AUTH_KEYS=$(awk '/^line:/{print $2}' <<<"$out")
  export HERALD_PII_KEY HERALD_TOKEN_KEY
  HERALD_PII_KEY=$(head -c 32 /dev/urandom | base64)
  HERALD_TOKEN_KEY=$(head -c 32 /dev/urandom | base64)
  printf '%s\n' "$ADMIN_KEY" >"$dir/admin.key"
  chmod 600 "$dir/admin.key"
}

# start_heraldd DIR: heraldd on a free port against REDIS_URL; sets HERALD_URL.
start_heraldd() {
  local dir=$1
  rm -f "$dir/ready"
  HERALD_REDIS_URL=$REDIS_URL HERALD_LISTEN=127.0.0.1:0 HERALD_TEMPLATES_DIR=$HERALD_ROOT/templates HERALD_SANDBOX_DIR=$dir/sandbox \
    "$BUILD_DIR/service/heraldd" --config "${HERALD_CONFIG:-$HERALD_ROOT/config/heraldd.example.yaml}" \
    --ready-file "$dir/ready" 2>"$dir/heraldd.log" &
  HERALD_PIDS+=($!)
  for _ in $(seq 1 100); do
    [ -s "$dir/ready" ] && break
    sleep 0.1
  done
  [ -s "$dir/ready" ] || { echo "heraldd did not start; see $dir/heraldd.log" >&2; cat "$dir/heraldd.log" >&2; return 1; }
  export HERALD_URL="http://$(cat "$dir/ready")"
  export HERALD_API_KEY=$ADMIN_KEY
}

# api METHOD PATH [BODY]: one request with the admin key, body pretty-printed.
api() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $ADMIN_KEY")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  curl "${args[@]}" "$HERALD_URL$path" | python3 -m json.tool
}
