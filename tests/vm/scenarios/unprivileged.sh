# unprivileged: as an unprivileged user, `hpctl kernel-state --json` (the state request) fails with a
# one-line EPERM error.
hp_load || die "insmod hpnotify.ko failed"
as_user() {
	su -s /bin/sh user -c "PATH=$PATH; $*"
}
run whoami as_user whoami
run state as_user hpctl kernel-state --json
