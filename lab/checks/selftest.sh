#!/bin/sh
# The lab's self-test: what docs/rdma-lab.md promises a test inside the guest, checked one by one.
# Run it with: npm run lab -- sh lab/checks/selftest.sh
set -u
dir=$(dirname "$0")
. "$dir/lib.sh"
passed=0
failed=0

check() {
  name=$1
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/     /'
  fi
}

check "ibv_devices lists $DEV" sh -c "ibv_devices | grep -qw $DEV"
check "$DEV port 1 is PORT_ACTIVE" sh -c "ibv_devinfo -d $DEV | grep -q PORT_ACTIVE"
check "$DEV is bound to dummy0" sh -c "rdma link show | grep -q 'netdev dummy0'"
check "dummy0 has $ADDR/24" sh -c "ip -4 addr show dev dummy0 | grep -q 'inet $ADDR/24'"
check "GID index 1 is ::ffff:$ADDR" sh -c "grep -qi '0000:0000:0000:0000:0000:ffff:0a4d:0001' /sys/class/infiniband/$DEV/ports/1/gids/1"
check "/dev/infiniband/uverbs0 and rdma_cm exist" test -c /dev/infiniband/uverbs0 -a -c /dev/infiniband/rdma_cm
check "the checkout is here, under a tmpfs overlay (writes stay in the guest)" sh -c "test -f package.json && findmnt -n -o FSTYPE / | grep -qx overlay"
check "\$RDMA_LAB_OUT is writable" sh -c "echo ok > \"\$RDMA_LAB_OUT/selftest.txt\""
check "/tmp is a writable tmpfs" sh -c "findmnt -n -o FSTYPE /tmp | grep -qx tmpfs && echo x > /tmp/lab-write-test"
check "node runs" node -e "process.exit(process.version.startsWith('v') ? 0 : 1)"
# Plain verbs (no rdma_cm): QP numbers go over TCP, the RoCE v2 GID is index 1.
pingpong() {
  timeout 60 ibv_rc_pingpong -d "$DEV" -g 1 -p 18600 -n 100 >/tmp/pingpong-server.log 2>&1 &
  server=$!
  wait_for "the ibv_rc_pingpong server" 60 tcp_listening 18600 || { kill "$server"; return 1; }
  timeout 60 ibv_rc_pingpong -d "$DEV" -g 1 -p 18600 -n 100 "$ADDR" && wait "$server"
}
check "ibv_rc_pingpong (verbs, GID 1)" pingpong
check "rping 100 x 4 KiB" sh "$dir/rping.sh" 100 4096
check "perftest loopback" sh "$dir/perftest.sh" 65536 100
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
