#!/bin/busybox sh
# Lab guest, stage 1: /init of the tiny initramfs (static busybox + the modules listed in
# /modules/order). It mounts the host's / (9p, read-only) under an overlay whose upper layer is a
# tmpfs, mounts the writable results share, and hands over to stage 2 (lab/init/stage2.sh, read
# from the host's root) with switch_root. Every step is announced on the serial console as
# "lab-step: NAME" so that the host can say where a failed boot stopped.
/bin/busybox mkdir -p /proc /sys /dev /lower /rw /newroot
/bin/busybox --install -s /bin
export PATH=/bin

STEP=start
step() { STEP=$1; echo "lab-step: $1"; }
fail() {
  echo "lab-fail: $STEP: $*"
  poweroff -f
  sleep 60
}

step stage1-mounts
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"

step stage1-modules
while read -r m; do
  insmod "/modules/$m" || fail "insmod $m"
done < /modules/order

step mount-hostroot
# cache=loose: the host's files are read a lot (node, node_modules) and do not change during a run.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 overlay-rw /rw || fail "mount tmpfs for the overlay"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"

step mount-io
# The results share: no cache, so that every write reaches the host at once (it streams them).
mkdir -p /newroot/lab-io
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labio /newroot/lab-io || fail "mount 9p labio"
[ -r /newroot/lab-io/job.env ] || fail "no job.env in the results share"
. /newroot/lab-io/job.env
[ -r "/newroot$LAB_STAGE2" ] || fail "stage 2 script $LAB_STAGE2 not found in the host's root"

step switch-root
# Stage 2 mounts proc, sys and dev afresh (moving these mounts does not work with busybox).
umount /dev /sys /proc
exec switch_root /newroot /bin/sh "$LAB_STAGE2"
