#!/usr/bin/env bash
# Reliability runs: what a misbehaving Redis costs a request. The service
# (built from the tree, its defaults, CACHE_TTL=2s) serves GET /data over 500
# keys under `wrk -t2 -c16` while its private redis-server
#   healthy: answers as usual (the baseline),
#   pause:   stops answering for 3 s mid-run (CLIENT PAUSE 3000 ALL), or
#   slow:    answers every command 500 ms late, for the whole run, through a
#            delaying TCP proxy (bench/delayproxy).
# Each run prints requests, p50, p99 and max latency (ms) as wrk saw them,
# failures (socket errors and non-2xx answers), and from the service's own
# histogram (its handling time, without the machine's queueing in front of
# it) the requests over 73 ms and over 219 ms (bucket bounds). Results go in
# RELIABILITY.md.
#
#   make stall                     # ROUNDS=3 DURATION=10s CONNS=16 THREADS=2
#   COMPARE_BIN=/path/to/gqlcache bench/stall.sh   # and another build, run for run
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SCENARIOS=${SCENARIOS:-healthy pause slow}

# shellcheck source=bench/lib.sh
. bench/lib.sh
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "building..." >&2
go build -o "$tmp/gqlcache" .
builds=gqlcache
if [ -n "${COMPARE_BIN:-}" ]; then
	cp "$COMPARE_BIN" "$tmp/compared"
	builds="gqlcache compared"
fi
go build -o "$tmp/delayproxy" ./bench/delayproxy

cat >"$tmp/keys.lua" <<'LUA'
request = function()
  return wrk.format("GET", "/data?query=key-" .. math.random(500))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.2f %.2f %.2f %d\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end
LUA

# run BUILD SCENARIO ROUND: one run against a fresh redis-server and service.
run() {
	local build=$1 scenario=$2 round=$3 rp sp redis url proxy="" service fault="" out svc
	rp=$(free_port)
	redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --logfile "$tmp/redis.log" &
	redis=$!
	wait_port "$rp"
	url="redis://127.0.0.1:$rp/0"
	if [ "$scenario" = slow ]; then
		pp=$(free_port)
		"$tmp/delayproxy" -addr "127.0.0.1:$pp" -upstream "127.0.0.1:$rp" -delay 500ms &
		proxy=$!
		wait_port "$pp"
		url="redis://127.0.0.1:$pp/0"
	fi
	sp=$(free_port)
	ADDR="127.0.0.1:$sp" REDIS_URL="$url" CACHE_TTL=2s MODE=production LOG_LEVEL=warn \
		"$tmp/$build" >>"$tmp/service.log" 2>&1 &
	service=$!
	wait_port "$sp"
	if [ "$scenario" = pause ]; then
		(sleep 3 && redis-cli -p "$rp" CLIENT PAUSE 3000 ALL >/dev/null) &
		fault=$!
	fi
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$tmp/keys.lua" "http://127.0.0.1:$sp")
	[ -n "$fault" ] && wait "$fault"
	svc=$(curl -fsS "http://127.0.0.1:$sp/metrics" | awk '
		/^gqlcache_http_request_duration_seconds_bucket\{.*route="data"/ {
			split($0, a, "le=\""); split(a[2], b, "\""); le = b[1]
			if (le == "+Inf") all += $NF
			else if (le > 0.0728 && le < 0.0730) in73 += $NF
			else if (le > 0.2186 && le < 0.2188) in219 += $NF
		}
		END { printf "%d %d", all - in73, all - in219 }')
	stop "$service"
	[ -n "$proxy" ] && stop "$proxy"
	stop "$redis"
	awk -v b="$build" -v s="$scenario" -v r="$round" -v svc="$svc" '$1 == "RESULT" { print b, s, r, $2, $3, $4, $5, $6, svc }' <<<"$out" | tee -a "$tmp/results" >&2
}

for r in $(seq "$ROUNDS"); do
	for s in $SCENARIOS; do
		for b in $builds; do
			run "$b" "$s" "$r"
		done
	done
done

echo "| run | requests | p50 ms | p99 ms | max ms | failed | service > 73 ms | service > 219 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk '{ printf "| %s %s %s | %d | %.2f | %.2f | %.0f | %d | %d | %d |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$tmp/results"
echo
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)"
