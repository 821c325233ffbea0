# Helpers for the lab's checks (sourced). Every server runs under `timeout`: a server that never
# gets its client would otherwise hang until the lab's command time limit.
ADDR=${RDMA_LAB_ADDR:-10.77.0.1}
DEV=${RDMA_LAB_DEVICE:-rxe0}

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND once a second until it succeeds.
wait_for() {
  what=$1 limit=$2
  shift 2
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge "$limit" ]; then
      echo "gave up waiting for $what after ${limit} s" >&2
      return 1
    fi
    sleep 1
  done
}

# An rdma_cm id in LISTEN state (rping, ib_*_bw -R servers).
cm_listening() { rdma resource show cm_id | grep -q LISTEN; }
# A TCP listener on port $1 (perftest exchanges QP numbers over TCP first).
tcp_listening() { ss -Hltn "sport = :$1" | grep -q .; }
