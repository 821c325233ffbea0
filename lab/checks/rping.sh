#!/bin/sh
# rping loopback over rdma_cm on rxe0: server and client in the guest, COUNT pings of SIZE bytes,
# each verified (-V). Usage: sh lab/checks/rping.sh [COUNT] [SIZE]
set -u
. "$(dirname "$0")/lib.sh"
count=${1:-10}
size=${2:-64}
# The server needs the same -S as its client.
timeout 120 rping -s -a "$ADDR" -C "$count" -S "$size" -V &
server=$!
wait_for "the rping server" 60 cm_listening || { kill "$server" 2>/dev/null; exit 1; }
timeout 120 rping -c -a "$ADDR" -C "$count" -S "$size" -V -v
client=$?
wait "$server"
status=$?
echo "rping: client exit $client, server exit $status"
[ "$client" -eq 0 ] && [ "$status" -eq 0 ]
