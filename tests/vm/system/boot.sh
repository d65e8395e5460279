#!/bin/bash
# ExecStart of hpvm-check.service in boot "system" (tests/vm/scenarios_system.py), the guest/init.sh of a
# guest whose PID 1 is systemd: user space on ttyS1, the heartbeat, /hp/scenario.sh, @@EXIT, power off.
stty -F /dev/ttyS1 raw -echo
exec </dev/null >/dev/ttyS1 2>&1
echo "@@BOOTED $(uname -r) nproc=$(nproc) uptime=$(cut -d' ' -f1 /proc/uptime)"
(while :; do echo "hpvm: alive $(cut -d' ' -f1 /proc/uptime)" > /dev/kmsg; sleep 5; done) &
bash /hp/scenario.sh
rc=$?
sync
echo "@@EXIT $rc"
sleep 0.3
systemctl poweroff --force --force
