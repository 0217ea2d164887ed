#!/usr/bin/env bash
# Mix A on PostgreSQL (README, "Load on PostgreSQL"): starts a throw-away PostgreSQL cluster
# on a temporary directory, INSTANCES `tanya serve` processes on it (each with its own data
# directory), runs the load generator spreading the members over them, and stops everything.
#
#   benches/load_pg.sh INSTANCES [load generator arguments…]
#
# PostgreSQL keeps its defaults (synchronous_commit = on: every turn's commit is flushed to
# disk before the answer, as sled's is) except max_connections, raised for the pools. The
# cluster listens on 127.0.0.1 only and trusts local logins: a benchmark, never a set-up.
# PG_STATS=1 prints the statements run, by count (with pg_stat_statements preloaded through
# PG_SETTINGS). PG_SETTINGS adds server settings (`-c commit_delay=…`). When run as root, the cluster belongs to the `postgres` user (PostgreSQL refuses root).
set -euo pipefail
cd "$(dirname "$0")/.."
instances=$1
shift
cargo build --release --quiet
cargo bench --no-run --quiet --bench load 2>/dev/null
generator=$(ls -t target/release/deps/load-* | grep -v '\.d$' | head -1)
# One PostgreSQL version's programs, as the tests find them: initdb's own directory.
if command -v initdb >/dev/null; then
  pgbin=$(dirname "$(readlink -f "$(command -v initdb)")")
else
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
work=$(mktemp -d)
chmod 755 "$work"
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$work"
  as_owner=(runuser -u postgres --)
fi
pgport=${TANYA_BENCH_PG_PORT:-55432}
"${as_owner[@]}" "$pgbin/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 >/dev/null
"${as_owner[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pgport -k $work -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_SETTINGS:-}" start >/dev/null
servers=()
stop() {
  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
"$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres \
  -c "CREATE ROLE tanya LOGIN" -c "CREATE DATABASE tanya OWNER tanya"
pgpid=$(head -1 "$work/pg/postmaster.pid")
# PG_VIA=socket: the instances reach PostgreSQL over its Unix socket (as on one host)
# instead of TCP on 127.0.0.1.
if [ "${PG_VIA:-tcp}" = socket ]; then
  url="postgresql:///tanya?host=$work&port=$pgport&user=tanya"
else
  url="postgres://tanya@127.0.0.1:$pgport/tanya"
fi
port=${TANYA_BENCH_PORT:-8088}
generator_args=(--pg-pid "$pgpid")
for k in $(seq 1 "$instances"); do
  log="$work/tanya-$k.log"
  TANYA_DATABASE_URL="$url" \
    TANYA_DATA_DIR="$work/data-$k" TANYA_DEMO_EXTRA_MEMBERS=${MEMBERS:-100000} \
    TANYA_LIMIT_CLIENT_IP=off TANYA_LIMIT_WEB_SESSION=off \
    TANYA_BIND=127.0.0.1:$((port + k)) TANYA_LOG_FORMAT=json \
    env -u TANYA_BIN -u TANYA_BENCH_PORT -u TANYA_BENCH_PG_PORT "${TANYA_BIN:-target/release/tanya}" serve 2>"$log" &
  servers+=($!)
  # One after the other: the first seeds the members, the others find them there.
  for _ in $(seq 1 1200); do
    grep -q '"tanya is listening"' "$log" && break
    sleep 0.1
  done
  grep '"tanya is listening"' "$log" | sed "s/.*\"startup_ms\":\([0-9]*\).*/instance $k start-up: \1 ms/"
  generator_args+=(--addr "127.0.0.1:$((port + k))" --pid "${servers[-1]}")
done
"$generator" "${generator_args[@]}" "$@"
if [ -n "${PG_STATS:-}" ]; then
  # Needs PG_SETTINGS="-c shared_preload_libraries=pg_stat_statements".
  "$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -d tanya \
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "SELECT calls, round(total_exec_time) AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
        FROM pg_stat_statements ORDER BY calls DESC LIMIT 20" \
    -c "SELECT count(*) AS sessions, round(avg(length(data))) AS avg_bytes,
        round(avg(pg_column_size(data))) AS avg_stored, max(length(data)) AS max_bytes FROM sessions" \
    -c "SELECT wal_records, wal_fpi, pg_size_pretty(wal_bytes) AS wal, wal_write, wal_sync,
        round(wal_sync_time) AS sync_ms FROM pg_stat_wal" \
    -c "SELECT checkpoints_timed + checkpoints_req AS checkpoints, buffers_checkpoint,
        buffers_backend, buffers_backend_fsync FROM pg_stat_bgwriter" \
    -c "SELECT relname, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot,
        n_tup_del AS deleted, seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables
        WHERE n_tup_ins + n_tup_upd > 0
        ORDER BY n_tup_ins + n_tup_upd DESC"
fi
