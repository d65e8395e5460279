# system_daemon: Debian 12 with systemd as PID 1 and the packages installed with dpkg. The socket and the
# service the packages enabled have started at boot; the daemon runs as user hpplaced with the unit's
# capabilities; root and a member of group hpplace get an answer from hpctl status, a stranger does not;
# systemctl reload (ExecReload=, under the unit's sandbox) reloads the config.
wait_until 120 booted || echo "the system did not finish booting within 120 s: $(systemctl is-system-running)"
run system_state systemctl is-system-running
run analyze systemd-analyze
systemd-analyze blame 2>&1 | head -8 > /tmp/blame
out blame /tmp/blame
# What systemd's unit parser said about the packages' units (unknown keys, bad values) at boot.
journalctl -b --no-pager -o cat | grep -E 'hpplaced\.(service|socket):' > /tmp/unit_warnings
out unit_warnings /tmp/unit_warnings
run active systemctl is-active hpplaced.socket hpplaced.service
run enabled systemctl is-enabled hpplaced.socket hpplaced.service
pid=$(systemctl show -p MainPID --value hpplaced.service)
grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Umask):' "/proc/$pid/status" > /tmp/privileges
out daemon_privileges /tmp/privileges
out_lines ids "$(id -u hpplaced) $(id -g hpplaced)"
run socket stat -c '%U %G %a %F' /run/hpplaced.sock
run modules grep '^hpnotify ' /proc/modules
run status_root hpctl status --json
run status_member as "$MEMBER" hpctl status --json
run member_groups as "$MEMBER" id -Gn
run status_stranger as "$STRANGER" hpctl status --json
reloaded() { journalctl -b --no-pager -o cat -u hpplaced.service | grep -q 'config reloaded'; }
run reload systemctl reload hpplaced.service
wait_until 30 reloaded || echo "hpplaced did not log a reload within 30 s"
run active_after_reload systemctl is-active hpplaced.service
unit_report
