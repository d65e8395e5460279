# overrun: the only listener stops reading (SIGSTOP) with the smallest receive buffer while cpu1 is
# toggled 20 times (80 events): the kernel counts the events its full queue refused as send failures,
# not as "nobody listened"; resumed, the listener reports the loss (ENOBUFS) and resyncs.
hp_load || die "insmod hpnotify.ko failed"
watch_start watch --rcvbuf 1
kill -STOP "$WATCH_PID"
hpctl kernel-stats --json > /tmp/overrun.before 2>&1
i=0
while [ $i -lt 20 ]; do
	echo 0 > "$CPU_SYS/cpu1/online"
	echo 1 > "$CPU_SYS/cpu1/online"
	i=$((i + 1))
done
hpctl kernel-stats --json > /tmp/overrun.after 2>&1
out stats_before /tmp/overrun.before
out stats_after /tmp/overrun.after
kill -CONT "$WATCH_PID"
sleep 1
watch_stop
