#!/usr/bin/env bash
# Starts or stops a private PostgreSQL server for the shared-collections tests.
#
#   scripts/postgres-server.sh start --state-dir DIR [--owner-pid PID]
#   scripts/postgres-server.sh stop  --state-dir DIR
#
# start runs Debian's PostgreSQL 15 (initdb, pg_ctl from $PG_BIN, default /usr/lib/postgresql/15/bin)
# on a fresh cluster in DIR/data with trust authentication, listening on no TCP port: only on
# the Unix socket DIR/.s.PGSQL.5432, so parallel test runs never compete for a port. It prints
#   FACEREC_TEST_POSTGRES_URL=postgres://postgres@/postgres?host=DIR
# and writes the same line to DIR/env. As root (initdb refuses root) the server runs as the
# `postgres` user Debian's package creates. With --owner-pid, a watchdog stops the server and
# removes DIR once that process has exited (the Swift tests pass their own PID, so a test run,
# even one that crashes, never leaves a server or its files behind). stop does the same at once.
set -euo pipefail
# close_inherited_fds, stop_when_owner_exits
source "$(dirname "$0")/lib/detached-server.sh"

cmd="${1:-}"; shift || true
state_dir=""
owner_pid=""
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state_dir="$2"; shift 2 ;;
    --owner-pid) owner_pid="$2"; shift 2 ;;
    *) echo "postgres-server.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$state_dir" ] || { echo "postgres-server.sh: --state-dir is required" >&2; exit 2; }
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}


stop_server() {
  if [ -f "$state_dir/data/postmaster.pid" ]; then
    as_server_user "$PG_BIN/pg_ctl" -D "$state_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$state_dir"
}

case "$cmd" in
  start)
    close_inherited_fds
    [ -x "$PG_BIN/initdb" ] || { echo "postgres-server.sh: no $PG_BIN/initdb (apt-get install postgresql-15)" >&2; exit 1; }
    mkdir -p "$state_dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$state_dir"; fi
    as_server_user "$PG_BIN/initdb" -D "$state_dir/data" -U postgres -A trust -E UTF8 --no-sync >"$state_dir/initdb.log" 2>&1 || {
      echo "postgres-server.sh: initdb failed:" >&2; cat "$state_dir/initdb.log" >&2; rm -rf "$state_dir"; exit 1; }
    # fsync off: a test cluster is thrown away, and fsync is what makes commits slow on a busy disk.
    as_server_user "$PG_BIN/pg_ctl" -D "$state_dir/data" -l "$state_dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$state_dir' -c fsync=off -c max_connections=200" start >/dev/null || {
      echo "postgres-server.sh: the server did not start:" >&2; cat "$state_dir/server.log" >&2; rm -rf "$state_dir"; exit 1; }
    echo "FACEREC_TEST_POSTGRES_URL=postgres://postgres@/postgres?host=$state_dir" >"$state_dir/env"
    if [ -n "$owner_pid" ]; then
      stop_when_owner_exits "$owner_pid" "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$state_dir"
    fi
    cat "$state_dir/env"
    ;;
  stop)
    stop_server
    ;;
  *)
    echo "usage: $0 start|stop --state-dir DIR [--owner-pid PID]" >&2; exit 2 ;;
esac
