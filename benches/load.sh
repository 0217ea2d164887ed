#!/usr/bin/env bash
# Runs tanya's load benchmarks (README, "Benchmarks"): starts `tanya serve` on a data
# directory, runs the load generator (benches/load.rs) against it, stops the server.
#
#   benches/load.sh DATA_DIR [load generator arguments…]
#
# The server seeds 100,000 synthetic members (once per data directory) and runs with the
# per-session and per-address limits off: the generator is one address sending as fast as it
# can. Per-member limits stay on (each simulated visit uses a fresh member).
# TANYA_BIN=path runs another build of the server (to compare two commits on one machine).
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=$1
shift
cargo build --release --quiet
cargo bench --no-run --quiet --bench load 2>/dev/null
generator=$(ls -t target/release/deps/load-* | grep -v '\.d$' | head -1)
port=${TANYA_BENCH_PORT:-8088}
log=$(mktemp)
TANYA_DATA_DIR=$data_dir TANYA_DEMO_EXTRA_MEMBERS=${MEMBERS:-100000} \
  TANYA_LIMIT_CLIENT_IP=off TANYA_LIMIT_WEB_SESSION=off \
  TANYA_BIND=127.0.0.1:$port TANYA_LOG_FORMAT=json \
  env -u TANYA_BIN -u TANYA_BENCH_PORT -u TANYA_BENCH_PG_PORT "${TANYA_BIN:-target/release/tanya}" serve 2>"$log" &
server=$!
stop() {
  kill -TERM $server 2>/dev/null
  wait $server 2>/dev/null || true
  grep '"tanya stopped"' "$log" | sed 's/.*"flushes":\([0-9]*\).*/disk flushes (group commits): \1/'
  rm -f "$log"
}
trap stop EXIT
for _ in $(seq 1 600); do
  grep -q '"tanya is listening"' "$log" && break
  sleep 0.1
done
grep '"tanya is listening"' "$log" | sed 's/.*"startup_ms":\([0-9]*\).*/start-up: \1 ms/'
# The first sweep of idle sessions starts at once and reads every stored session; measure the
# turns after it, not beside it (it then runs every 10 minutes).
for _ in $(seq 1 1200); do
  grep -q '"session sweep finished"' "$log" && break
  sleep 0.1
done
grep '"session sweep finished"' "$log" | head -1 | sed 's/.*"kept":\([0-9]*\).*"millis":\([0-9]*\).*/first sweep: \1 sessions in \2 ms/'
"$generator" --addr 127.0.0.1:$port --pid $server "$@"
