#!/usr/bin/env bash
# Starts or stops the moto servers the AWS client tests run against.
#
#   scripts/moto-server.sh start [--state-dir DIR] [--owner-pid PID]
#   scripts/moto-server.sh stop  [--state-dir DIR]
#
# start launches two servers on free ports of 127.0.0.1:
#   - the main one with signature checking on (INITIAL_NO_AUTH_ACTION_COUNT=3): the three
#     unauthenticated calls are spent here on IAM (CreateUser, CreateAccessKey, PutUserPolicy
#     allow-all, via boto3), after which every request's SigV4 signature is checked;
#   - a second one with authentication off, for presigned URLs (moto answers presigned
#     requests with HTTP 500 when auth is on).
# It writes DIR/env with export lines the tests read:
#   FACEREC_MOTO_ENDPOINT, FACEREC_MOTO_ACCESS_KEY_ID, FACEREC_MOTO_SECRET_ACCESS_KEY,
#   FACEREC_MOTO_NOAUTH_ENDPOINT
# and prints the same lines on stdout (so `eval "$(scripts/moto-server.sh start)"` works).
# PIDs go to DIR/moto.pid and DIR/moto-noauth.pid, logs to DIR/*.log.
# With --owner-pid, a watchdog stops both servers once that process has exited (the Swift
# tests pass their own PID, so a test run never leaves servers behind).
# DIR defaults to $FACEREC_MOTO_STATE_DIR or /tmp/facerec-moto.
set -euo pipefail
# close_inherited_fds, stop_when_owner_exits
source "$(dirname "$0")/lib/detached-server.sh"

cmd="${1:-}"; shift || true
state_dir="${FACEREC_MOTO_STATE_DIR:-/tmp/facerec-moto}"
owner_pid=""
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state_dir="$2"; shift 2 ;;
    --owner-pid) owner_pid="$2"; shift 2 ;;
    *) echo "moto-server.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
PYTHON="${PYTHON:-python3}"

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() { # port pid log
  local port="$1" pid="$2" log="$3"
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto-server.sh: moto on port $port exited during start-up; log:" >&2; cat "$log" >&2; return 1
    fi
    # /moto-api/data.json does not use up the unauthenticated calls.
    if "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "moto-server.sh: moto on port $port not ready after 30 s" >&2; return 1
}

stop_pidfile() {
  local file="$1"
  [ -f "$file" ] || return 0
  local pid; pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}


case "$cmd" in
  start)
    close_inherited_fds
    "$PYTHON" -c 'import moto.server, flask, boto3' 2>/dev/null || {
      echo "moto-server.sh: needs python3 with moto[server] and boto3: pip install 'moto[server]' boto3" >&2; exit 1; }
    mkdir -p "$state_dir"
    stop_pidfile "$state_dir/moto.pid"; stop_pidfile "$state_dir/moto-noauth.pid"
    port="$(free_port)"
    INITIAL_NO_AUTH_ACTION_COUNT=3 nohup "$PYTHON" -m moto.server -H 127.0.0.1 -p "$port" \
      >"$state_dir/moto.log" 2>&1 </dev/null &
    echo $! >"$state_dir/moto.pid"
    noauth_port="$(free_port)"
    while [ "$noauth_port" = "$port" ]; do noauth_port="$(free_port)"; done
    nohup "$PYTHON" -m moto.server -H 127.0.0.1 -p "$noauth_port" >"$state_dir/moto-noauth.log" 2>&1 </dev/null &
    echo $! >"$state_dir/moto-noauth.pid"
    wait_ready "$port" "$(cat "$state_dir/moto.pid")" "$state_dir/moto.log"
    wait_ready "$noauth_port" "$(cat "$state_dir/moto-noauth.pid")" "$state_dir/moto-noauth.log"
    # Spend the three unauthenticated calls on an allow-all IAM user.
    keys="$("$PYTHON" - "$port" <<'PY'
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="facerec-tests")
key = iam.create_access_key(UserName="facerec-tests")["AccessKey"]
iam.put_user_policy(UserName="facerec-tests", PolicyName="allow-all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
)"
    read -r access_key secret_key <<<"$keys"
    umask 077
    cat >"$state_dir/env" <<ENV
export FACEREC_MOTO_ENDPOINT=http://127.0.0.1:$port
export FACEREC_MOTO_ACCESS_KEY_ID=$access_key
export FACEREC_MOTO_SECRET_ACCESS_KEY=$secret_key
export FACEREC_MOTO_NOAUTH_ENDPOINT=http://127.0.0.1:$noauth_port
ENV
    if [ -n "$owner_pid" ]; then
      stop_when_owner_exits "$owner_pid" "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$state_dir"
    fi
    cat "$state_dir/env"
    ;;
  stop)
    stop_pidfile "$state_dir/moto.pid"
    stop_pidfile "$state_dir/moto-noauth.pid"
    rm -f "$state_dir/env"
    ;;
  *)
    echo "usage: $0 start|stop [--state-dir DIR] [--owner-pid PID]" >&2; exit 2 ;;
esac
