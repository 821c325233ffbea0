#!/bin/sh
# Lab guest, stage 2: PID 1 after switch_root, run by the host's own /bin/sh from the read-only
# host root (with a tmpfs overlay). It mounts the kernel file systems, binds the unpacked Debian
# kernel's modules, brings up soft-RoCE (rxe0 on dummy0, 10.77.0.1/24), runs the command from
# /lab-io/cmd.sh with a time limit and leaves its stdout, stderr and exit code in /lab-io, where
# the host reads them. Progress goes to the serial console as "lab-step: NAME"; a failure writes
# /lab-io/failed. Whatever happens, the guest powers off (a PID 1 that exits panics the kernel,
# and panic=-1 with qemu's -no-reboot also ends the run).
IO=/lab-io
. $IO/job.env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

STEP=stage2
step() {
  STEP=$1
  echo "lab-step: $1"
}
finish() {
  sync
  /bin/busybox poweroff -f
  sleep 60
}
fail() {
  echo "lab-fail: $STEP: $*"
  {
    echo "$STEP: $*"
    echo '--- last kernel messages:'
    dmesg 2>/dev/null | tail -n 15
  } > $IO/failed
  finish
}

step mounts
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount /dev/shm"
mount -t tmpfs -o mode=0755 tmpfs /run || fail "mount /run"
hostname rdma-lab 2>/dev/null

step kernel-modules
# Before /tmp is replaced below: the module cache may live there (LAB_CACHE_DIR).
kver=$(uname -r)
mkdir -p "/lib/modules/$kver" || fail "mkdir /lib/modules/$kver"
mount --bind "$LAB_MODULES" "/lib/modules/$kver" || fail "bind $LAB_MODULES"

step scratch
# A fresh, empty /tmp: the guest's scratch space. A checkout that lives under the host's /tmp
# (a CI clone, say) stays visible at its own path through a bind from the host's /tmp.
mkdir -p /run/lab/host-tmp && mount --bind /tmp /run/lab/host-tmp || fail "bind the host's /tmp"
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "mount /tmp"
case "$LAB_CWD/" in
  /tmp/*)
    rel=${LAB_CWD#/tmp/}
    mkdir -p "/tmp/$rel" && mount --bind "/run/lab/host-tmp/$rel" "/tmp/$rel" || fail "bind the checkout $LAB_CWD"
    ;;
esac

step rdma-modules
for m in ib_uverbs rdma_ucm rdma_rxe; do
  modprobe "$m" || fail "modprobe $m"
done
modprobe dummy numdummies=0 || fail "modprobe dummy"

step network
# rxe on lo is accepted, but rdma_cm cannot resolve a route to 127.0.0.1 (ENODEV): use a dummy device.
ip link set lo up || fail "ip link set lo up"
ip link add dummy0 type dummy || fail "ip link add dummy0"
ip addr add "$LAB_ADDR" dev dummy0 || fail "ip addr add $LAB_ADDR"
ip link set dummy0 up || fail "ip link set dummy0 up"

step rxe
rdma link add rxe0 type rxe netdev dummy0 || fail "rdma link add rxe0"
state=/sys/class/infiniband/rxe0/ports/1/state
waited=0
until grep -q ACTIVE "$state" 2>/dev/null; do
  [ "$waited" -ge "$LAB_READY_TIMEOUT" ] && fail "rxe0 port 1 not ACTIVE after ${waited} s: $(cat $state 2>&1)"
  sleep 1
  waited=$((waited + 1))
done
echo "lab-ready: rxe0 ACTIVE"

step run
cd "$LAB_CWD" || fail "cd $LAB_CWD"
# A clean environment (cmd.sh sets it); the whole process group is killed at the time limit.
env -i /usr/bin/timeout --kill-after=10 "$LAB_TIMEOUT" /bin/sh $IO/cmd.sh > $IO/stdout 2> $IO/stderr < /dev/null
rc=$?
echo "$rc" > $IO/rc.tmp && mv $IO/rc.tmp $IO/rc
echo "lab-step: done ($rc)"
finish
