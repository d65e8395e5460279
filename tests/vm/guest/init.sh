#!/bin/busybox sh
# /init of the VM test initramfs (tests/vm/vmlib.py): mounts the usual file systems, moves user space
# to ttyS1 (the host's guest channel; ttyS0 keeps the kernel console), runs /hp/scenario.sh, reports
# its exit status with the @@EXIT marker and powers off.
/bin/busybox --install -s
export PATH=/hp/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root PYTHONPATH=/hp/python
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
stty -F /dev/ttyS1 raw -echo
exec </dev/null >/dev/ttyS1 2>&1
echo "@@BOOTED $(uname -r) nproc=$(nproc)"
# Heartbeat on the kernel log (line-atomic, unlike ttyS1): the host tells a guest whose user space
# still runs (a slow or failing wait) from one that stalled.
(while :; do echo "hpvm: alive $(cut -d' ' -f1 /proc/uptime)" > /dev/kmsg; sleep 5; done) &
echo $! > /tmp/heartbeat.pid
sh /hp/scenario.sh
rc=$?
sync
echo "@@EXIT $rc"
sleep 0.3
poweroff -f
while :; do sleep 60; done
