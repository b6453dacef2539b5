#!/usr/bin/env bash
# Sets up what is missing, builds Herald, and runs every test: unit and integration
# (ctest; the integration tests start their own redis-server and heraldd on free
# loopback ports) and the tests of the Python tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
python3 scripts/test_gen_customers.py
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
