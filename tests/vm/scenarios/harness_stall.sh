# harness_stall: user space goes silent (heartbeat stopped, no output): the host must report a stall,
# not a timeout, and take the sysrq dumps. The host's check expects this boot to end that way.
kill -STOP "$(cat /tmp/heartbeat.pid)"
sleep 600
