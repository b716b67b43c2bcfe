#!/usr/bin/env bash
# Memory under a flood of distinct keys: runs the service with the
# environment given as arguments (NAME=value ...), drives it with wrk for
# DURATION, every request a new key with a 100-byte query string, and prints
# the throughput, the peak resident memory (VmHWM) and how many of 100 of
# the flood's keys, asked again, are hits. LIMIT_MIB runs the service in a child
# cgroup limited to that many MiB (cgroup v1 or v2; needs a writable memory
# controller) and reports whether the kernel killed it. REDIS=1 gives the
# service a private redis-server (so every request is a Redis miss and a
# near-cache fill).
#
#   bash bench/flood.sh CACHE_MEMORY_BYTES=67108864
#   LIMIT_MIB=160 bash bench/flood.sh
#   REDIS=1 bash bench/flood.sh
#   BIN=/tmp/other-build bash bench/flood.sh     # compare another build
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-60s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
LIMIT_MIB=${LIMIT_MIB:-}
REDIS=${REDIS:-}

for bin in wrk redis-server; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server >/dev/null
		break
	fi
done

tmp=$(mktemp -d)
service=
redis=
cg=
cleanup() {
	[ -n "$service" ] && kill "$service" 2>/dev/null && wait "$service" 2>/dev/null
	[ -n "$redis" ] && kill "$redis" 2>/dev/null && wait "$redis" 2>/dev/null
	[ -n "$cg" ] && rmdir "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

BIN=${BIN:-}
if [ -z "$BIN" ]; then
	echo "building..." >&2
	go build -o "$tmp/gqlcache" .
	BIN=$tmp/gqlcache
fi

port=$((20000 + RANDOM % 20000))
start=(env ADDR="127.0.0.1:$port" CACHE_TTL=1h MODE=production LOG_LEVEL=info "$@" "$BIN")
if [ -n "$REDIS" ]; then
	rport=$((port + 1))
	redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --logfile "$tmp/redis.log" &
	redis=$!
	start=(env REDIS_URL="redis://127.0.0.1:$rport/0" "${start[@]}")
	sleep 0.5
fi
if [ -n "$LIMIT_MIB" ]; then
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		cg=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)/gqlcache-flood-$$
		mkdir "$cg"
		echo $((LIMIT_MIB << 20)) >"$cg/memory.max"
		echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
	else
		cg=/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)/gqlcache-flood-$$
		mkdir "$cg"
		echo $((LIMIT_MIB << 20)) >"$cg/memory.limit_in_bytes"
	fi
	start=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "${start[@]}")
fi
"${start[@]}" >"$tmp/service.log" 2>&1 &
service=$!
for _ in $(seq 100); do
	(echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
head -1 "$tmp/service.log" >&2

cat >"$tmp/flood.lua" <<'LUA'
local threads, n = 0, 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/data?query=flood-%d-%087d", id, n))
end
LUA
out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$tmp/flood.lua" "http://127.0.0.1:$port/")
rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
if grep -q "Non-2xx\|Socket errors" <<<"$out"; then grep "Non-2xx\|Socket errors" <<<"$out" >&2; fi

if kill -0 "$service" 2>/dev/null; then
	hwm=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$service/status")
	# Still answering hits: the store holds some of the flood's keys (which
	# ones is W-TinyLFU's choice); ask for 100 spread over thread 1's.
	per=$(awk '/requests in/ { print int($1 / 2) }' <<<"$out")
	hits=0
	for k in $(seq 100); do
		q=$(printf 'flood-1-%087d' $((k * per / 100)))
		curl -fsS "http://127.0.0.1:$port/data?query=$q" | grep -q '"source":"cache"' && hits=$((hits + 1))
	done
	heap=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^go_memstats_heap_inuse_bytes/ { printf "%.1f", $2 / 1048576 }')
	echo "alive: ${rps} req/s, peak RSS ${hwm} MiB, heap in use now ${heap} MiB, hits among 100 of the flood's keys asked again: ${hits}"
else
	wait "$service" || true
	echo "DEAD: the service did not survive the flood (${rps} req/s while it lived)"
	tail -3 "$tmp/service.log" >&2
fi
if [ -n "$cg" ]; then
	if [ -f "$cg/memory.events" ]; then
		echo "cgroup ($LIMIT_MIB MiB): peak $(($(cat "$cg/memory.peak" 2>/dev/null || echo 0) >> 20)) MiB, $(grep oom_kill "$cg/memory.events")"
	else
		echo "cgroup ($LIMIT_MIB MiB): peak $(($(cat "$cg/memory.max_usage_in_bytes") >> 20)) MiB, $(grep oom_kill "$cg/memory.oom_control")"
	fi
fi
