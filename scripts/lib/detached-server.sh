# Sourced by the scripts that start a test server which outlives them (moto-server.sh,
# postgres-server.sh): the two things such a start needs, in one place.

# The servers and the watchdog outlive the starting script, so they must not inherit any
# descriptor other than 0-2: a caller that learns of its exit through an inherited pipe or
# socket (as Foundation's Process does on Linux) would otherwise wait until the servers stop.
close_inherited_fds() {
  local fd
  for fd in $(ls /proc/$$/fd 2>/dev/null || ls /dev/fd 2>/dev/null); do
    case "$fd" in
      0|1|2|255) ;;
      *[!0-9]*) ;;
      *) eval "exec ${fd}>&-" 2>/dev/null || true ;;
    esac
  done
}

# stop_when_owner_exits PID SCRIPT STATE_DIR: a detached watchdog that runs
# `SCRIPT stop --state-dir STATE_DIR` once process PID has exited, however it exits.
stop_when_owner_exits() {
  local owner_pid="$1" script="$2" state_dir="$3"
  nohup bash -c "while kill -0 $owner_pid 2>/dev/null; do sleep 1; done; exec '$script' stop --state-dir '$state_dir'" \
    >/dev/null 2>&1 </dev/null &
}
