#!/usr/bin/env bash
# Rolling restart behind a real load balancer: does a deploy lose requests?
# HAProxy (Debian's haproxy) balances two replicas of the service that share
# one Redis. It takes a replica out only when its GET /readyz fails (checked
# every 1 s, out after 2 failures, back after 2 successes) and never retries
# or redispatches a request, as Kubernetes' Service routing does not.
# vegeta sends a constant RATE for DURATION of GET /data over 500 keys while
# each replica in turn gets SIGTERM and is started again once it has exited,
# RESTARTS in all, spread evenly over the run from 1 s in, each only once the
# replica restarted before it is back in rotation. It prints requests,
# failures and status codes as the client saw them. Figures go in
# docs/operations.md.
#
#   make rolling                  # ROUNDS=1 RATE=400 DURATION=24 (s) RESTARTS=3
#   GQLCACHE_BIN=/path/to/gqlcache bench/rolling.sh   # another build
#
# The replicas run with the build's defaults (SHUTDOWN_DELAY included) under
# their own CACHE_KEY_PREFIX on REDIS_URL (default redis://127.0.0.1:6379/0,
# else a redis-server started for the run).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-1}
RATE=${RATE:-400}
DURATION=${DURATION:-24} # seconds
RESTARTS=${RESTARTS:-3}
VEGETA=github.com/tsenart/vegeta/v12@v12.13.0

# shellcheck source=bench/lib.sh
. bench/lib.sh
for bin in haproxy jq bc curl; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy jq bc curl >/dev/null
		break
	fi
done

echo "building..." >&2
if [ -n "${GQLCACHE_BIN:-}" ]; then
	cp "$GQLCACHE_BIN" "$tmp/gqlcache"
else
	go build -o "$tmp/gqlcache" .
fi
GOBIN="$tmp" go install "$VEGETA"

redis_url=${REDIS_URL:-redis://127.0.0.1:6379/0}
if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
	rp=$(free_port)
	redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --logfile "$tmp/redis.log" &
	pids+=($!)
	wait_port "$rp"
	redis_url="redis://127.0.0.1:$rp/0"
fi

# Replicas listen below the ephemeral range: one starts again on its port
# mid-run, while the load opens connections from ephemeral ports, one of
# which could otherwise have taken it.
listen_port() { free_port 10000 10000; }

# replica N PORT ROUND: start replica N, recording its pid in rpid[N].
declare -A rpid
replica() {
	ADDR="127.0.0.1:$2" REDIS_URL="$redis_url" CACHE_KEY_PREFIX="rolling-$$-$3" LOG_LEVEL=warn \
		"$tmp/gqlcache" >>"$tmp/r$1.log" 2>&1 &
	rpid[$1]=$!
	pids+=($!)
}

# backend_up N: whether replica N is ready and HAProxy has it in rotation,
# with no failed check since.
backend_up() {
	curl -fsS -o /dev/null "http://127.0.0.1:${ports[$1]}/readyz" 2>/dev/null &&
		curl -fsS "http://127.0.0.1:$stats/stats;csv" | awk -F, -v s="r$1" '$1 == "be" && $2 == s { print $18 }' | grep -qx UP
}

wait_up() {
	for _ in $(seq 200); do
		backend_up "$1" && return
		sleep 0.1
	done
	echo "replica $1 did not come back into rotation; its log:" >&2
	cat "$tmp/r$1.log" >&2
	exit 1
}

round() {
	local n=$1 lb stats p1 p2 i target start
	lb=$(listen_port); stats=$(listen_port); p1=$(listen_port); p2=$(listen_port)
	local -a ports=("" "$p1" "$p2")
	cat >"$tmp/haproxy.cfg" <<CFG
global
	maxconn 4096
defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	retries 0
frontend fe
	bind 127.0.0.1:$lb
	default_backend be
frontend stats
	bind 127.0.0.1:$stats
	stats enable
	stats uri /stats
backend be
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 1s fall 2 rise 2
	server r1 127.0.0.1:$p1 check
	server r2 127.0.0.1:$p2 check
CFG
	replica 1 "$p1" "$n"
	replica 2 "$p2" "$n"
	wait_port "$p1"
	wait_port "$p2"
	haproxy -q -f "$tmp/haproxy.cfg" &
	local hap=$!
	pids+=($hap)
	wait_port "$stats"
	wait_up 1
	wait_up 2

	seq 500 | sed "s|.*|GET http://127.0.0.1:$lb/data?query=key-&|" | shuf >"$tmp/targets"
	"$tmp/vegeta" attack -targets="$tmp/targets" -rate="$RATE/s" -duration="${DURATION}s" >"$tmp/results.bin" &
	local load=$!
	start=$(date +%s.%N)
	for ((i = 0; i < RESTARTS; i++)); do
		target=$((i % 2 + 1))
		sleep "$(echo "$start + 1 + $i * $DURATION / $RESTARTS - $(date +%s.%N)" | bc -l | sed 's/^-.*/0/')"
		echo "  $(date +%T.%3N) SIGTERM to replica $target" >&2
		kill -TERM "${rpid[$target]}"
		wait "${rpid[$target]}" || true
		echo "  $(date +%T.%3N) replica $target exited; starting it again" >&2
		replica "$target" "${ports[$target]}" "$n"
		wait_up "$target"
		echo "  $(date +%T.%3N) replica $target back in rotation" >&2
	done
	wait "$load"
	"$tmp/vegeta" report -type=json <"$tmp/results.bin" >"$tmp/report.json"
	jq -r --arg n "$n" '"round \($n): \(.requests) requests, \(.requests - (.status_codes["200"] // 0)) failed, status codes \(.status_codes | tojson), rate \(.rate | floor)/s"' "$tmp/report.json"
	jq -r '.errors[]? | "  error: \(.)"' "$tmp/report.json" | sort | uniq -c | head -5
	kill "$hap" "${rpid[1]}" "${rpid[2]}" 2>/dev/null || true
	wait "$hap" "${rpid[1]}" "${rpid[2]}" 2>/dev/null || true
}

for ((r = 1; r <= ROUNDS; r++)); do
	round "$r"
done
