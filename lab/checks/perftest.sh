#!/bin/sh
# perftest loopback on rxe0, server and client in the guest: ib_send_bw, ib_write_bw, ib_read_bw
# (QP numbers exchanged over TCP, GID index 1 = RoCE v2 on ::ffff:10.77.0.1), ib_write_bw -R
# (connection set up by rdma_cm) and ib_send_lat. Correctness, not speed: TCG is slow.
# Usage: sh lab/checks/perftest.sh [SIZE] [ITERATIONS]
set -u
. "$(dirname "$0")/lib.sh"
size=${1:-65536}
iters=${2:-200}
failed=0
port=18515

pair() {
  name=$1
  shift
  port=$((port + 1))
  ready=tcp_listening
  case " $* " in *" -R "*) ready=cm_listening ;; esac
  echo "=== $name $*"
  timeout 120 "$name" -d "$DEV" -p "$port" "$@" >/tmp/perftest-server.log 2>&1 &
  server=$!
  if ! wait_for "the $name server" 60 $ready $port; then
    kill "$server" 2>/dev/null
    cat /tmp/perftest-server.log
    failed=$((failed + 1))
    return
  fi
  timeout 120 "$name" -d "$DEV" -p "$port" "$@" "$ADDR"
  client=$?
  wait "$server"
  status=$?
  if [ "$client" -ne 0 ] || [ "$status" -ne 0 ]; then
    echo "$name: client exit $client, server exit $status; server said:"
    cat /tmp/perftest-server.log
    failed=$((failed + 1))
  fi
}

pair ib_send_bw -x 1 -s "$size" -n "$iters"
pair ib_write_bw -x 1 -s "$size" -n "$iters"
pair ib_read_bw -x 1 -s "$size" -n "$iters"
pair ib_write_bw -R -s "$size" -n "$iters"
pair ib_send_lat -x 1 -s 64 -n 1000
echo "perftest: $failed failed"
[ "$failed" -eq 0 ]
