# Shared by the load scripts (source it): the tools they drive, a scratch
# folder and the processes started into it, both cleaned up on exit, and
# free loopback ports to run them on.

for bin in wrk redis-server redis-cli; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server >/dev/null
		break
	fi
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# free_port [FROM [SPAN]]: a port nothing listens on, from FROM (20000) up
# to FROM+SPAN (20000 more).
free_port() {
	local p from=${1:-20000} span=${2:-20000}
	while :; do
		p=$((from + RANDOM % span))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
wait_port() {
	for _ in $(seq 100); do
		(echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
		sleep 0.1
	done
	echo "nothing listens on port $1" >&2
	exit 1
}
