# unprivileged_watch: as an unprivileged user, `hpctl watch --json` (joining the events group) fails with
# a one-line EPERM error.
hp_load || die "insmod hpnotify.ko failed"
as_user() {
	su -s /bin/sh user -c "PATH=$PATH; $*"
}
run whoami as_user whoami
run watch as_user timeout 10 hpctl watch --json
