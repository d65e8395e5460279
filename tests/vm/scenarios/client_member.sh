# client_member: a second hpplaced whose own socket belongs to group 61000 (socket_group = 61000). A
# member (uid 61001 with that group as a supplementary one, through util-linux setpriv) runs hpctl status
# and a libhpplace service that registers and receives cpu1's events (offline, then online again by hand);
# a stranger (uid 61002) is refused.
hp_load || die "insmod hpnotify.ko failed"
[ -x /hp/host/setpriv ] || die "no /hp/host/setpriv in the guest (vmlib.GUEST_HOST_TOOLS)"
MEMBER_SOCKET=/run/member.sock
MEMBER="/hp/host/setpriv --reuid=61001 --regid=61001 --groups=61000 --"
STRANGER="/hp/host/setpriv --reuid=61002 --regid=61002 --clear-groups --"
mkdir -p /etc/hpplaced
printf 'socket_group = 61000\nsocket_mode = 0o660\n' > /etc/hpplaced/member.conf
hpplaced --config /etc/hpplaced/member.conf --socket "$MEMBER_SOCKET" > /tmp/member-hpplaced.log 2>&1 &
member_daemon=$!
member_answers() {
	hpctl status --socket "$MEMBER_SOCKET" > /dev/null 2>&1
}
wait_until 30 member_answers || die "hpplaced did not answer on $MEMBER_SOCKET: $(tail -5 /tmp/member-hpplaced.log)"
run socket ls -ln "$MEMBER_SOCKET"
# shellcheck disable=SC2086
run member_status $MEMBER hpctl status --socket "$MEMBER_SOCKET"
# shellcheck disable=SC2086
run stranger_status $STRANGER hpctl status --socket "$MEMBER_SOCKET"
# shellcheck disable=SC2086
$MEMBER hpplace-example-service --socket "$MEMBER_SOCKET" --name member > /tmp/member-service.log 2>&1 &
member_service=$!
service_says() {
	grep -q "$1" /tmp/member-service.log
}
wait_until 30 service_says '^plan ' || die "the member's service got no plan: $(tail -5 /tmp/member-service.log)"
write offline 0 "$CPU_SYS/cpu1/online" || die "echo 0 > cpu1/online failed"
wait_until 30 service_says '^processor 1: offline' || echo "the member's service saw no cpu1 offline event"
write online 1 "$CPU_SYS/cpu1/online" || die "echo 1 > cpu1/online failed"
wait_until 30 service_says '^processor 1: add_complete' || echo "the member's service saw no cpu1 add_complete event"
kill -TERM "$member_service"
wait "$member_service"
kill -TERM "$member_daemon"
wait "$member_daemon"
out member_service /tmp/member-service.log
out member_hpplaced /tmp/member-hpplaced.log
