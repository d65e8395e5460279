# daemon_unit_hotadd: hpplaced with a unit workload (unit = "work.service"), no cgroup, on a private
# dbus-daemon at the system bus's default address, with hpplace-fake-systemd1 standing in for systemd
# (no systemd runs in the guest). QMP hot-adds the vCPU of socket 2 (node 1); the daemon onlines it
# and sets the unit's AllowedCPUs again, now with cpu2. The host decodes what the fake received.
hp_load || die "insmod hpnotify.ko failed"
mkdir -p /run/dbus /etc/hpplaced
dbus-daemon --config-file=/hp/system-bus.conf \
	--nofork --nopidfile > /tmp/bus.log 2>&1 &
wait_until 20 test -S /run/dbus/system_bus_socket || die "dbus-daemon did not listen: $(cat /tmp/bus.log)"
mkfifo /tmp/fake.in
hpplace-fake-systemd1 --unit work.service < /tmp/fake.in > /tmp/fake.out 2>&1 &
exec 7> /tmp/fake.in  # held open: the fake reads its commands from it
wait_until 20 grep -q '"ready"' /tmp/fake.out || die "the fake systemd1 did not start: $(cat /tmp/fake.out)"
cat > /etc/hpplaced/hpplaced.conf <<-CONF
auto_online = "online"
[[workload]]
name = "work"
threads_per_cpu = 1
unit = "work.service"
CONF
# As daemon_up starts it (only CAP_NET_ADMIN), with this config; no DBUS_SYSTEM_BUS_ADDRESS: the default.
# shellcheck disable=SC2086
(umask 0027 && exec $DAEMON_SETPRIV hpplaced) >> "$DAEMON_LOG" 2>&1 &
echo $! > "$DAEMON_PID_FILE"
wait_until 30 daemon_started || die "hpplaced did not answer within 30 s: $(tail -5 "$DAEMON_LOG")"
# Conditions are functions: wait_until runs its arguments again each time, and "$(...)" in them would
# be expanded once, before the first try.
applied() { grep '"SetUnitProperties"' /tmp/fake.out | grep -c '"error":""'; }
applied_at_least() { [ "$(applied)" -ge "$1" ]; }
# AllowedCPUs as the bitmask's bytes: [7] is cpus 0-2.
applied_with_cpu2() { grep '"SetUnitProperties"' /tmp/fake.out | grep '"error":""' | grep -q '"AllowedCPUs":\[7\]'; }
wait_until 30 applied_at_least 1 || die "work.service was not set within 30 s: $(cat /tmp/fake.out); hpplaced: $(tail -8 "$DAEMON_LOG" | tr "\n" " ")"
plan plan_before
host hotadd_cpu socket=2 || die "vCPU hot-add refused"
wait_until 30 test -e "$CPU_SYS/cpu2/online" || die "cpu2 did not appear within 30 s"
wait_until 30 grep -q 1 "$CPU_SYS/cpu2/online" || die "cpu2 was not onlined by the daemon within 30 s"
wait_until 30 applied_with_cpu2 || die "work.service was not set with cpu2 within 30 s: $(cat /tmp/fake.out); hpplaced: $(tail -8 "$DAEMON_LOG" | tr "\n" " ")"
plan plan_after
out fake /tmp/fake.out
daemon_log
daemon_down
echo quit >&7
exec 7>&-
