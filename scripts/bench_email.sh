#!/usr/bin/env bash
# Email throughput: SmtpChannel::send_batch (batches of 64 from 2 threads, 4 reused connections
# each) to a local aiosmtpd sink that counts and discards (tests/bench/email_bench).
#   bash scripts/bench_email.sh            # 20,000 messages
#   bash scripts/bench_email.sh --quick    # 2,000 messages (CI smoke, well under a minute)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COUNT=20000
if [ "${1:-}" = "--quick" ]; then COUNT=2000; fi

if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "== email: skipped: /usr/bin/python3 cannot import aiosmtpd (apt-get install python3-aiosmtpd)"
  exit 0
fi
cmake -S "$HERALD_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target email_bench >/dev/null
"$BUILD_DIR/tests/bench/email_bench" --count "$COUNT" --threads 2 --batch 64 --connections 4
