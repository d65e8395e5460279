# Guest helpers of the scenarios of boot "system" (tests/vm/scenarios_system.py prepends them to each
# tests/vm/scenarios/system_*.sh). Builds on /hp/lib.sh; runs under bash, systemd is PID 1.

# shellcheck disable=SC2034  # used by the scenario scripts
MEMBER=hpvmmember      # in group hpplace (the socket's group)
STRANGER=hpvmstranger  # in no group of the daemon's

# booted: systemd has finished starting the system (state running, or degraded: a unit failed).
booted() {
	case "$(systemctl is-system-running 2>/dev/null)" in
	running | degraded) return 0 ;;
	esac
	return 1
}

# as USER COMMAND...: COMMAND as USER with USER's groups (util-linux setpriv).
as() {
	as_user=$1
	shift
	setpriv --reuid="$as_user" --regid="$(id -g "$as_user")" --init-groups "$@"
}

# unit_report: what systemd says about the daemon, as outputs unit_status (systemctl status of its
# units), journal (its journal of this boot) and failed (units that failed); the host quotes them when
# a check fails.
unit_report() {
	systemctl status --no-pager -l hpplaced.socket hpplaced.service web.service > /tmp/unit_status 2>&1
	out unit_status /tmp/unit_status
	journalctl -b --no-pager -o short-monotonic -u hpplaced.service -u hpplaced.socket > /tmp/journal 2>&1
	out journal /tmp/journal
	systemctl list-units --failed --no-legend --plain > /tmp/failed 2>&1
	out failed /tmp/failed
}

# allowed NAME: web.service's AllowedCPUs= and AllowedMemoryNodes= (systemctl show), and the
# cpuset.cpus and cpuset.mems of its cgroup, as output NAME ("key value" lines).
allowed() {
	cgroup=/sys/fs/cgroup$(systemctl show -p ControlGroup --value web.service)
	{
		systemctl show -p AllowedCPUs -p AllowedMemoryNodes web.service | tr '=' ' '
		for file in cpuset.cpus cpuset.mems cpuset.cpus.effective; do
			echo "$file $(cat "$cgroup/$file" 2>&1)"
		done
	} > "/tmp/allowed.$1"
	out "$1" "/tmp/allowed.$1"
}

web_allowed_cpus() {
	systemctl show -p AllowedCPUs --value web.service
}
web_allowed_set() {
	[ -n "$(web_allowed_cpus)" ]
}
# web_allowed_changed FROM: AllowedCPUs are no longer FROM.
web_allowed_changed() {
	[ "$(web_allowed_cpus)" != "$1" ]
}

# fail MESSAGE: reports what systemd says (unit_report), then dies with MESSAGE.
fail() {
	unit_report
	die "$*"
}
